"""The journey under real servers: uvicorn (ASGI) and gunicorn with several workers (WSGI).

Everything is real: the example apps in examples/, the server processes, HTTP
on loopback, the SDK, and the signature-checking stand-in.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, User

from .conftest import API_KEY, SAAS_ID, SECRET, begin, pick

ROOT = Path(__file__).resolve().parent.parent

SERVERS = {
    "uvicorn": [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.starlette_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ],
    "gunicorn": [
        sys.executable,
        "-m",
        "gunicorn",
        "examples.wsgi_app:app",
        "--bind",
        "127.0.0.1:{port}",
        "--workers",
        "3",
        "--threads",
        "2",
    ],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=sorted(SERVERS))
def server(request: pytest.FixtureRequest, standin: SaaSusStandIn) -> Iterator[str]:
    with running(request.param, standin) as url:
        yield url


@pytest.fixture
def uvicorn_server(standin: SaaSusStandIn) -> Iterator[str]:
    with running("uvicorn", standin) as url:
        yield url


@contextlib.contextmanager
def running(name: str, standin: SaaSusStandIn) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "SAASUS_SAAS_ID": SAAS_ID,
        "SAASUS_API_KEY": API_KEY,
        "SAASUS_SECRET_KEY": SECRET,
        "SAASUS_BASE_URL": standin.base_url,
        "SAASUS_MW_COOKIE_SECURE": "false",  # plain http on loopback
        "SAASUS_MW_SUCCESS_URL": "/welcome",
        "SAASUS_MW_TIMEOUT": "5",
    }
    command = [part.format(port=port) for part in SERVERS[name]]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below; a pipe nobody reads could fill up and stall the server
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(log.read().decode(errors="replace")) from None
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


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


def test_ordinary_login_reaches_the_host(server: str, standin: SaaSusStandIn, buyer: User) -> None:
    response = httpx.get(server + "/callback", params={"code": standin.issue_code(buyer)})
    assert response.status_code == 200 and "Signed in with code" in response.text
    assert standin.calls == []


def test_a_slow_saasus_does_not_block_the_event_loop(uvicorn_server: str, standin: SaaSusStandIn, buyer: User) -> None:
    server = uvicorn_server
    standin.inject("userinfo", delay=3.0)
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
