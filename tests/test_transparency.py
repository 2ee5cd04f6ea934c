"""What the wrapped app sees and gives back is what it would without the middleware.

Two ways that was not so: ASGI3 endpoint classes (starlette's ``HTTPEndpoint``
and ``WebSocketEndpoint``: built with scope, receive and send, then awaited) were
called as ASGI2 apps, and the app's return value never reached the server.
``make test-peers`` runs starlette's, Flask's and uvicorn's own suites wrapped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.testclient import TestClient
from starlette.websockets import WebSocket

from saasus_mw import MarketplaceMiddleware
from saasus_mw.testing import SaaSusStandIn

from .conftest import make_settings
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
