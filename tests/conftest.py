"""Fixtures: the SaaSus stand-in on loopback, tiny host apps, and one client per adapter.

Every journey test takes ``client`` and so runs against both adapters.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from wsgiref.validate import validator

import httpx
import pytest
from starlette.testclient import TestClient
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from saasus_mw import MarketplaceMiddleware, MarketplaceWSGIMiddleware, Settings
from saasus_mw.testing import SaaSusStandIn, Tenant, User

SAAS_ID, API_KEY, SECRET = "saas-test", "key-test", "secret-test-0123456789"


@pytest.fixture(scope="session")
def standin() -> Iterator[SaaSusStandIn]:
    with SaaSusStandIn(saas_id=SAAS_ID, api_key=API_KEY, secret_key=SECRET) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_standin(standin: SaaSusStandIn) -> Iterator[None]:
    standin.reset()
    yield
    standin.clear_faults()


@pytest.fixture
def opened_connections(standin: SaaSusStandIn, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every TCP connection the stand-in accepts during the test, as it accepts it."""
    server: Any = standin._server
    accepted: list[object] = []
    track = server.track

    def counting(conn: object, *, opened: bool) -> None:
        if opened:
            accepted.append(conn)
        track(conn, opened=opened)

    monkeypatch.setattr(server, "track", counting)
    return accepted


def make_settings(standin: SaaSusStandIn, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "saasus_saas_id": SAAS_ID,
        "saasus_api_key": API_KEY,
        "saasus_secret_key": SECRET,
        "saasus_base_url": standin.base_url,
        "success_url": "/welcome",
        "timeout": 2,
    }
    values.update(overrides)
    return Settings.load(environ={}, **values)


# -- host apps: they echo what reached them, so tests can see "untouched" --------


async def asgi_host(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": f"host:{scope['path']}"})
        await send({"type": "websocket.close"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    echo = {
        "host": "asgi",
        "method": scope["method"],
        "path": scope["path"],
        "root_path": scope.get("root_path", ""),
        "query": scope["query_string"].decode("latin-1"),
        "body": body.decode("latin-1"),
        "headers": {k.decode(): v.decode("latin-1") for k, v in scope["headers"]},
    }
    payload = json.dumps(echo).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"x-host", b"1")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def wsgi_host(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    length = environ.get("CONTENT_LENGTH") or "0"
    body = environ["wsgi.input"].read(int(length)) if length.isdigit() and int(length) else b""
    echo = {
        "host": "wsgi",
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "root_path": environ.get("SCRIPT_NAME", ""),
        "query": environ.get("QUERY_STRING", ""),
        "body": body.decode("latin-1"),
        "headers": {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")},
    }
    start_response("200 OK", [("Content-Type", "application/json"), ("X-Host", "1")])
    return [json.dumps(echo).encode()]


@dataclass
class Adapter:
    """One of the two adapters, as the test table sees it."""

    name: str
    wrap: Callable[..., Any]  # wrap(settings, **hooks): the host app wrapped by this adapter's middleware
    open: Callable[..., httpx.Client]  # an httpx client around an app: open(app, root_path="")

    def connect(self, settings: Settings, root_path: str = "") -> httpx.Client:
        return self.open(self.wrap(settings), root_path)


def _asgi_open(app: Any, root_path: str = "") -> httpx.Client:
    return TestClient(app, base_url="https://testserver", root_path=root_path, follow_redirects=False)


def _wsgi_open(app: Any, root_path: str = "") -> httpx.Client:
    # PEP 3333 conformance checked on every request the table sends.
    app = validator(app)
    if root_path:  # mounted as werkzeug mounts apps: SCRIPT_NAME=/prefix, PATH_INFO=rest
        app = DispatcherMiddleware(NotFound(), {root_path: app})
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://testserver", follow_redirects=False)


ADAPTERS = {
    "asgi": Adapter("asgi", lambda s, **hooks: MarketplaceMiddleware(asgi_host, settings=s, **hooks), _asgi_open),
    "wsgi": Adapter("wsgi", lambda s, **hooks: MarketplaceWSGIMiddleware(wsgi_host, settings=s, **hooks), _wsgi_open),
}


@pytest.fixture(params=["asgi", "wsgi"])
def adapter(request: pytest.FixtureRequest) -> Adapter:
    return ADAPTERS[request.param]


@pytest.fixture
def client(adapter: Adapter, standin: SaaSusStandIn) -> Iterator[httpx.Client]:
    with adapter.connect(make_settings(standin)) as http:
        yield http


@pytest.fixture
def buyer(standin: SaaSusStandIn) -> User:
    return standin.add_user(
        email=f"buyer-{uuid.uuid4().hex[:8]}@example.com",
        tenants=[Tenant(name="Globex"), Tenant(name="Acme <b>&</b>"), Tenant(name="株式会社サンプル")],
    )


# -- reading our pages ------------------------------------------------------------


class _Form(HTMLParser):
    """The picker as a browser sees it: hidden inputs and the tenant radio buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, str] = {}
        self.options: list[tuple[str, str]] = []  # (tenant id, name), in page order
        self.disabled: dict[str, str] = {}  # tenant id -> reason shown
        self.selected: str | None = None
        self._labels: dict[str, str] = {}  # input id -> tenant id
        self._label: str | None = None
        self._reason: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("type") == "radio":
            value = a.get("value") or ""
            self._labels[a.get("id") or ""] = value
            if "checked" in a:
                self.selected = value
            if "disabled" in a:
                self.disabled[value] = ""
        elif tag == "input" and a.get("name"):
            self.inputs[str(a["name"])] = a.get("value") or ""
        elif tag == "label" and a.get("for") in self._labels:
            self._label = self._labels[str(a["for"])]
        elif tag == "span" and a.get("class") == "reason":
            self._reason = self.options[-1][0]

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.options.append((self._label, data.strip()))
            self._label = None
        elif self._reason is not None:
            self.disabled[self._reason] = data
            self._reason = None


def parse_picker(html: str) -> _Form:
    form = _Form()
    form.feed(html)
    return form


def begin(client: httpx.Client, standin: SaaSusStandIn, user: User, path: str = "/callback") -> tuple[str, str]:
    """Arrive from the SaaSus login; returns (registration token, picker URL)."""
    token = standin.issue_registration_token()
    response = client.get(path, params={"code": standin.issue_code(user), "registration_token": token})
    assert response.status_code == 303, response.text
    return token, response.headers["location"]


def pick(client: httpx.Client, picker_url: str, tenant_id: str, **extra: str) -> httpx.Response:
    page = client.get(picker_url)
    assert page.status_code == 200, page.text
    form = parse_picker(page.text)
    data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": tenant_id, **extra}
    return client.post(picker_url, data=data)


def post_together(clients: list[httpx.Client], url: str, data: dict[str, str]) -> list[httpx.Response]:
    """The same form posted by each client at once (a double click, two tabs, two workers)."""
    results: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda c=c: results.append(c.post(url, data=data))) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def error_code(response: httpx.Response) -> str:
    match = re.search(r'data-error="([a-z_]+)"', response.text)
    assert match, response.text
    return match.group(1)
