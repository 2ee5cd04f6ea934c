"""The stand-in's HTTP server: real sockets on loopback, keep-alive, faults applied around each call."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs

from .faults import Fault, Faults
from .model import Answer, Call, Headers, error

logger = logging.getLogger("saasus_mw.testing")

# (method, path) -> endpoint name; paths are what SAASUS_BASE_URL (".../v1") is joined with.
ROUTES = {
    ("GET", "/v1/auth/credentials"): "credentials",
    ("POST", "/v1/auth/credentials"): "create_credentials",
    ("POST", "/v1/auth/aws-marketplace/sign-up-confirm"): "sign_up",
    ("GET", "/v1/auth/userinfo"): "userinfo",
    ("PATCH", "/v1/auth/aws-marketplace/link"): "link",
    ("POST", "/v1/awsmarketplace/registration-token/verify"): "verify",
    ("GET", "/v1/awsmarketplace/customers"): "customers",
    ("GET", "/v1/auth/auth-info"): "auth_info",
    ("GET", "/v1/pricing/plans"): "plans",
    ("GET", "/v1/auth/sign-in-settings"): "sign_in_settings",
    ("GET", "/v1/awsmarketplace/settings"): "marketplace_settings",
    ("GET", "/v1/awsmarketplace/listing-status"): "listing_status",
    ("GET", "/v1/awsmarketplace/catalog-entity/visibility"): "visibility",
    ("GET", "/login"): "login",
    ("POST", "/_standin/reset"): "standin_reset",
}


class Service(Protocol):
    """What the server asks of the stand-in for each call."""

    faults: Faults
    clock_offset: float  # seconds the stand-in's clock is ahead: its Date header follows it

    def record(self, call: Call) -> None: ...

    def dispatch(self, call: Call) -> Answer: ...


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], standin: Service) -> None:
        self.standin = standin
        self.connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, conn: socket.socket, *, opened: bool) -> None:
        with self._lock:
            (self.connections.add if opened else self.connections.discard)(conn)

    def close_connections(self) -> None:
        with self._lock:
            conns, self.connections = self.connections, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (e.g. after a timeout on a delayed answer) are expected here.
        logger.debug("error while serving %s", client_address, exc_info=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK add ~40 ms to every small answer.
    disable_nagle_algorithm = True
    server: Server
    timeout = 60  # idle keep-alive connections go away eventually

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, opened=True)

    def finish(self) -> None:
        self.server.track(self.connection, opened=False)
        super().finish()

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header, from the stand-in's own (possibly offset) clock.
        now = time.time() if timestamp is None else timestamp
        return super().date_time_string(now + self.server.standin.clock_offset)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        standin = self.server.standin
        if "transfer-encoding" in (k.lower() for k in self.headers):
            self.close_connection = True
            self._send(None, error(411, "invalid_request", "send a Content-Length"))
            return
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self.close_connection = True
            self._send(None, error(400, "invalid_request", "bad Content-Length"))
            return
        path, _, raw_query = self.path.partition("?")
        call = Call(
            endpoint=ROUTES.get((self.command, path), "other"),
            method=self.command,
            path=path,
            raw_query=raw_query,
            query=parse_qs(raw_query, keep_blank_values=True),
            headers=Headers((k.lower(), v) for k, v in self.headers.items()),
            body=body,
        )
        standin.record(call)
        fault = standin.faults.take(call.endpoint)
        if fault is not None and not fault.after:
            time.sleep(fault.delay)
            if fault.drop:
                self._drop()
                return
            if fault.status is not None:  # the real handler never runs: nothing is consumed
                self._send(call, _fault_answer(fault))
                return
        answer = standin.dispatch(call)
        if fault is not None and fault.after:  # SaaSus acted, but the answer is late or lost
            time.sleep(fault.delay)
            if fault.drop:
                self._drop()
                return
            if fault.status is not None:
                answer = _fault_answer(fault)
        self._send(call, answer)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, call: Call | None, answer: Answer) -> None:
        if call is not None:
            call.status, call.response_body = answer.status, answer.body
        self.send_response(answer.status)
        if answer.body:
            self.send_header("Content-Type", answer.content_type)
        if answer.location is not None:
            self.send_header("Location", answer.location)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)


def _fault_answer(fault: Fault) -> Answer:
    status = fault.status or 500  # inject() guarantees a status on this path
    if fault.body is None:
        return error(status, "injected_fault", f"injected HTTP {status}")
    try:
        json.loads(fault.body)
        return Answer(status, fault.body)
    except ValueError:
        return Answer(status, fault.body, "text/plain; charset=utf-8")
