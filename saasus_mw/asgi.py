"""ASGI adapter: translates scope/receive/send to the core and back. Pure ASGI."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.to_thread

from .middleware import Middleware

if TYPE_CHECKING:  # the ASGI types as the ecosystem shares them; annotations only, nothing imported at run time
    from asgiref.typing import ASGI3Application, ASGIApplication, HTTPScope, Scope
    from asgiref.typing import ASGIReceiveCallable as Receive
    from asgiref.typing import ASGISendCallable as Send

    from .pages import Response

__all__ = ["MarketplaceMiddleware"]


def is_double_callable(app: object) -> bool:
    """Whether ``app`` is an ASGI2 ("double callable") app, told apart the way servers do.

    A class with ``__await__`` is ASGI3 (starlette's ``HTTPEndpoint`` and
    ``WebSocketEndpoint``: built with scope, receive and send, then awaited), as
    uvicorn and starlette's TestClient have it; asgiref takes every class for
    ASGI2. Everything else as asgiref tells it (its hints, coroutine functions,
    ``__call__``): where uvicorn's auto-detection guesses otherwise (a bound
    async method, a ``functools.partial``), its ASGI2 guess fails and ASGI3 is right.
    """
    # Imported here: it loads asyncio (~60 ms), which a WSGI-only host never needs.
    from asgiref.compatibility import is_double_callable as asgiref_says  # noqa: PLC0415

    if inspect.isclass(app) and hasattr(app, "__await__"):
        return False
    return bool(asgiref_says(app))  # type: ignore[no-untyped-call]


# The request headers the core reads; the rest are never looked at.
_HEADERS = frozenset(
    {
        "cookie",
        "content-type",
        "content-length",
        "host",
        "origin",
        "sec-fetch-site",
        "accept-language",
        "accept-encoding",
    }
)


class MarketplaceMiddleware(Middleware["ASGI3Application"]):
    """Wrap an ASGI app: ``app = MarketplaceMiddleware(app)``; an ASGI2 ("double callable") app too.

    Settings come from the environment (and the TOML file named by
    ``SAASUS_MW_CONFIG``); keyword arguments override them, or pass a ready
    ``settings=Settings.load(...)``. Only requests on the callback path that
    carry a marketplace registration (or the picker's own step) are answered
    here; everything else, websockets and lifespan included, goes to ``app``
    untouched.

    SaaSus calls are blocking (the SDK uses urllib3), so they run in worker
    threads behind this middleware's own capacity limiter (``max_threads``):
    a slow SaaSus neither blocks the event loop nor starves the host app's
    own thread pool.
    """

    def __init__(self, app: ASGIApplication, **options: Any) -> None:
        from asgiref.compatibility import double_to_single_callable  # noqa: PLC0415 - see is_double_callable

        # Once, here, and not per request: an ASGI3 app is kept as it is,
        # an ASGI2 one wrapped so it is called as scope, receive, send.
        if is_double_callable(app):
            app = double_to_single_callable(app)  # type: ignore[no-untyped-call]
        super().__init__(cast("ASGI3Application", app), **options)

    @functools.cached_property
    def _limiter(self) -> anyio.CapacityLimiter:
        # Made on the first intercepted request: no cost for apps that never see one.
        return anyio.CapacityLimiter(self.settings.max_threads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The hot path, for every request: the type (lifespan scopes have no path)
        # and one substring test. It stays this small because a coroutine's frame
        # is allocated on every call: the exact checks live in _intercept.
        # The app's return value goes back to the server as it came: one that
        # breaks the spec by returning something is the server's to notice.
        if scope["type"] == "http" and self._path in scope["path"]:
            return await self._intercept(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _intercept(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        """An http request whose path contains the callback path: ours, or passed on."""
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):  # servers that include the mount in path
            path = path[len(root_path) :]
        flow = self._flow
        if flow is None or path != self._path:
            return await self.app(scope, receive, send)
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            name = key.decode("latin-1").lower()
            if name in _HEADERS:
                # HTTP/2 may split Cookie into several fields.
                text = value.decode("latin-1")
                headers[name] = f"{headers[name]}; {text}" if name in headers else text
        request = flow.request(
            scope["method"],
            root_path,
            scope["query_string"].decode("latin-1"),
            scope.get("scheme", "http"),
            headers.get,
        )
        step = flow.step(request)
        if step is None:
            return await self.app(scope, receive, send)
        if flow.wants_body(step):
            body = await _read_body(receive, headers.get("content-length"), flow.max_body)
            if body is None:
                await _send(send, flow.too_large(request))
                return
            request = dataclasses.replace(request, body=body)
        waited = 0.0
        while True:
            response = await anyio.to_thread.run_sync(flow.handle, step, request, waited, limiter=self._limiter)
            if not response.wait:
                break
            # Another request is completing this purchase: wait here, on the event
            # loop, holding no worker thread, and look again.
            await anyio.sleep(response.wait)
            waited += response.wait
        await _send(send, response)


async def _read_body(receive: Receive, content_length: str | None, limit: int) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (the rest is never read)."""
    # isascii: "²".isdigit() is True, but int("²") raises.
    # At most 10 digits: int() of a 5,000-digit number raises (Python's digit limit).
    if content_length is not None and (
        not (content_length.isascii() and content_length.isdigit())
        or len(content_length) > 10
        or int(content_length) > limit
    ):
        return None
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            return body
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return body


async def _send(send: Send, response: Response) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": response.status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
            "trailers": False,
        }
    )
    await send({"type": "http.response.body", "body": response.body, "more_body": False})
