"""Several requests to one host at once, from the calling thread: all sent, then each answer read.

A user in 1,000 tenants costs ten ``/customers`` requests on every picker. Run in a
thread pool, they cost about four times the CPU (the SDK's layers, urllib3's pool, and
the threads' hand-offs of the GIL) that they cost sent one after another on kept-alive
connections of their own and then read in turn (``make bench``: "ten /customers
batches"; docs/performance.md). On kept connections
the buyer waits the same single round trip: every request is on the wire before the
first answer is read. Connections that must be opened first (the first picker, or one
needing more than are kept) are opened at once, in the client's threads (``parallel``):
opened one after another, each would add its TCP and TLS handshakes to the wait.

urllib3's own connection classes do the connecting and TLS (certificates verified, as the
SDK's pool does); h11 writes each request and parses each answer (http.client's parser,
under urllib3, spends more CPU on an answer's headers than h11 on the whole exchange). This
module only keeps idle connections, checked before reuse as urllib3's pool checks them, and
retries as the SaaSus client's pool does: a connection that could not be made, once;
nothing that may have reached SaaSus.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

__all__ = ["Answer", "FanOut", "Request"]

logger = logging.getLogger(__name__)

# Bytes asked of the socket at once: a 1,000-tenant userinfo answer is ~500 KB.
_READ_SIZE = 65536
# Past the round's deadline, answers already in the socket's buffer are still read, for this long.
_GRACE = 0.05

# Runs the callables at once and returns what each returned (they return their errors).
Parallel = Callable[[Sequence[Callable[[], Any]]], list[Any]]


class Request(NamedTuple):
    method: str
    path: str  # with its query: what goes on the request line
    headers: Mapping[str, str]
    body: bytes | None = None


class Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]  # names in lower case
    data: bytes


class FanOut:
    """Requests to the origin of ``base_url`` over connections kept alive between calls; thread-safe.

    Each round may take ``timeout`` to connect what it must, and ``timeout`` more for
    its answers: what one call through urllib3's pool could take.
    """

    def __init__(self, base_url: str, *, timeout: float, keep: int, parallel: Parallel) -> None:
        import h11  # noqa: PLC0415 - loaded with the SaaSus client, not at import
        import urllib3.connection  # noqa: PLC0415
        import urllib3.exceptions  # noqa: PLC0415

        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        https = parts.scheme == "https"
        self._connection_class = urllib3.connection.HTTPSConnection if https else urllib3.connection.HTTPConnection
        self._options: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"} if https else {}
        # What a failed connect, send or read raises; anything else is a bug and propagates.
        self._failures = (OSError, urllib3.exceptions.HTTPError, h11.RemoteProtocolError)
        self._connect_failure = urllib3.exceptions.ConnectTimeoutError  # NewConnectionError too
        self._host, self._port = parts.hostname, parts.port
        # As http.client writes it: the port only when it is not the scheme's own.
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        default_port = 443 if https else 80
        self._host_header = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
        self._h11 = h11
        self._timeout, self._keep, self._parallel = timeout, keep, parallel
        self._idle: list[Any] = []
        self._closed = False
        self._lock = threading.Lock()
        # As urllib3's pools do: a client dropped without close() leaves no socket open.
        weakref.finalize(self, _close_all, self._idle)

    def ask(self, requests: Sequence[Request]) -> list[Answer | Exception]:
        """Each request asked at once: its Answer, or the exception that ended it."""
        connections = self._connections(len(requests))
        try:
            pairs = list(zip(connections, requests, strict=True))
            sent = [(c if isinstance(c, Exception) else self._send(c, r), r) for c, r in pairs]
            deadline = time.monotonic() + self._timeout
            return [c if isinstance(c, Exception) else self._read(c, r, deadline) for c, r in sent]
        except BaseException:
            # A bug of ours ended the round: none of its connections is left half-read, nor open.
            _close_all([c for c in connections if not isinstance(c, Exception)])
            raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = self._idle[:]
            self._idle.clear()
        _close_all(idle)

    def _connections(self, count: int) -> list[Any]:
        """``count`` connected connections, kept ones first; the others opened at once, or their errors."""
        kept: list[Any] = []
        while len(kept) < count and (connection := self._checkout()) is not None:
            kept.append(connection)
        if len(kept) == count:
            return kept
        deadline = time.monotonic() + self._timeout
        opening = [lambda: self._open(deadline) for _ in range(count - len(kept))]
        return [*kept, *(self._parallel(opening) if len(opening) > 1 else [opening[0]()])]

    def _open(self, deadline: float) -> Any:
        """A new, connected connection, or the error; a connection that could not be made is tried once more."""
        for attempt in (1, 2):
            connection = self._connection_class(self._host, self._port, **self._options)
            connection.timeout = max(deadline - time.monotonic(), 0.001)  # TCP, then TLS
            try:
                connection.connect()
                return connection
            except self._failures as exc:
                connection.close()
                if attempt == 2 or not isinstance(exc, self._connect_failure) or time.monotonic() >= deadline:
                    return exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, connection: Any, request: Request) -> Any:
        """The connection and its exchange, once the request is written; or the exception that stopped it."""
        h11 = self._h11
        exchange = h11.Connection(h11.CLIENT)  # one per request: a connection is reused only after a clean one
        # Host first, and Accept-Encoding unless the request names one, as http.client writes them.
        headers = [("Host", self._host_header), *request.headers.items()]
        if not any(name.lower() == "accept-encoding" for name in request.headers):
            headers.insert(1, ("Accept-Encoding", "identity"))  # the answer is read as it comes
        if request.body is not None:
            headers.append(("Content-Length", str(len(request.body))))
        try:
            data = exchange.send(h11.Request(method=request.method, target=request.path, headers=headers))
            if request.body:
                data += exchange.send(h11.Data(data=request.body))
            data += exchange.send(h11.EndOfMessage())
        except (h11.LocalProtocolError, UnicodeEncodeError) as exc:
            # A request HTTP cannot carry (CR or LF in a header, a host outside ASCII in the base URL):
            # nothing was sent, so the connection stays good.
            self._checkin(connection)
            return exc
        try:
            connection.sock.settimeout(self._timeout)  # what connect or the last read left there
            connection.sock.sendall(data)
        except self._failures as exc:
            connection.close()
            return exc
        return connection, exchange

    def _read(self, sent: tuple[Any, Any], request: Request, deadline: float) -> Answer | Exception:
        connection, exchange = sent
        try:
            answer = self._answer(connection.sock, exchange, deadline)
        except self._failures as exc:
            connection.close()
            return exc
        if logger.isEnabledFor(logging.DEBUG):  # the query carries tokens: the path only
            logger.debug("%s %s: %s", request.method, request.path.partition("?")[0], answer.status)
        h11 = self._h11
        # Kept only after a clean exchange that leaves it open (no "Connection: close", no stray bytes).
        if exchange.our_state is h11.DONE and exchange.their_state is h11.DONE and not exchange.trailing_data[0]:
            self._checkin(connection)
        else:
            connection.close()
        return answer

    def _answer(self, sock: Any, exchange: Any, deadline: float) -> Answer:
        h11 = self._h11
        status, headers, body = 0, {}, []
        while True:
            event = exchange.next_event()
            if event is h11.NEED_DATA:
                left = deadline - time.monotonic()
                if left < -_GRACE:  # an answer that keeps coming, slowly: the timeout bounds it too
                    raise TimeoutError("no whole answer within the timeout")
                sock.settimeout(max(left, 0.001))
                exchange.receive_data(sock.recv(_READ_SIZE))  # b"" when closed: h11 says if that was early
            elif type(event) is h11.Response:
                status = event.status_code
                headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers}
            elif type(event) is h11.Data:
                body.append(event.data)
            elif type(event) is h11.EndOfMessage:
                return Answer(status, headers, b"".join(body))
            elif type(event) is not h11.InformationalResponse:  # a 1xx before the answer: read on
                # Closed (never again an event but this one), or PAUSED after a 101: no answer comes.
                raise h11.RemoteProtocolError(f"no answer, but {event!r}")

    def _checkout(self) -> Any:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None or connection.is_connected:  # not closed by the server while idle
                return connection
            connection.close()

    def _checkin(self, connection: Any) -> None:
        with self._lock:
            if not self._closed and connection.sock is not None and len(self._idle) < self._keep:
                self._idle.append(connection)
                return
        connection.close()


def _close_all(connections: list[Any]) -> None:
    while connections:
        connections.pop().close()
