"""Every framework example, and the zero-code entry points, under a real server against the stand-in.

Each row is the exact command an operator would run (uvicorn for ASGI,
gunicorn with two workers for WSGI); the journey runs over real HTTP.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, User

from .conftest import begin, pick
from .servers import ROOT, free_port, server_env, serving


def uvicorn(target: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", target, *options, "--host", "127.0.0.1", "--port", "{port}"]


def gunicorn(target: str) -> list[str]:
    # Two workers: the callback and the POST may land on different processes.
    return [sys.executable, "-m", "gunicorn", target, "--bind", "127.0.0.1:{port}", "--workers", "2"]


ENTRY_ASGI = uvicorn("saasus_mw.entry:asgi_app", "--factory")
ENTRY_WSGI = gunicorn("saasus_mw.entry:wsgi_app()")


@dataclass(frozen=True)
class Example:
    command: list[str]
    marker: str  # text only this product's pages show
    env: dict[str, str] = field(default_factory=dict)


def entry(command: list[str], app: str, marker: str) -> Example:
    return Example(command, marker, {"SAASUS_MW_APP": app})


EXAMPLES = [
    pytest.param(Example(uvicorn("examples.fastapi_app:app"), "(FastAPI)"), id="fastapi-uvicorn"),
    pytest.param(Example(gunicorn("examples.flask_app:app"), "(Flask)"), id="flask-gunicorn"),
    pytest.param(Example(gunicorn("examples.django_project.wsgi:application"), "(Django)"), id="django-wsgi-gunicorn"),
    pytest.param(Example(uvicorn("examples.django_project.asgi:application"), "(Django)"), id="django-asgi-uvicorn"),
    # The Django project unwrapped, enabled by the server command alone.
    pytest.param(
        entry(ENTRY_ASGI, "examples.django_project.asgi:django_application", "(Django)"), id="entry-django-asgi-uvicorn"
    ),
    pytest.param(
        entry(ENTRY_WSGI, "examples.django_project.wsgi:django_application", "(Django)"),
        id="entry-django-wsgi-gunicorn",
    ),
    pytest.param(entry(ENTRY_ASGI, "examples.fastapi_app:product", "(FastAPI)"), id="entry-fastapi-uvicorn"),
    # A legacy ASGI2 ("double callable") app; --lifespan on: a failed startup stops the server.
    pytest.param(Example(uvicorn("examples.asgi2_app:app", "--lifespan", "on"), "(ASGI2)"), id="asgi2-uvicorn"),
    pytest.param(
        entry([*ENTRY_ASGI, "--lifespan", "on"], "examples.asgi2_app:Product", "(ASGI2)"), id="entry-asgi2-uvicorn"
    ),
    # A plain function as the WSGI app.
    pytest.param(entry(ENTRY_WSGI, "examples.wsgi_app:product", "Example product"), id="entry-function-gunicorn"),
]


@pytest.fixture(scope="module", params=EXAMPLES)
def example(request: pytest.FixtureRequest, standin: SaaSusStandIn) -> Iterator[tuple[str, str]]:
    """(base URL, marker) of a running example; one server per row, shared by the tests below."""
    example: Example = request.param
    port = free_port()
    with serving([part.format(port=port) for part in example.command], server_env(standin, **example.env), port):
        yield f"http://127.0.0.1:{port}", example.marker


def test_journey_through_the_example(example: tuple[str, str], standin: SaaSusStandIn, buyer: User) -> None:
    url, marker = example
    for tenant in buyer.tenants:  # several journeys: with two workers, state must cross processes
        with httpx.Client(base_url=url, timeout=10) as client:
            token, picker_url = begin(client, standin, buyer)
            done = pick(client, picker_url, tenant.id)
            assert done.status_code == 303 and done.headers["location"] == "/welcome", done.text
            welcome = client.get("/welcome")
            assert welcome.status_code == 200 and marker in welcome.text and "purchase is linked" in welcome.text
        assert standin.links[-1] == (tenant.id, buyer.id, token)


def test_ordinary_login_reaches_the_product(example: tuple[str, str], standin: SaaSusStandIn, buyer: User) -> None:
    url, marker = example
    response = httpx.get(url + "/callback", params={"code": standin.issue_code(buyer)}, timeout=10)
    assert response.status_code == 200 and marker in response.text and "Signed in with code" in response.text
    assert standin.calls == []


@pytest.mark.parametrize(
    ("command", "app", "expected"),
    [
        pytest.param(ENTRY_ASGI, None, "SAASUS_MW_APP is not set", id="uvicorn-unset"),
        pytest.param(ENTRY_WSGI, None, "SAASUS_MW_APP is not set", id="gunicorn-unset"),
        pytest.param(ENTRY_ASGI, "examples.flask_app:app", "cannot be the ASGI application", id="uvicorn-wsgi-app"),
        pytest.param(ENTRY_WSGI, "examples.nope:app", "no module named 'examples.nope'", id="gunicorn-no-module"),
    ],
)
def test_a_misconfigured_entry_point_stops_the_server_with_the_reason(
    command: list[str], app: str | None, expected: str, standin: SaaSusStandIn
) -> None:
    env = server_env(standin, **({"SAASUS_MW_APP": app} if app else {}))
    port = free_port()
    with tempfile.TemporaryFile() as log:
        # The server must give up by itself; the timeout only bounds a hang.
        process = subprocess.run(
            [part.format(port=port) for part in command],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=60,
            check=False,
        )
        log.seek(0)
        output = log.read().decode(errors="replace")
    assert process.returncode != 0
    assert expected in output, output
