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
SDK's pool does). Each answer is parsed by httptools (llhttp, the parser of Node.js and of
uvicorn): http.client's parser, under urllib3, spends more CPU on an answer's headers, and h11's
event machinery more on each exchange (~0.1 ms, twelve times per picker), than llhttp on the
whole answer. A request is one line and a few headers of values we made, refused whole unless
every one is a token or printable ASCII (no CR, LF or NUL can reach the wire) and its framing
(Host, Content-Length) is left to this module. This module
only keeps idle connections, checked before reuse as urllib3's pool checks them, and
retries as the SaaSus client's pool does: a connection that could not be made, once;
nothing that may have reached SaaSus.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

__all__ = ["Answer", "BrokenAnswer", "FanOut", "Request"]

logger = logging.getLogger(__name__)

# Bytes asked of the socket at once: a 1,000-tenant userinfo answer is ~500 KB.
_READ_SIZE = 65536
# Past the round's deadline, answers already in the socket's buffer are still read, for this long.
_GRACE = 0.05

# RFC 9110's token: a method or a header's name.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# The visible ASCII characters (a request target's, whose other characters are percent-encoded).
_VISIBLE = bytes(range(0x21, 0x7F))
# Headers _written writes itself, from the host and the body: one given as well would be a second,
# conflicting one (two Hosts, two lengths; a Transfer-Encoding beside a Content-Length smuggles).
_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})

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


class BrokenAnswer(Exception):
    """What came back is no HTTP answer, or ended before the answer did: SaaSus is unreachable."""


class FanOut:
    """Requests to the origin of ``base_url`` over connections kept alive between calls; thread-safe.

    Each round may take ``timeout`` to connect what it must, and ``timeout`` more for
    its answers: what one call through urllib3's pool could take.
    """

    def __init__(self, base_url: str, *, timeout: float, keep: int, parallel: Parallel) -> None:
        import httptools  # noqa: PLC0415 - loaded with the SaaSus client, not at import
        import urllib3.connection  # noqa: PLC0415
        import urllib3.exceptions  # noqa: PLC0415

        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        https = parts.scheme == "https"
        self._connection_class = urllib3.connection.HTTPSConnection if https else urllib3.connection.HTTPConnection
        self._options: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"} if https else {}
        # What a failed connect, send or read raises; anything else is a bug and propagates.
        self._failures = (OSError, urllib3.exceptions.HTTPError, BrokenAnswer)
        self._connect_failure = urllib3.exceptions.ConnectTimeoutError  # NewConnectionError too
        self._host, self._port = parts.hostname, parts.port
        # As http.client writes it: the port only when it is not the scheme's own.
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        if not (host.isascii() and host.isprintable()):  # urlsplit keeps what HTTP cannot carry
            raise ValueError(f"not a host HTTP can name: {parts.hostname!r}")
        default_port = 443 if https else 80
        self._host_header = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
        self._httptools = httptools
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
        """The connection, once the request is written; or the exception that stopped it."""
        try:
            data = _written(request, self._host_header)
        except ValueError as exc:  # UnicodeEncodeError too
            # A request HTTP cannot carry (CR or LF in a header, a header written here):
            # nothing was sent, so the connection stays good.
            self._checkin(connection)
            return exc
        try:
            sock = connection.sock
            if sock.gettimeout() != self._timeout:  # what connect or the last read left there
                sock.settimeout(self._timeout)  # (a system call each time: only when it changes)
            sock.sendall(data)
        except self._failures as exc:
            connection.close()
            return exc
        return connection

    def _read(self, connection: Any, request: Request, deadline: float) -> Answer | Exception:
        reader = _Reader(self._httptools)
        try:
            answer = reader.read(connection.sock, deadline)
        except self._failures as exc:
            connection.close()
            return exc
        if logger.isEnabledFor(logging.DEBUG):  # the query carries tokens: the path only
            logger.debug("%s %s: %s", request.method, request.path.partition("?")[0], answer.status)
        if reader.reusable:
            self._checkin(connection)
        else:
            connection.close()
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
            if not self._closed and connection.sock is not None and len(self._idle) < self._keep:
                self._idle.append(connection)
                return
        connection.close()


