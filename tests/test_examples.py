"""Every framework example, and the zero-code entry points, under a real server against the stand-in.

Each row is the exact command an operator would run (uvicorn for ASGI,
gunicorn with two workers for WSGI); the journey runs over real HTTP. The
Starlette, FastAPI, Flask and Django products sign the buyer in with
saasus_mw.Client in their own callback, where the middleware hands the buyer off.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .conftest import begin, pick
from .servers import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, server_env, serving


def uvicorn(target: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "uvicorn", target, *options, "--host", "127.0.0.1", "--port", "{port}"]


def gunicorn(target: str) -> list[str]:
    # Two workers: the callback and the POST may land on different processes.
    return [sys.executable, "-m", "gunicorn", target, "--bind", "127.0.0.1:{port}", "--workers", "2"]


ENTRY_ASGI = uvicorn("saasus_mw.entry:asgi_app", "--factory")
ENTRY_WSGI = gunicorn("saasus_mw.entry:wsgi_app()")
# The products that sign users in: no success URL, so the middleware hands the buyer
# off to the product's own callback with a fresh sign-in code.
SIGNS_IN = {"SAASUS_MW_SUCCESS_URL": ""}


@dataclass(frozen=True)
class Example:
    command: list[str]
    marker: str  # text only this product's pages show
    env: dict[str, str] = field(default_factory=dict)

    @property
    def signs_in(self) -> bool:
        return self.env.get("SAASUS_MW_SUCCESS_URL") == ""


def entry(command: list[str], app: str, marker: str, **env: str) -> Example:
    return Example(command, marker, {"SAASUS_MW_APP": app, **env})


EXAMPLES = [
    pytest.param(Example(uvicorn("examples.starlette_app:app"), "Example product", SIGNS_IN), id="starlette-uvicorn"),
    pytest.param(Example(uvicorn("examples.fastapi_app:app"), "(FastAPI)", SIGNS_IN), id="fastapi-uvicorn"),
    pytest.param(Example(gunicorn("examples.flask_app:app"), "(Flask)", SIGNS_IN), id="flask-gunicorn"),
    pytest.param(
        Example(gunicorn("examples.django_project.wsgi:application"), "(Django)", SIGNS_IN), id="django-wsgi-gunicorn"
    ),
    pytest.param(
        Example(uvicorn("examples.django_project.asgi:application"), "(Django)", SIGNS_IN), id="django-asgi-uvicorn"
    ),
    # The Django project unwrapped, enabled by the server command alone.
    pytest.param(
        entry(ENTRY_ASGI, "examples.django_project.asgi:django_application", "(Django)", **SIGNS_IN),
        id="entry-django-asgi-uvicorn",
    ),
    pytest.param(
        entry(ENTRY_WSGI, "examples.django_project.wsgi:django_application", "(Django)", **SIGNS_IN),
        id="entry-django-wsgi-gunicorn",
    ),
    pytest.param(
        entry(ENTRY_ASGI, "examples.fastapi_app:product", "(FastAPI)", **SIGNS_IN), id="entry-fastapi-uvicorn"
    ),
    # A legacy ASGI2 ("double callable") app; --lifespan on: a failed startup stops the server.
    pytest.param(Example(uvicorn("examples.asgi2_app:app", "--lifespan", "on"), "(ASGI2)"), id="asgi2-uvicorn"),
    pytest.param(
        entry([*ENTRY_ASGI, "--lifespan", "on"], "examples.asgi2_app:Product", "(ASGI2)"), id="entry-asgi2-uvicorn"
    ),
    # A plain function as the WSGI app.
    pytest.param(entry(ENTRY_WSGI, "examples.wsgi_app:product", "Example product"), id="entry-function-gunicorn"),
]


@pytest.fixture(scope="module", params=EXAMPLES)
def example(request: pytest.FixtureRequest, standin: SaaSusStandIn) -> Iterator[tuple[str, Example]]:
    """(base URL, example) of a running example; one server per row, shared by the tests below."""
    example: Example = request.param
    port = free_port()
    with serving([part.format(port=port) for part in example.command], server_env(standin, **example.env), port):
        yield f"http://127.0.0.1:{port}", example


def signed_in_as(page: httpx.Response) -> str | None:
    """Who the product's home page says is signed in."""
    match = re.search(r"Signed in as <strong>([^<]*)</strong>", page.text)
    return match.group(1) if match else None


