"""SaaSus's reference architecture: a static SPA on one site, a FastAPI API on another.

examples/spa_api, run as an operator would run it (two uvicorn servers):

- the SPA (``spa_server.py``) on http://127.0.0.1:<port>; its ``callback.html`` reads
  ``code``, calls the API's ``/credentials`` and ``/userinfo`` and shows who signed in;
- the API (``api.py``, wrapped in one line) on http://localhost:<port>, another site,
  as in production; its ``/callback`` is the URL registered with SaaSus, and
  ``SAASUS_MW_SIGNIN_URL`` is the SPA's callback page.

In Chromium: a marketplace buyer goes from the hosted login to the picker on the API's
origin and lands on the SPA signed in; an ordinary login is forwarded to the SPA with its
query intact. Without a browser: the forward for every kind of query, and the API's own
endpoints (errors, CORS).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .servers import CHROMIUM, CHROMIUM_ARGS, free_port, server_env, serving


def uvicorn(target: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)]


@dataclass(frozen=True)
class Deployment:
    spa: str  # the SPA's origin: http://127.0.0.1:<port>
    api: str  # the API's origin: http://localhost:<port>, another site
    logs: tuple[IO[bytes], ...]

    @property
    def signin(self) -> str:
        """SAASUS_MW_SIGNIN_URL: the SPA's callback page."""
        return f"{self.spa}/callback.html"

    @property
    def callback(self) -> str:
        """The callback URL registered with SaaSus: the API's."""
        return f"{self.api}/callback"

    def output(self) -> str:
        """Both servers' output so far, for failure messages."""
        text = []
        for log in self.logs:
            log.seek(0)
            text.append(log.read().decode(errors="replace"))
        return "\n----\n".join(text)


@pytest.fixture(scope="module")
def deployment(standin: SaaSusStandIn) -> Iterator[Deployment]:
    spa_port = free_port()
    api_port = free_port()
    while api_port == spa_port:
        api_port = free_port()
    spa, api = f"http://127.0.0.1:{spa_port}", f"http://localhost:{api_port}"
    # The SPA's "Sign in" link: the hosted login, for ordinary (not marketplace) sign-ins.
    spa_env = server_env(standin, API_URL=api, LOGIN_URL=standin.login_url(f"{api}/callback", marketplace=False))
    api_env = server_env(
        standin,
        SAASUS_MW_SIGNIN_URL=f"{spa}/callback.html",
        SAASUS_MW_SUCCESS_URL="",  # server_env's default is /welcome: empty hands the buyer off, signed in
        SPA_ORIGIN=spa,
    )
    with (
        serving(uvicorn("examples.spa_api.spa_server:app", spa_port), spa_env, spa_port) as spa_log,
        serving(uvicorn("examples.spa_api.api:app", api_port), api_env, api_port) as api_log,
    ):
        yield Deployment(spa, api, (spa_log, api_log))


def add_buyer(standin: SaaSusStandIn) -> User:
    return standin.add_user(
        email=f"spa-{uuid.uuid4().hex[:8]}@example.com",
        tenants=[Tenant(name="Acme Corporation", plan_id="plan-basic"), Tenant(name="株式会社サンプル")],
    )


def calls(standin: SaaSusStandIn, endpoint: str) -> list[Any]:
    return [c for c in standin.calls if c.endpoint == endpoint]


# -- in Chromium -------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US")
    yield context.new_page()
    context.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)


def assert_accessible(page: Any, what: str) -> None:
    axe = pytest.importorskip("axe_playwright_python.sync_playwright")
    results = axe.Axe().run(page)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


def redirects(response: Any) -> list[str]:
    """The URLs a navigation went through, first to last."""
    chain, request = [], response.request
    while request is not None:
        chain.append(request.url)
        request = request.redirected_from
    return chain[::-1]


