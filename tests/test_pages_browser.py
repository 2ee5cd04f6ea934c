"""Every page a buyer can see, in Chromium, in English and Japanese (issue 17).

Each page is reached as a buyer reaches it (the example product under uvicorn, the
stand-in as SaaSus), except three no browser can cause on purpose (an internal error,
a sign-in too large for cookies, a purchase still being completed), which the real
renderer draws in-process. On each: axe-core 0 violations, 0 raw UUIDs in the visible
text, and no dead end - every link or button forward is followed and works (the AWS
console and the support site answer from a route stub: no network here). With
SAASUS_MW_SCREENSHOTS=1 each is saved, 800 px wide, into docs/pages/ (the gallery).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from saasus_mw import ErrorCode, Settings
from saasus_mw.journey.answers import OFFERS
from saasus_mw.pages import CONSOLE_URL, Offer, Pages
from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .servers import CHROMIUM, CHROMIUM_ARGS, running

playwright_sync = pytest.importorskip("playwright.sync_api")
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (see .ci/run)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "pages"
SUPPORT = "https://support.example.com/help"
PRODUCT = "Example Cloud"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
LOCALES = [pytest.param("en-US", id="en"), pytest.param("ja-JP", id="ja")]
SETTINGS = {
    "SAASUS_MW_SUPPORT_URL": SUPPORT,
    "SAASUS_MW_PRODUCT_NAME": PRODUCT,
    "SAASUS_MW_TIMEOUT": "1",  # the timeout page in a second
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def plans(standin: SaaSusStandIn) -> dict[str, str]:
    """The plans, made before the servers start: each server asks for their names once (cached)."""
    return {name: standin.add_plan(name).id for name in ("Pro", "Basic")}


@pytest.fixture(scope="module")
def product(standin: SaaSusStandIn, plans: dict[str, str]) -> Iterator[str]:
    with running("uvicorn", standin, SAASUS_MW_SIGNUP_URL="/welcome", **SETTINGS) as url:
        yield url


@pytest.fixture(scope="module")
def product_new(standin: SaaSusStandIn, plans: dict[str, str]) -> Iterator[str]:
    """New accounts offered, and the sign-in hand-off (no success URL)."""
    with running("uvicorn", standin, SAASUS_MW_ALLOW_NEW_TENANT="true", SAASUS_MW_SUCCESS_URL="", **SETTINGS) as url:
        yield url


def context_for(browser: Any, locale: str, **options: Any) -> Any:
    context = browser.new_context(locale=locale, viewport={"width": 800, "height": 640}, **options)
    # Off-site ways on answer here, so that following them proves they lead somewhere.
    for site in ("https://console.aws.amazon.com/**", "https://support.example.com/**"):
        context.route(site, lambda route: route.fulfill(status=200, content_type="text/html", body="<h1>ok</h1>"))
    return context


class Gallery:
    """Checks each page a buyer sees, and saves it for docs/pages/ when asked."""

    def __init__(self) -> None:
        self.pages: list[str] = []
        self.dead_ends: list[str] = []
        self.uuids: list[str] = []

    def check(self, page: Any, name: str, locale: str, *, terminal: bool = True) -> None:
        label = f"{name}-{locale[:2]}"
        self.pages.append(label)
        text = page.locator("body").inner_text()
        if _UUID.search(text):
            self.uuids.append(label)
        results = axe_sync.Axe().run(page)
        assert results.violations_count == 0, f"{label}:\n{results.generate_report()}"
        if os.environ.get("SAASUS_MW_SCREENSHOTS"):
            GALLERY.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(GALLERY / f"{label}.png"), full_page=True)
        if terminal and not self.ways_on_work(page):
            self.dead_ends.append(label)

    @staticmethod
    def ways_on_work(page: Any) -> bool:
        """Follow every link on the page (in a new tab of the same browser): each must answer below 400."""
        hrefs = page.eval_on_selector_all("main a[href]", "links => links.map(a => a.href)")
        if not hrefs:
            return False
        for href in hrefs:
            tab = page.context.new_page()
            try:
                response = tab.goto(href)
                if response is None or response.status >= 400:
                    return False
            finally:
                tab.close()
        return True


@pytest.fixture(scope="module")
def gallery() -> Iterator[Gallery]:
    seen = Gallery()
    yield seen
    # Measured over every page of the module's tests (printed: pytest -s shows it).
    print(f"\npages checked: {len(seen.pages)}; dead ends: {seen.dead_ends}; raw UUIDs: {seen.uuids}")
    assert seen.dead_ends == [] and seen.uuids == []


def shopper(
    standin: SaaSusStandIn,
    tenants: list[Tenant] | None = None,
    *,
    linked: int | None = 2,
    plans: dict[str, str] | None = None,
) -> User:
    plans = plans or {}
    tenants = tenants or [
        Tenant(name="Acme Corporation", plan_id=plans["Basic"], roles=("admin",)),
        Tenant(name="株式会社サンプル", plan_id=plans["Pro"], roles=("admin",)),
        Tenant(name="サンプル物流株式会社", plan_id=plans["Pro"], roles=("admin",)),
        Tenant(name="Globex Japan", completed_sign_up=False),
        Tenant(name="Initech", roles=("viewer",)),
    ]
    user = standin.add_user(f"buyer-{uuid.uuid4().hex[:8]}@example.com", tenants)
    if linked is not None:
        standin.link_customer(tenants[linked].id)
    return user


def arrive(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
    login = standin.login_url(f"{product}/callback", email=user.login_name).replace("127.0.0.1", "localhost", 1)
    page.goto(login)
    page.wait_for_url("**/callback?saasus_mw=select*")


def submit(page: Any) -> Any:
    with page.expect_navigation() as sent:
        page.locator("button[type=submit]").click()
    return sent.value


# -- Enter in the filter box never completes the purchase ------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_enter_in_the_filter_links_nothing(
    browser: Any, product: str, standin: SaaSusStandIn, javascript: bool
) -> None:
    # One eligible tenant: preselected, so a submitted form would link it at once.
    user = shopper(standin, [Tenant("Acme Corporation"), Tenant("Globex"), Tenant("Initech")], linked=1)
    standin.link_customer(user.tenants[2].id)
    context = context_for(browser, "en-US", java_script_enabled=javascript)
    page = context.new_page()
    arrive(page, product, standin, user)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    assert page.locator("input[name=tenant_id]:checked").count() == 1
    if javascript:
        page.locator("#filter").fill("Acme")
        page.locator("#filter").press("Enter")
        page.locator("input[name=tenant_id]:checked").press("Enter")  # Enter on the radio only chooses
    else:  # no filter without a script; the inputs that remain submit only by the button
        assert page.locator("#filter-box").is_hidden()
        assert page.locator("form #filter").count() == 0  # outside the form: it could submit nothing
    page.wait_for_timeout(300)  # give a wrongly submitted form time to leave (it would be a POST)
    assert posts == [] and standin.links == [] and "saasus_mw=select" in page.url
    submit(page)
    assert [t for t, _, _ in standin.links] == [user.tenants[0].id]
    context.close()


# -- the picker itself ------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_the_picker(
    browser: Any, product: str, standin: SaaSusStandIn, gallery: Gallery, plans: dict[str, str], locale: str
) -> None:
    user = shopper(standin, plans=plans)
    context = context_for(browser, locale)
    page = context.new_page()
    arrive(page, product, standin, user)
    main = page.locator("main")
    # Plan names, never ids; each reason under its tenant's name, in the label.
    assert "Pro" in main.inner_text() and not _UUID.search(main.inner_text())
    reasons = page.locator("ul.tenants label .reason")
    assert reasons.count() == 2  # linked, sign-up not completed
    for i in range(reasons.count()):
        row = reasons.nth(i).locator("xpath=..")
        name_box = row.locator(".name").bounding_box()
        reason_box = reasons.nth(i).bounding_box()
        assert name_box and reason_box and reason_box["y"] >= name_box["y"] + name_box["height"] - 1
    gallery.check(page, "picker", locale, terminal=False)

    # A filter that matches nothing says so in the list's place; no empty bordered box.
    page.locator("#filter").fill("zzz")
    assert page.locator("ul.tenants").is_hidden() and page.locator("#filter-empty").is_visible()
    gallery.check(page, "picker-no-match", locale, terminal=False)
    # A chosen row kept while filtered away says why it is still there.
    page.locator("#filter").fill("")
    page.locator("input[name=tenant_id]:enabled").first.check()
    page.locator("#filter").fill("zzz")
    assert page.locator("ul.tenants li:visible").count() == 1 and page.locator(".kept").is_visible()
    gallery.check(page, "picker-kept", locale, terminal=False)
    context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_a_sign_in_id_buyer(browser: Any, product: str, standin: SaaSusStandIn, gallery: Gallery, locale: str) -> None:
    login = f"buyer-{uuid.uuid4().hex[:6]}"
    user = standin.add_user("", ["Acme Corporation", "Globex"], sign_in_id=login)
    context = context_for(browser, locale)
    page = context.new_page()
    arrive(page, product, standin, user)
    assert login in page.locator("main p.muted").first.inner_text()
    context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_a_new_account(browser: Any, product_new: str, standin: SaaSusStandIn, gallery: Gallery, locale: str) -> None:
    user = shopper(standin, [Tenant("Acme Corporation"), Tenant("Globex")], linked=None)
    context = context_for(browser, locale)
    page = context.new_page()
    arrive(page, product_new, standin, user)
    button = page.locator("button[type=submit]")
    existing = button.inner_text()
    page.locator("#t-new").check()
    assert button.inner_text() != existing  # the label follows the choice
    assert button.inner_text() in ("Create the account and continue", "アカウントを作成して続ける")
    gallery.check(page, "new-account", locale, terminal=False)

    # Without the script (the server's check): the same page again, who and intro kept.
    page.evaluate("() => { document.getElementById('picker').noValidate = true; }")
    page.locator("#new_tenant_name").evaluate("input => { input.disabled = false; input.value = '  '; }")
    page.evaluate("() => HTMLFormElement.prototype.submit.call(document.getElementById('picker'))")
    page.wait_for_load_state()
    assert page.locator("#t-new").is_checked() and user.email in page.locator("main").inner_text()
    gallery.check(page, "new-account-name", locale, terminal=False)
    context.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_done_pages(browser: Any, product_new: str, standin: SaaSusStandIn, gallery: Gallery, locale: str) -> None:
    user = shopper(standin, [Tenant("Acme Corporation"), Tenant("Globex")], linked=None)
    context = context_for(browser, locale)
    page = context.new_page()
    # Linked, but the sign-in hand-off failed: a success page with a way on.
    arrive(page, product_new, standin, user)
    page.get_by_label("Acme Corporation").check()
    standin.inject("create_credentials", status=500, times=None)  # the early code and the second try
    submit(page)
    standin.clear_faults()
    gallery.check(page, "handoff-failed", locale)
    # Back to the picker after success: "already linked", with a way on.
    page.goto(f"{product_new}/callback?saasus_mw=select")
    gallery.check(page, "linked", locale)
    context.close()


# -- every failure ---------------------------------------------------------------------------


def _at_arrival(query: Callable[[SaaSusStandIn, User], dict[str, str]]) -> Callable[..., None]:
    def cause(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
        page.goto(f"{product}/callback?{urlencode(query(standin, user))}")

    return cause


def _spent(standin: SaaSusStandIn, user: User) -> dict[str, str]:
    # With a good code this is a returning buyer (tests/test_returning.py): here the code is spent too.
    token = standin.issue_registration_token()
    standin.spend_registration_token(token)
    return {"code": str(uuid.uuid4()), "registration_token": token}


def _slow_arrival(standin: SaaSusStandIn, user: User) -> dict[str, str]:
    standin.inject("credentials", delay=1.5)
    return {"code": standin.issue_code(user), "registration_token": standin.issue_registration_token()}


def _down_arrival(standin: SaaSusStandIn, user: User) -> dict[str, str]:
    standin.inject("credentials", status=500)
    return {"code": standin.issue_code(user), "registration_token": standin.issue_registration_token()}


def _post_at_arrival(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
    page.goto(f"{product}/")
    page.evaluate(
        """url => { const f = document.createElement('form'); f.method = 'post'; f.action = url;
                    document.body.appendChild(f); f.submit(); }""",
        f"{product}/callback?code=x&registration_token=y",
    )
    page.wait_for_url("**registration_token=y")


def _no_state(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
    page.goto(f"{product}/callback?saasus_mw=select")


def _bad_state(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
    arrive(page, product, standin, user)
    cookies = page.context.cookies()
    page.context.add_cookies([{**c, "value": "A" * 80} for c in cookies if c["name"].startswith("saasus_mw_state")])
    page.reload()


def _no_tenant(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
    pending = standin.add_user(
        f"pending-{uuid.uuid4().hex[:8]}@example.com", [Tenant("Pending", completed_sign_up=False)]
    )
    arrive(page, product, standin, pending)


def _picker_down(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
    arrive(page, product, standin, user)
    standin.inject("userinfo", status=500)
    page.reload()


def _spent_meanwhile(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
    arrive(page, product, standin, user)
    (verify,) = [c for c in standin.calls if c.endpoint == "verify"][-1:]
    standin.spend_registration_token(json.loads(verify.body)["registration_token"])  # another tab completed it
    page.reload()


def _choose_then(action: Callable[[Any, SaaSusStandIn, User], Any]) -> Callable[..., None]:
    def cause(page: Any, product: str, standin: SaaSusStandIn, user: User) -> None:
        arrive(page, product, standin, user)
        page.get_by_label("Acme Corporation").check()
        if action(page, standin, user) == "sent":
            page.wait_for_load_state()
        else:
            submit(page)

    return cause


def _forge_csrf(page: Any, standin: SaaSusStandIn, user: User) -> None:
    page.locator("input[name=csrf_token]").evaluate("input => { input.value = 'forged'; }")


def _not_yours(page: Any, standin: SaaSusStandIn, user: User) -> None:
    page.locator("input[name=tenant_id]:checked").evaluate("(input, id) => { input.value = id; }", str(uuid.uuid4()))


def _taken_meanwhile(page: Any, standin: SaaSusStandIn, user: User) -> None:
    standin.link_customer(user.tenants[0].id)


def _no_choice(page: Any, standin: SaaSusStandIn, user: User) -> str:
    # What an old or broken browser might send: no choice at all (the script would stop it).
    page.evaluate("() => document.querySelectorAll('input[name=tenant_id]').forEach(i => i.remove())")
    with page.expect_navigation():
        page.evaluate("() => HTMLFormElement.prototype.submit.call(document.getElementById('picker'))")
    return "sent"


def _too_large(page: Any, standin: SaaSusStandIn, user: User) -> None:
    page.evaluate(
        """() => { const i = document.createElement('input'); i.type = 'hidden'; i.name = 'x';
                   i.value = 'y'.repeat(5000); document.getElementById('picker').appendChild(i); }"""
    )


def _link_down(page: Any, standin: SaaSusStandIn, user: User) -> None:
    standin.inject("link", status=500)


def _link_slow(page: Any, standin: SaaSusStandIn, user: User) -> None:
    standin.inject("link", delay=1.5)


def _link_refused(page: Any, standin: SaaSusStandIn, user: User) -> None:
    standin.inject("link", status=400, body='{"type": "invalid_registration_token", "message": "used"}')


FAILURES = [
    pytest.param(
        _at_arrival(lambda s, u: {"code": "bad", "registration_token": "bad"}), "bad_request", id="arrival-bad-request"
    ),
    pytest.param(_post_at_arrival, "method_not_allowed", id="arrival-method"),
    pytest.param(
        _at_arrival(lambda s, u: {"code": str(uuid.uuid4()), "registration_token": s.issue_registration_token()}),
        "code_rejected",
        id="arrival-code-rejected",
    ),
    pytest.param(_at_arrival(_spent), "registration_invalid", id="arrival-token-used"),
    pytest.param(_at_arrival(_slow_arrival), "saasus_timeout", id="arrival-timeout"),
    pytest.param(_at_arrival(_down_arrival), "saasus_unavailable", id="arrival-unavailable"),
    pytest.param(_no_state, "state_missing", id="picker-no-state"),
    pytest.param(_bad_state, "state_invalid", id="picker-bad-state"),
    pytest.param(_no_tenant, "no_tenants", id="picker-no-tenant"),
    pytest.param(_picker_down, "saasus_unavailable", id="picker-unavailable"),
    pytest.param(_spent_meanwhile, "registration_invalid", id="picker-token-used"),
    pytest.param(_choose_then(_forge_csrf), "csrf_failed", id="link-csrf"),
    pytest.param(_choose_then(_not_yours), "tenant_not_allowed", id="link-not-yours"),
    pytest.param(_choose_then(_taken_meanwhile), "tenant_already_linked", id="link-already-linked"),
    pytest.param(_choose_then(_no_choice), "bad_request", id="link-bad-request"),
    pytest.param(_choose_then(_too_large), "body_too_large", id="link-too-large"),
    pytest.param(_choose_then(_link_down), "saasus_unavailable", id="link-unavailable"),
    pytest.param(_choose_then(_link_slow), "saasus_timeout", id="link-timeout"),
    pytest.param(_choose_then(_link_refused), "link_rejected", id="link-rejected"),
]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("cause", "code"), FAILURES)
def test_every_failure_page(
    browser: Any,
    product: str,
    standin: SaaSusStandIn,
    gallery: Gallery,
    request: pytest.FixtureRequest,
    cause: Callable[..., None],
    code: str,
    locale: str,
) -> None:
    user = shopper(standin, [Tenant("Acme Corporation"), Tenant("Globex")], linked=None)
    context = context_for(browser, locale)
    page = context.new_page()
    cause(page, product, standin, user)
    assert page.locator("[data-error]").get_attribute("data-error") == code, page.locator("main").inner_text()
    assert page.locator(f'main a[href="{SUPPORT}"]').count() == 1  # support on every failure page
    assert "saasus" not in page.locator("body").inner_text().lower()
    gallery.check(page, request.node.callspec.id.rsplit("-", 1)[0], locale)
    context.close()


# Pages no browser can cause on purpose: drawn by the real renderer, with the offer the
# router's table gives them, on the product's origin (a route), so their links are real.
DRAWN = [
    pytest.param(ErrorCode.INTERNAL, "link", id="internal"),
    pytest.param(ErrorCode.IN_PROGRESS, "link", id="in-progress"),
    pytest.param(ErrorCode.STATE_TOO_LARGE, "arrival", id="state-too-large"),
    pytest.param(ErrorCode.STATE_EXPIRED, "picker", id="state-expired"),
]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("code", "where"), DRAWN)
def test_failure_pages_drawn(
    browser: Any, product: str, standin: SaaSusStandIn, gallery: Gallery, code: ErrorCode, where: str, locale: str
) -> None:
    settings = Settings.load(
        environ={},
        saasus_saas_id="s",
        saasus_api_key="k",
        saasus_secret_key="secret-0123456789",
        support_url=SUPPORT,
        product_name=PRODUCT,
        success_url="/welcome",
    )
    pages = Pages(settings)
    offer = OFFERS[code].get(where, Offer(console=True))
    offer = Offer(**{**offer.__dict__, "home_url": "/welcome", "support_url": SUPPORT, "reference": "3f1c0a9e5b7d2468"})
    body = pages.error(code, offer, language=locale[:2]).body
    context = context_for(browser, locale)
    context.route(f"{product}/drawn", lambda route: route.fulfill(status=200, content_type="text/html", body=body))
    page = context.new_page()
    page.goto(f"{product}/drawn")
    assert page.locator("[data-error]").get_attribute("data-error") == code.value
    if offer.console:
        assert page.locator(f'main a[href="{CONSOLE_URL}"]').count() == 1
    gallery.check(page, code.value.replace("_", "-"), locale)
    context.close()
