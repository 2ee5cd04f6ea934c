"""What the wrapped app sees and gives back is what it would without the middleware.

Two ways that was not so: ASGI3 endpoint classes (starlette's ``HTTPEndpoint``
and ``WebSocketEndpoint``: built with scope, receive and send, then awaited) were
called as ASGI2 apps, and the app's return value never reached the server.
``make test-peers`` runs starlette's, Flask's and uvicorn's own suites wrapped.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
import pytest
import urllib3
from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient
from starlette.websockets import WebSocket
from werkzeug.test import EnvironBuilder

from saasus_mw import MarketplaceMiddleware, MarketplaceWSGIMiddleware
from saasus_mw.testing import SaaSusStandIn, User

from .conftest import asgi_host, make_settings, wsgi_host
from .servers import free_port, server_env, serving

# -- the apps (module level: the real server imports them by name) ---------------------------


class Hello(HTTPEndpoint):
    async def get(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"hello from {request.url.path}")


class Echo(WebSocketEndpoint):
    encoding = "text"

    async def on_receive(self, websocket: WebSocket, data: Any) -> None:
        await websocket.send_text(f"echo {data}")


RETURNED = "a value the ASGI spec says an app must not return"


async def returns_a_value(scope: dict[str, Any], receive: Any, send: Any) -> str:
    """Breaks the spec on purpose: the server, not the middleware, is the one to notice."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
    return RETURNED


# -- endpoint classes ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/items", "/callback", "/callback?code=ordinary-login"])
def test_an_http_endpoint_class_is_served_wrapped(standin: SaaSusStandIn, path: str) -> None:
    # Not `with TestClient(...)`: an endpoint class takes no lifespan scope.
    response = TestClient(MarketplaceMiddleware(Hello, settings=make_settings(standin))).get(path)
    assert response.status_code == 200
    assert response.text == f"hello from {path.partition('?')[0]}"


def test_a_websocket_endpoint_class_is_served_wrapped(standin: SaaSusStandIn) -> None:
    client = TestClient(MarketplaceMiddleware(Echo, settings=make_settings(standin)))
    with client.websocket_connect("/callback") as websocket:
        websocket.send_text("hi")
        assert websocket.receive_text() == "echo hi"


@pytest.fixture
def entry_server(standin: SaaSusStandIn, request: pytest.FixtureRequest) -> Iterator[tuple[str, Any]]:
    """uvicorn serving ``saasus_mw.entry:asgi_app`` for the app named by the test's parameter."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "saasus_mw.entry:asgi_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    env = server_env(standin, SAASUS_MW_APP=f"{__name__}:{request.param}")
    with serving(command, env, port) as log:
        yield f"http://127.0.0.1:{port}", log


@pytest.mark.parametrize("entry_server", ["Hello"], indirect=True)
def test_the_entry_point_serves_an_endpoint_class_under_uvicorn(entry_server: tuple[str, Any]) -> None:
    # Before, SAASUS_MW_APP naming such a class was a ConfigError, though uvicorn serves it.
    url, _ = entry_server
    response = httpx.get(f"{url}/items")
    assert response.status_code == 200
    assert response.text == "hello from /items"


# -- the app's return value ------------------------------------------------------------------

SCOPES = [
    pytest.param({"type": "http", "path": "/items"}, id="http-elsewhere"),
    pytest.param({"type": "http", "path": "/callback", "query_string": b"code=ordinary-login"}, id="http-callback"),
    pytest.param({"type": "http", "path": "/shop/callback", "root_path": "/other"}, id="http-callback-in-path"),
    pytest.param({"type": "websocket", "path": "/callback"}, id="websocket"),
    pytest.param({"type": "lifespan"}, id="lifespan"),
]


@pytest.mark.parametrize("enabled", [True, False], ids=["enabled", "disabled"])
@pytest.mark.parametrize("scope", SCOPES)
def test_the_apps_return_value_reaches_the_server(standin: SaaSusStandIn, scope: dict[str, Any], enabled: bool) -> None:
    app = MarketplaceMiddleware(returns_a_value, settings=make_settings(standin, enabled=enabled))
    scope = {"method": "GET", "query_string": b"", "headers": [], "root_path": "", **scope}
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("nothing here reads the body")

    async def send(message: Any) -> None:
        sent.append(message)

    assert anyio.run(app, scope, receive, send) == RETURNED
    assert len(sent) == {"http": 2, "websocket": 1, "lifespan": 0}[scope["type"]]


@pytest.mark.parametrize("entry_server", ["returns_a_value"], indirect=True)
def test_uvicorn_sees_what_the_wrapped_app_returned(entry_server: tuple[str, Any]) -> None:
    # uvicorn logs the broken app and closes its connection; before, the middleware hid it.
    url, log = entry_server
    assert httpx.get(f"{url}/items").text == "ok"
    log.seek(0)
    assert f"ASGI callable should return None, but returned '{RETURNED}'" in log.read().decode()


# -- dropped, freed --------------------------------------------------------------------------


def _arrive(app: Any, query: str) -> int:
    """The journey's first step (two SaaSus calls at once), the app called directly; its status."""
    # No test client: one could itself keep the app alive.
    if isinstance(app, MarketplaceWSGIMiddleware):
        statuses: list[str] = []
        environ = EnvironBuilder(path="/callback", query_string=query).get_environ()
        b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
        return int(statuses[0].split()[0])
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/callback", "root_path": "", "scheme": "https"}
    anyio.run(app, {**scope, "query_string": query.encode(), "headers": [(b"host", b"shop.example")]}, receive, send)
    return int(sent[0]["status"])


@pytest.mark.parametrize("wrap", [MarketplaceMiddleware, MarketplaceWSGIMiddleware], ids=["asgi", "wsgi"])
def test_a_dropped_middleware_is_freed_at_once_with_its_saasus_pool(
    standin: SaaSusStandIn, buyer: User, wrap: Any
) -> None:
    # Flask's own test_app_freed_on_zero_refcount asks the same of Flask: no reference cycle, so
    # dropping the app frees it (and its pooled SaaSus connections) without the garbage collector.
    query = urlencode({"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()})
    gc.collect()
    gc.disable()
    try:
        before = {id(o) for o in gc.get_objects() if isinstance(o, urllib3.PoolManager)}
        app = wrap(asgi_host if wrap is MarketplaceMiddleware else wsgi_host, settings=make_settings(standin))
        assert _arrive(app, query) == 303  # SaaSus was called: a connection waits in the pool
        pools = [o for o in gc.get_objects() if isinstance(o, urllib3.PoolManager) and id(o) not in before]
        assert pools, "the middleware's SaaSus pool"
        refs = [weakref.ref(app), *map(weakref.ref, pools)]
        del app, pools
        assert [ref() for ref in refs] == [None] * len(refs)
    finally:
        gc.enable()