def test_marketplace_buyer_picks_a_tenant_and_lands_on_the_spa_signed_in(
    page: Any, deployment: Deployment, standin: SaaSusStandIn
) -> None:
    buyer = add_buyer(standin)
    chosen = buyer.tenants[1]

    # The hosted login (the stand-in, on its own port) sends the buyer to the API's callback.
    arrival = page.goto(standin.login_url(deployment.callback, email=buyer.email))
    assert arrival is not None and arrival.ok, deployment.output()
    page_url = page.url
    assert page_url.startswith(f"{deployment.callback}?saasus_mw=select&purchase=")  # the picker, on the API's origin
    start = urlsplit(redirects(arrival)[-2])
    assert start.netloc == urlsplit(deployment.api).netloc and "registration_token" in parse_qs(start.query)
    assert_accessible(page, "picker on the API's origin")

    page.locator(f"input[name=tenant_id][value='{chosen.id}']").check()
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Get started with this account").click()
    landed = navigation.value
    # The picker's POST answered 303 straight to the SPA's callback page, with a fresh code.
    post, spa_url = redirects(landed)
    assert post == page_url
    created = calls(standin, "create_credentials")
    assert [c.status for c in created] == [201], deployment.output()
    code = json.loads(created[0].response_body)["code"]
    assert spa_url == f"{deployment.signin}?code={code}"

    # The SPA's script exchanged the code through the API and asked who signed in.
    expect(page.locator("#status")).to_have_text(f"Signed in as {buyer.email}")
    expect(page.locator("#tenants li")).to_have_text(["Acme Corporation", "株式会社サンプル"])
    assert page.url == deployment.signin  # the code left the address bar
    assert page.locator("#error").is_hidden()
    exchanged = [c for c in calls(standin, "credentials") if c.query.get("code") == [code]]
    assert [c.status for c in exchanged] == [200]
    assert [c.status for c in calls(standin, "userinfo")][-1] == 200
    assert page.evaluate("sessionStorage.getItem('id_token')")
    assert_accessible(page, "the SPA's callback page, signed in")

    # SaaSus linked the purchase to the chosen tenant; the state cookie is gone.
    assert [(tenant, user) for tenant, user, _ in standin.links] == [(chosen.id, buyer.id)]
    assert not [c for c in page.context.cookies(deployment.api) if c["name"].startswith("saasus_mw_state")]

    # The SPA's home page shows the same user from the stored token.
    page.goto(f"{deployment.spa}/")
    expect(page.locator("#status")).to_have_text(f"Signed in as {buyer.email}")


def test_ordinary_login_is_forwarded_to_the_spa_with_its_query(
    page: Any, deployment: Deployment, standin: SaaSusStandIn
) -> None:
    buyer = add_buyer(standin)
    landed = page.goto(standin.login_url(deployment.callback, email=buyer.email, marketplace=False))
    assert landed is not None
    _login, callback, spa_url = redirects(landed)
    assert callback.startswith(f"{deployment.callback}?code=")
    assert spa_url.startswith(f"{deployment.signin}?")
    assert urlsplit(spa_url).query == urlsplit(callback).query  # carried over unchanged

    expect(page.locator("#status")).to_have_text(f"Signed in as {buyer.email}")
    expect(page.locator("#tenants li")).to_have_count(2)
    assert standin.links == [] and calls(standin, "create_credentials") == []


def test_ordinary_login_from_the_spa_sign_in_link(page: Any, deployment: Deployment, standin: SaaSusStandIn) -> None:
    buyer = add_buyer(standin)
    page.goto(f"{deployment.spa}/")
    expect(page.locator("#status")).to_have_text("Not signed in.")
    page.get_by_role("link", name="Sign in").click()  # to the hosted login
    with page.expect_navigation() as navigation:
        page.get_by_role("link", name=buyer.email).click()
    _login, callback, spa_url = redirects(navigation.value)
    assert callback.startswith(f"{deployment.callback}?code=")
    assert spa_url == f"{deployment.signin}?{urlsplit(callback).query}"
    expect(page.locator("#status")).to_have_text(f"Signed in as {buyer.email}")
    assert page.locator("#signin").is_hidden()


