"""The whole journey in a real browser, as a buyer would do it, in English and Japanese.

Debian's chromium driven by Playwright (never `playwright install`): the
stand-in's hosted login on http://localhost redirects cross-site to the product
on http://127.0.0.1, which is what proves the state cookie survives the
redirect chain. axe-core checks every page the middleware shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .servers import running

playwright_sync = pytest.importorskip("playwright.sync_api")
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium (see .ci/run)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def product(standin: SaaSusStandIn) -> Iterator[str]:
    with running("uvicorn", standin) as url:
        yield url


def make_shopper(standin: SaaSusStandIn, email: str) -> User:
    tenants = [
        Tenant(name="Acme Corporation", plan_id="plan-basic", roles=("admin",)),
        Tenant(name="株式会社サンプル", plan_id="plan-pro", roles=("admin",)),
        Tenant(name="サンプル物流株式会社", roles=("admin",)),
        Tenant(name="Globex Japan", completed_sign_up=False),
        Tenant(name="Initech", roles=("viewer",)),
        *(Tenant(name=f"Example Team {i:02d}") for i in range(1, 21)),
    ]
    user = standin.add_user(email=email, tenants=tenants)
    standin.link_customer(tenants[2].id)
    return user


def screenshot_dir(tmp_path: Path) -> Path:
    """docs/ when asked (SAASUS_MW_SCREENSHOTS=1, for the README), else a temporary folder."""
    if os.environ.get("SAASUS_MW_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        return DOCS
    return tmp_path


def assert_accessible(page: object, what: str) -> None:
    results = axe_sync.Axe().run(page)
    assert results.violations_count == 0, f"{what}:\n{results.generate_report()}"


@pytest.mark.parametrize(
    ("locale", "title", "submit", "done"),
    [
        pytest.param("en-US", "Select Account", "Get started with this account", "purchase is linked", id="en"),
        pytest.param("ja-JP", "アカウントの選択", "このアカウントで利用を開始", "purchase is linked", id="ja"),
    ],
)
def test_buyer_journey(
    browser: object,
    product: str,
    standin: SaaSusStandIn,
    tmp_path: Path,
    locale: str,
    title: str,
    submit: str,
    done: str,
) -> None:
    shopper = make_shopper(standin, f"buyer.{locale.lower()}@example.com")
    context = browser.new_context(locale=locale, viewport={"width": 1000, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    login = standin.login_url(f"{product}/callback").replace("127.0.0.1", "localhost", 1)
    page.goto(login)
    page.get_by_text(shopper.email).click()  # the hosted login on another site

    page.wait_for_url("**/callback?saasus_mw=select")
    assert page.locator("h1").inner_text() == title
    assert "registration_token" not in page.url and "code=" not in page.url
    assert_accessible(page, f"picker ({locale})")

    # Filter as you type: the list narrows.
    page.locator("#filter").fill("サンプル")
    visible = page.locator("ul.tenants li:visible")
    assert visible.count() == 2
    page.locator("#filter").fill("")
    page.screenshot(path=str(screenshot_dir(tmp_path) / f"picker-{locale[:2]}.png"), full_page=False)

    # Keyboard only: into the filter, to the chosen tenant, then submit.
    page.locator("#filter").focus()
    page.keyboard.type("Acme")
    page.keyboard.press("Tab")  # the first visible radio in the group
    page.keyboard.press("Space")
    assert page.locator("input[name=tenant_id]:checked").get_attribute("value") == shopper.tenants[0].id
    page.get_by_role("button", name=submit).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url == f"{product}/welcome", page.content()[-1500:]
    assert done in page.content()
    assert standin.links[-1] == (shopper.tenants[0].id, shopper.id, standin.links[-1][2])

    # Back to the picker after success: a kind page, also accessible.
    page.goto(f"{product}/callback?saasus_mw=select")
    assert page.locator("h1").count() == 1
    assert_accessible(page, f"linked page ({locale})")
    context.close()


@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
def test_error_pages_are_accessible_and_reflow(browser: object, product: str, locale: str) -> None:
    context = browser.new_context(locale=locale, viewport={"width": 320, "height": 640})  # type: ignore[attr-defined]
    page = context.new_page()
    for path in (
        "/callback?code=bad&registration_token=bad",  # bad request
        "/callback?saasus_mw=select",  # no state cookie
    ):
        response = page.goto(product + path)
        assert response is not None and response.status == 400
        assert page.locator("[role=alert]").count() == 1  # announced
        assert page.evaluate("document.documentElement.scrollWidth") <= 320  # no sideways scrolling
        assert_accessible(page, f"{path} ({locale})")
    context.close()


def test_picker_reflows_at_320px_and_200_percent(browser: object, product: str, standin: SaaSusStandIn) -> None:
    shopper = make_shopper(standin, "buyer.reflow@example.com")
    # 320 CSS px is what a 640 px window shows at 200 % zoom.
    context = browser.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=2)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(standin.login_url(f"{product}/callback").replace("127.0.0.1", "localhost", 1))
    page.get_by_text(shopper.email).click()
    page.wait_for_url("**/callback?saasus_mw=select")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert_accessible(page, "picker at 320 px")
    context.close()