def _close_all(connections: list[Any]) -> None:
    while connections:
        connections.pop().close()


def _written(request: Request, host: str) -> bytes:
    """The request as it goes on the wire, as http.client writes it: Host first, Accept-Encoding
    unless the request names one, Content-Length with a body. ValueError (or UnicodeEncodeError,
    outside ASCII) for anything HTTP cannot carry as it is, and for a header it writes itself."""
    method, target, headers, body = request
    # A /customers target is ~5 KB: checked as bytes, which is a fraction of str.isprintable's time.
    if not _TOKEN.fullmatch(method) or not target.isascii() or target.encode().translate(None, _VISIBLE):
        raise ValueError("a method or target HTTP cannot carry")
    if not target.startswith("/"):  # origin-form, the only form sent to an origin (RFC 9112, 3.2.1)
        raise ValueError("a target that is no path")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    names = [name.lower() for name in headers]
    if "accept-encoding" not in names:
        lines.append("Accept-Encoding: identity")  # the answer is read as it comes
    if not _FRAMING.isdisjoint(names):
        raise ValueError("a Host, Content-Length or Transfer-Encoding header: written here, from the request")
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or not value.isprintable():  # no CR, LF, NUL: one header stays one
            raise ValueError(f"a {name!r} header HTTP cannot carry")
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return head + body if body else head


class _Reader:
    """One answer, as httptools (llhttp) parses it from the socket: its callbacks collect it."""

    __slots__ = ("_body", "_done", "_head", "_headers", "_keep_alive", "_parser", "_status", "_stray", "_upgrade")

    def __init__(self, httptools: Any) -> None:
        self._status = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        # _head: the answer's head is read; header fields after it are a chunked body's
        # trailers, which never replace the head's (h11 dropped them too).
        self._done = self._stray = self._upgrade = self._keep_alive = self._head = False
        self._parser = httptools.HttpResponseParser(self)

    @property
    def reusable(self) -> bool:
        """Only after a clean answer that leaves the connection open: no "Connection: close", no stray bytes."""
        return self._done and self._keep_alive and not self._stray

    def read(self, sock: Any, deadline: float) -> Answer:
        parser = self._parser
        while not self._done:
            left = deadline - time.monotonic()
            if left < -_GRACE:  # an answer that keeps coming, slowly: the timeout bounds it too
                raise TimeoutError("no whole answer within the timeout")
            # Each recv may wait until the deadline, give or take the grace: the timeout is
            # set again (a system call) only when what is set would overshoot by more.
            if sock.gettimeout() > left + _GRACE:
                sock.settimeout(max(left, 0.001))
            data = sock.recv(_READ_SIZE)
            if not data:
                self._closed()
                break
            try:
                parser.feed_data(data)
            except Exception as exc:  # httptools's errors, an upgrade among them
                if not self._done or self._upgrade:
                    raise BrokenAnswer(f"no answer: {exc!r}") from None
                self._stray = True  # the answer, then bytes that are none: the connection is not kept
            if self._upgrade:  # a 101: the connection became another protocol, and no answer comes
                raise BrokenAnswer("no answer: 101 Switching Protocols")
        return Answer(self._status, self._headers, b"".join(self._body))

    def _closed(self) -> None:
        # An answer without Content-Length or chunks ends when the connection does (RFC 9112, 6.3).
        if not self._status or "content-length" in self._headers or "transfer-encoding" in self._headers:
            raise BrokenAnswer("closed before the answer ended")
        self._done = self._stray = True  # read whole, and the connection is gone

    # httptools's callbacks

    def on_message_begin(self) -> None:
        self._stray = self._done  # a second answer to one request

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._head:
            self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if not self._done:
            self._status, self._head = self._parser.get_status_code(), True

    def on_body(self, body: bytes) -> None:
        if not self._done:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._done:
            return
        if self._status == 101:
            self._upgrade = True
        elif 100 <= self._status < 200:  # a 1xx before the answer (100 Continue): read on
            self._status, self._headers, self._body, self._head = 0, {}, [], False
        else:
            self._done = True
            self._keep_alive = self._parser.should_keep_alive()  # llhttp knows it until the next message