def test_spa_says_why_a_sign_in_failed(page: Any, deployment: Deployment, standin: SaaSusStandIn) -> None:
    # An error callback from the hosted login: forwarded, shown, never as HTML.
    page.goto(f"{deployment.callback}?error=access_denied&error_description=%3Cb%3ECancelled%3C%2Fb%3E")
    expect(page.locator("#error")).to_have_text("Sign-in failed: <b>Cancelled</b>")
    assert page.locator("#error b").count() == 0

    # A code SaaSus does not know (used, expired): the API's 400 is shown.
    page.goto(f"{deployment.callback}?code={uuid.uuid4()}")
    expect(page.locator("#error")).to_have_text("Sign-in failed: the sign-in code is invalid or expired")
    expect(page.locator("#status")).to_have_text("Not signed in.")


# -- over HTTP, no browser ---------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="empty"),
        pytest.param("code=0b7d1c39-3c6e-4b4e-9d4e-4f6f1b6a2c11", id="code"),
        pytest.param("code=0b7d1c39-3c6e-4b4e-9d4e-4f6f1b6a2c11&state=a%2Fb%3Dc", id="code-and-state"),
        pytest.param("error=access_denied&error_description=User+cancelled+%28%E3%82%AD%29", id="error"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_every_other_callback_is_forwarded_unchanged(
    deployment: Deployment, standin: SaaSusStandIn, method: str, query: str
) -> None:
    url = f"{deployment.callback}?{query}" if query else deployment.callback
    response = httpx.request(method, url, timeout=10)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == (f"{deployment.signin}?{query}" if query else deployment.signin)
    assert standin.calls == []  # forwarding asks SaaSus nothing


def test_api_credentials_and_userinfo(deployment: Deployment, standin: SaaSusStandIn) -> None:
    buyer = add_buyer(standin)
    with httpx.Client(base_url=deployment.api, timeout=10) as api:
        answer = api.get("/credentials", params={"code": standin.issue_code(buyer)})
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
        tokens = answer.json()
        assert set(tokens) == {"id_token", "access_token", "refresh_token"}

        user = api.get("/userinfo", headers={"Authorization": f"Bearer {tokens['id_token']}"})
        assert user.status_code == 200 and user.headers["cache-control"] == "no-store"
        assert user.json()["email"] == buyer.email
        assert [t["name"] for t in user.json()["tenants"]] == ["Acme Corporation", "株式会社サンプル"]
        assert user.json()["tenants"][0]["plan_id"] == "plan-basic"


def test_api_refusals_are_json_errors(deployment: Deployment, standin: SaaSusStandIn) -> None:
    buyer = add_buyer(standin)
    with httpx.Client(base_url=deployment.api, timeout=10) as api:
        used = standin.issue_code(buyer)
        assert api.get("/credentials", params={"code": used}).status_code == 200
        again = api.get("/credentials", params={"code": used})  # single use
        assert again.status_code == 400 and again.json() == {"detail": "the sign-in code is invalid or expired"}
        assert api.get("/credentials").status_code == 422  # no code at all

        for headers in ({}, {"Authorization": "Basic eDp5"}, {"Authorization": "Bearer not-a-token"}):
            refused = api.get("/userinfo", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["www-authenticate"].startswith("Bearer")
            assert "detail" in refused.json()

        standin.inject("credentials", status=503)
        down = api.get("/credentials", params={"code": standin.issue_code(buyer)})
        assert down.status_code == 502 and "detail" in down.json()


def test_api_lets_only_the_spa_origin_call_it(deployment: Deployment) -> None:
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    with httpx.Client(base_url=deployment.api, timeout=10) as api:
        allowed = api.options("/userinfo", headers={"Origin": deployment.spa, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == deployment.spa
        other = api.options("/userinfo", headers={"Origin": "https://evil.example", **preflight})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers


def test_spa_pages_carry_a_policy_that_allows_only_the_api(deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.spa, timeout=10) as spa:
        page = spa.get("/callback.html")
        assert page.status_code == 200 and 'id="status"' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        policy = page.headers["content-security-policy"]
        assert f"connect-src {deployment.api}" in policy and "script-src 'self'" in policy
        config = spa.get("/config.js")
        assert config.headers["content-type"].startswith("text/javascript")
        assert (
            json.loads(config.text.removeprefix("window.SPA_CONFIG = ").removesuffix(";\n"))["apiUrl"] == deployment.api
        )
