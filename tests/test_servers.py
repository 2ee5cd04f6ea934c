"""The journey under real servers: uvicorn (ASGI) and gunicorn with several workers (WSGI).

Everything is real: the example apps in examples/, the server processes, HTTP
on loopback, the SDK, and the signature-checking stand-in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, User

from .conftest import begin, pick
from .servers import SERVERS, running


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, standin: SaaSusStandIn) -> Iterator[str]:
    with running(request.param, standin) as url:
        yield url


@pytest.fixture
def uvicorn_server(standin: SaaSusStandIn) -> Iterator[str]:
    with running("uvicorn", standin) as url:
        yield url


def test_journey_under_a_real_server(server: str, standin: SaaSusStandIn, buyer: User) -> None:
    # Several journeys, so with gunicorn's workers the callback and the POST
    # land on different processes: the state must be honoured by any of them.
    for tenant in buyer.tenants:
        with httpx.Client(base_url=server, timeout=10) as client:
            token, picker_url = begin(client, standin, buyer)
            done = pick(client, picker_url, tenant.id)
            assert done.status_code == 303 and done.headers["location"] == "/welcome"
            assert "purchase is linked" in client.get("/welcome").text
        assert standin.links[-1] == (tenant.id, buyer.id, token)


def test_ordinary_login_reaches_the_host(
    request: pytest.FixtureRequest, server: str, standin: SaaSusStandIn, buyer: User
) -> None:
    response = httpx.get(server + "/callback", params={"code": standin.issue_code(buyer)}, follow_redirects=True)
    if request.node.callspec.params["server"] == "uvicorn":  # the Starlette example signs the user in
        assert response.status_code == 200 and f"Signed in as <strong>{buyer.email}</strong>" in response.text
        # The middleware let it through: only the product's own sign-in asked SaaSus.
        assert [c.endpoint for c in standin.calls] == ["credentials", "userinfo"]
    else:  # the werkzeug example echoes the code
        assert response.status_code == 200 and "Signed in with code" in response.text
        assert standin.calls == []


def test_a_slow_saasus_does_not_block_the_event_loop(uvicorn_server: str, standin: SaaSusStandIn, buyer: User) -> None:
    server = uvicorn_server
    standin.inject("credentials", delay=3.0)
    params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
    journey = threading.Thread(target=httpx.get, args=(server + "/callback",), kwargs={"params": params, "timeout": 10})
    journey.start()
    while not any(c.endpoint == "credentials" for c in standin.calls):
        time.sleep(0.01)
    # SaaSus is now holding a worker thread for three seconds; the app must still answer.
    for _ in range(5):
        assert httpx.get(server + "/", timeout=10).status_code == 200
    assert journey.is_alive()
    journey.join()


def test_chunked_oversized_body_is_refused(server: str, standin: SaaSusStandIn, buyer: User) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        _, picker_url = begin(client, standin, buyer)
        chunks = (b"a" * 1024 for _ in range(256))  # chunked: no Content-Length
        headers = {"content-type": "application/x-www-form-urlencoded"}
        response = client.post(picker_url, content=chunks, headers=headers)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("name", "options", "env", "path"),
    [
        # A proxy that strips /shop before passing on, and tells uvicorn the mount point.
        pytest.param("uvicorn", ("--root-path", "/shop"), {}, "/callback", id="uvicorn-root-path"),
        # A proxy that passes /shop on; gunicorn takes SCRIPT_NAME from the environment.
        pytest.param("gunicorn", (), {"SCRIPT_NAME": "/shop"}, "/shop/callback", id="gunicorn-script-name"),
    ],
)
def test_behind_a_proxy_under_a_path_prefix(
    standin: SaaSusStandIn, buyer: User, name: str, options: tuple[str, ...], env: dict[str, str], path: str
) -> None:
    with running(name, standin, *options, **env) as url, httpx.Client(base_url=url, timeout=10) as client:
        token = standin.issue_registration_token()
        start = client.get(path, params={"code": standin.issue_code(buyer), "registration_token": token})
        # Redirects, cookie paths and the success URL keep the prefix the browser sees.
        assert start.headers["location"].startswith("/shop/callback?saasus_mw=select&purchase=")
        assert all("Path=/shop/callback;" in c for c in start.headers.get_list("set-cookie"))
        picker_path = (
            start.headers["location"].removeprefix("/shop") if path == "/callback" else start.headers["location"]
        )
        # The client stands in for browser + proxy: the browser sends the cookies
        # scoped to /shop/callback, the proxy forwards them to the stripped path.
        client.cookies = httpx.Cookies(dict(client.cookies.items()))
        done = pick(client, picker_path, buyer.tenants[0].id)
        assert done.headers["location"] == "/shop/welcome"
    assert standin.links[-1] == (buyer.tenants[0].id, buyer.id, token)
