"""Several requests to one host at once, from the calling thread: all sent, then each answer read.

A user in 1,000 tenants costs ten ``/customers`` requests on every picker. Run in a
thread pool, each cost ~0.8 ms of CPU (the SDK's layers, urllib3's pool, and the
threads' hand-offs of the GIL); sent one after another on kept-alive connections of
their own and then read in turn, ~0.2 ms (docs/performance.md). The buyer waits the
same single round trip: every request is on the wire before the first answer is read.

urllib3's own connection classes do the connecting, TLS (certificates verified, as the
SDK's pool does) and response parsing; this module only keeps idle connections, checked
before reuse as urllib3's pool checks them, and retries as the SaaSus client's pool does:
a connection that could not be made, once; nothing that may have reached SaaSus.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

__all__ = ["Answer", "FanOut", "Request"]


class Request(NamedTuple):
    method: str
    path: str  # with its query: what goes on the request line
    headers: Mapping[str, str]
    body: bytes | None = None


class Answer(NamedTuple):
    status: int
    headers: Mapping[str, str]
    data: bytes


class FanOut:
    """Requests to the origin of ``base_url`` over connections kept alive between calls; thread-safe."""

    def __init__(self, base_url: str, *, timeout: float, keep: int) -> None:
        import urllib3.connection  # noqa: PLC0415 - loaded with the SaaSus client, not at import

        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        https = parts.scheme == "https"
        self._connection_class = urllib3.connection.HTTPSConnection if https else urllib3.connection.HTTPConnection
        self._options: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"} if https else {}
        self._host, self._port = parts.hostname, parts.port
        self._timeout, self._keep = timeout, keep
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        # As urllib3's pools do: a client dropped without close() leaves no socket open.
        weakref.finalize(self, _close_all, self._idle)

    def ask(self, requests: Sequence[Request]) -> list[Answer | Exception]:
        """Each request asked at once: its Answer, or the exception that ended it.

        Each request has the client's timeout from the moment all are sent; one whose
        connection could not be made is tried once more.
        """
        sent = [self._send(request) for request in requests]
        deadline = time.monotonic() + self._timeout
        return [request if isinstance(request, Exception) else self._read(request, deadline) for request in sent]

    def close(self) -> None:
        with self._lock:
            idle = self._idle[:]
            self._idle.clear()
        _close_all(idle)

    def _send(self, request: Request) -> Any:
        """The connection the request was written on, or the exception that stopped it."""
        import urllib3.exceptions  # noqa: PLC0415 - loaded in __init__

        connection = self._checkout()
        for attempt in (1, 2):
            if connection is None:
                connection = self._connection_class(self._host, self._port, timeout=self._timeout, **self._options)
            connection.timeout = self._timeout
            try:
                connection.request(request.method, request.path, body=request.body, headers=dict(request.headers))
                return connection
            except Exception as exc:  # returned, classified by the caller
                connection.close()
                connection = None
                # urllib3's Retry(connect=1): a connection that could not be made carried nothing.
                if attempt == 2 or not isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
                    return exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, connection: Any, deadline: float) -> Answer | Exception:
        connection.timeout = max(deadline - time.monotonic(), 0.001)  # getresponse sets it on the socket
        try:
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.data)
        except Exception as exc:  # returned, classified by the caller
            connection.close()
            return exc
        self._checkin(connection)  # urllib3 closed it if the server asked to
        return answer

    def _checkout(self) -> Any:
        while True:
            with self._lock:
                connection = self._idle.pop() if self._idle else None
            if connection is None or connection.is_connected:  # not closed by the server while idle
                return connection
            connection.close()

    def _checkin(self, connection: Any) -> None:
        with self._lock:
            if connection.sock is not None and len(self._idle) < self._keep:
                self._idle.append(connection)
                return
        connection.close()


def _close_all(connections: list[Any]) -> None:
    while connections:
        connections.pop().close()