def test_journey_through_the_example(example: tuple[str, Example], standin: SaaSusStandIn, buyer: User) -> None:
    url, product = example
    for tenant in buyer.tenants:  # several journeys: with two workers, state must cross processes
        with httpx.Client(base_url=url, timeout=10) as client:
            token, picker_url = begin(client, standin, buyer)
            done = pick(client, picker_url, tenant.id)
            assert done.status_code == 303, done.text
            if product.signs_in:  # handed off to the product's own callback, which signs the buyer in
                assert done.headers["location"].startswith("/callback?code="), done.headers["location"]
                signed_in = client.get(done.headers["location"], follow_redirects=True)
                assert signed_in.url.path == "/" and product.marker in signed_in.text
                assert signed_in_as(signed_in) == buyer.email
            else:
                assert done.headers["location"] == "/welcome"
                welcome = client.get("/welcome")
                assert welcome.status_code == 200 and product.marker in welcome.text
                assert "purchase is linked" in welcome.text
        assert standin.links[-1] == (tenant.id, buyer.id, token)


def test_ordinary_login_reaches_the_product(example: tuple[str, Example], standin: SaaSusStandIn, buyer: User) -> None:
    url, product = example
    response = httpx.get(url + "/callback", params={"code": standin.issue_code(buyer)}, timeout=10)
    if not product.signs_in:
        assert (
            response.status_code == 200 and product.marker in response.text and "Signed in with code" in response.text
        )
        assert standin.calls == []
        return
    assert response.status_code == 303 and response.headers["location"] == "/"
    # The middleware let it through: only the product's own sign-in asked SaaSus.
    assert [c.endpoint for c in standin.calls] == ["credentials", "userinfo"]
    home = httpx.get(url + "/", cookies=response.cookies, timeout=10)
    assert signed_in_as(home) == buyer.email and product.marker in home.text
    assert signed_in_as(httpx.get(url + "/", timeout=10)) is None  # the session cookie is what signs in


def test_a_sign_in_id_user_is_shown_by_the_sign_in_id(example: tuple[str, Example], standin: SaaSusStandIn) -> None:
    url, product = example
    if not product.signs_in:
        pytest.skip("this product does not sign users in")
    member = standin.add_user("", ["Acme"], sign_in_id=f"member-{uuid.uuid4().hex[:8]}")
    with httpx.Client(base_url=url, timeout=10) as client:
        home = client.get("/callback", params={"code": standin.issue_code(member)}, follow_redirects=True)
    assert signed_in_as(home) == member.sign_in_id


@pytest.mark.parametrize(
    ("code", "status"),
    [
        pytest.param("used", 400, id="used"),
        pytest.param("", 400, id="none"),
        pytest.param("<script>", 400, id="malformed"),
    ],
)
def test_a_bad_code_is_a_clear_page_not_an_error(
    example: tuple[str, Example], standin: SaaSusStandIn, buyer: User, code: str, status: int
) -> None:
    url, product = example
    if not product.signs_in:
        pytest.skip("this product does not sign users in")
    if code == "used":
        code = standin.issue_code(buyer)
        assert httpx.get(url + "/callback", params={"code": code}, timeout=10).status_code == 303
    response = httpx.get(url + "/callback", params={"code": code}, timeout=10)
    assert response.status_code == status and "expired or was already used" in response.text
    assert "<script>" not in response.text and signed_in_as(response) is None


def test_saasus_down_at_sign_in_is_a_clear_page(
    example: tuple[str, Example], standin: SaaSusStandIn, buyer: User
) -> None:
    url, product = example
    if not product.signs_in:
        pytest.skip("this product does not sign users in")
    standin.inject("credentials", status=500, body='{"type": "internal_server_error", "message": "down"}')
    response = httpx.get(url + "/callback", params={"code": standin.issue_code(buyer)}, timeout=10)
    assert response.status_code == 503 and "could not reach the sign-in service" in response.text


# -- the billing page: criterion 5 of the SaaSus listing review --------------------------


@pytest.fixture(scope="module")
def fastapi_product(standin: SaaSusStandIn) -> Iterator[str]:
    port = free_port()
    command = [part.format(port=port) for part in uvicorn("examples.fastapi_app:app")]
    with serving(command, server_env(standin, **SIGNS_IN), port):
        yield f"http://127.0.0.1:{port}"


def billing_rows(page: httpx.Response) -> dict[str, str]:
    """Each tenant's row of the billing page, by tenant ID."""
    return dict(re.findall(r'<li data-tenant-id="([^"]+)">(.*?)</li>', page.text))


@contextlib.contextmanager
def signed_in_client(url: str, standin: SaaSusStandIn, user: User) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/callback", params={"code": standin.issue_code(user)}).status_code == 303
        yield client


def test_billing_hides_plan_change_and_withdrawal_for_marketplace_tenants(
    fastapi_product: str, standin: SaaSusStandIn, buyer: User
) -> None:
    bought, *others = buyer.tenants
    standin.link_customer(bought.id)
    with signed_in_client(fastapi_product, standin, buyer) as client:
        rows = billing_rows(client.get("/billing"))
        assert set(rows) == {t.id for t in buyer.tenants}
        assert "AWS Marketplace" in rows[bought.id]
        assert "Change plan" not in rows[bought.id] and "Withdraw" not in rows[bought.id]
        assert all("Change plan" in rows[t.id] and "Withdraw" in rows[t.id] for t in others)
        assert "Acme &lt;b&gt;&amp;&lt;/b&gt;" in client.get("/billing").text  # tenant names are escaped
        # A hidden link can still be followed: the actions refuse Marketplace tenants too.
        for action in ("plan", "withdraw"):
            refused = client.get(f"/billing/{action}", params={"tenant_id": bought.id})
            assert refused.status_code == 403 and "managed in AWS Marketplace" in refused.text
            assert client.get(f"/billing/{action}", params={"tenant_id": others[0].id}).status_code == 200
        # Another user's tenant is not offered at all.
        assert client.get("/billing/plan", params={"tenant_id": str(uuid.uuid4())}).status_code == 303
    asked = [c.query["tenant_ids"] for c in standin.calls if c.endpoint == "customers"]
    assert sorted(asked) == sorted([t.id] for t in buyer.tenants)  # once per tenant: then remembered


def test_billing_offers_no_action_while_saasus_cannot_say(
    fastapi_product: str, standin: SaaSusStandIn, buyer: User
) -> None:
    standin.inject("customers", status=500, body='{"type": "internal_server_error", "message": "down"}', times=None)
    with signed_in_client(fastapi_product, standin, buyer) as client:
        page = client.get("/billing")
        refused = client.get("/billing/withdraw", params={"tenant_id": buyer.tenants[0].id})
    assert page.status_code == 200 and "Change plan" not in page.text and "Withdraw" not in page.text
    assert all("unavailable" in row for row in billing_rows(page).values())
    assert refused.status_code == 503


def test_billing_needs_a_signed_in_user(fastapi_product: str) -> None:
    response = httpx.get(fastapi_product + "/billing", timeout=10)
    assert response.status_code == 303 and response.headers["location"] == "/"


# -- in a real browser: bought on AWS Marketplace, signed in, billing as criterion 5 wants ------


def test_a_buyer_in_chromium_lands_signed_in_and_cannot_change_the_plan(
    fastapi_product: str, standin: SaaSusStandIn
) -> None:
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    buyer = standin.add_user(f"chromium-{uuid.uuid4().hex[:8]}@example.com", [Tenant("Acme"), Tenant("Globex")])
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            # The stand-in's hosted login is another site (localhost) than the product (127.0.0.1).
            login = standin.login_url(f"{fastapi_product}/callback", email=buyer.email)
            page.goto(login.replace("127.0.0.1", "localhost", 1))
            page.wait_for_url("**/callback?saasus_mw=select&purchase=*")
            page.get_by_label("Globex").check()
            with page.expect_navigation(url=f"{fastapi_product}/"):
                page.get_by_role("button").click()
            assert f"Signed in as {buyer.email}." in page.locator("body").inner_text()
            assert "code=" not in page.url
            page.get_by_role("link", name="Billing").click()
            rows = {t.name: page.locator(f'li[data-tenant-id="{t.id}"]') for t in buyer.tenants}
            assert "AWS Marketplace" in rows["Globex"].inner_text()
            assert rows["Globex"].get_by_role("link").count() == 0
            assert rows["Acme"].get_by_role("link", name="Change plan").count() == 1
        finally:
            browser.close()
    assert standin.links[-1][:2] == (buyer.tenants[1].id, buyer.id)


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
