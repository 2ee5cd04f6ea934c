"""The whole journey in a real browser, as a buyer would do it, in English and Japanese.

Debian's chromium driven by Playwright (never `playwright install`): the
stand-in's hosted login on http://localhost redirects cross-site to the product
on http://127.0.0.1, which is what proves the state cookie survives the
redirect chain. axe-core checks every page the middleware shows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .servers import CHROMIUM, CHROMIUM_ARGS, running
from .test_cli import Demo, running_demo

playwright_sync = pytest.importorskip("playwright.sync_api")
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")

DOCS = Path(__file__).resolve().parent.parent / "docs"


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


@pytest.fixture(scope="module")
def product(standin: SaaSusStandIn) -> Iterator[str]:
    with running("uvicorn", standin) as url:
        yield url


@pytest.fixture(scope="module")
def product_new(standin: SaaSusStandIn) -> Iterator[str]:
    """The example product with "A new account" offered in the picker."""
    with running("uvicorn", standin, SAASUS_MW_ALLOW_NEW_TENANT="true") as url:
        yield url


def arrive(page: object, product: str, standin: SaaSusStandIn, user: User) -> None:
    """Sign in as ``user`` on the stand-in's hosted login (another site), on to the picker."""
    login = standin.login_url(f"{product}/callback", email=user.email).replace("127.0.0.1", "localhost", 1)
    page.goto(login)  # type: ignore[attr-defined]
    page.wait_for_url("**/callback?saasus_mw=select&purchase=*")  # type: ignore[attr-defined]


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

    page.wait_for_url("**/callback?saasus_mw=select&purchase=*")
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
    page.wait_for_url("**/callback?saasus_mw=select&purchase=*")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert_accessible(page, "picker at 320 px")
    context.close()


# -- the filter never hides what is submitted ----------------------------------------


def posts_of(page: object) -> list[str]:
    """The URLs of every POST the page sends from now on."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)  # type: ignore[attr-defined]
    return posts


def test_filter_keeps_the_preselected_tenant_visible(browser: object, product: str, standin: SaaSusStandIn) -> None:
    # One eligible tenant among three: preselected. A filter matching nothing used to
    # hide it, and the button then linked a tenant the buyer could not see.
    tenants = [Tenant(name="Acme Corporation"), Tenant(name="Globex"), Tenant(name="Initech")]
    shopper = standin.add_user(email="buyer.filter-one@example.com", tenants=tenants)
    standin.link_customer(tenants[1].id)
    standin.link_customer(tenants[2].id)
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    arrive(page, product, standin, shopper)
    checked = page.locator("input[name=tenant_id]:checked")
    assert checked.get_attribute("value") == tenants[0].id

    page.locator("#filter").fill("no such account")
    # The checked row stays on screen (the others are filtered away), and so what
    # the button submits is what the buyer sees.
    assert page.locator("ul.tenants li:visible").count() == 1
    assert checked.is_visible() and page.get_by_label("Acme Corporation").is_visible()
    assert page.locator("#filter-status").inner_text() == "1 of 3 accounts shown"
    with page.expect_navigation():
        page.get_by_role("button", name="Get started with this account").click()
    assert page.url == f"{product}/welcome"
    assert [(t, u) for t, u, _ in standin.links] == [(tenants[0].id, shopper.id)]
    context.close()


@pytest.mark.parametrize(
    ("locale", "message"),
    [
        pytest.param("en-US", "Choose an account first.", id="en"),
        pytest.param("ja-JP", "アカウントを選択してください。", id="ja"),
    ],
)
def test_nothing_chosen_and_everything_filtered_away_says_so(
    browser: object, product: str, standin: SaaSusStandIn, locale: str, message: str
) -> None:
    shopper = standin.add_user(
        email=f"buyer.filter-none.{locale.lower()}@example.com",
        tenants=[Tenant(name="Acme Corporation"), Tenant(name="Globex")],
    )
    context = browser.new_context(locale=locale)  # type: ignore[attr-defined]
    page = context.new_page()
    arrive(page, product, standin, shopper)
    assert page.locator("input[name=tenant_id]:checked").count() == 0
    posts = posts_of(page)
    problem = page.locator("#submit-problem")
    assert problem.is_hidden()

    page.locator("#filter").fill("no such account")
    assert page.locator("ul.tenants li:visible").count() == 0
    page.locator("button[type=submit]").press("Enter")
    # Not submitted: a visible message, announced (role=alert) and focused.
    problem.wait_for(state="visible")
    assert problem.inner_text() == message and problem.get_attribute("role") == "alert"
    assert page.evaluate("document.activeElement.id") == "submit-problem"
    assert "/callback?saasus_mw=select&purchase=" in page.url and posts == []
    assert_accessible(page, f"picker saying nothing is chosen ({locale})")

    # Filter, then choose with the mouse: one click must do. Leaving the filter used to
    # hide the message on the radio's mousedown, moving the radio from under the
    # pointer before its mouseup: the click was lost. Choosing clears the message.
    page.locator("#filter").fill("Globex")
    page.get_by_label("Globex").check()
    assert problem.is_hidden()
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert page.url == f"{product}/welcome" and len(posts) == 1
    assert [(t, u) for t, u, _ in standin.links] == [(shopper.tenants[1].id, shopper.id)]
    context.close()


# -- a new account for the purchase (SAASUS_MW_ALLOW_NEW_TENANT) ---------------------


def created_for(standin: SaaSusStandIn, user: User) -> list[str]:
    """The names of the tenants the stand-in created for ``user``, in order."""
    names = {t.id: t.name for t in user.tenants}
    return [names[tenant_id] for tenant_id, user_id, _ in standin.created if user_id == user.id]


@pytest.mark.parametrize(
    ("locale", "name", "submit"),
    [
        pytest.param("en-US", "Acme Research", "Get started with this account", id="en"),
        pytest.param("ja-JP", "株式会社テスト 開発部", "このアカウントで利用を開始", id="ja"),
    ],
)
def test_new_account_by_keyboard_only(
    browser: object, product_new: str, standin: SaaSusStandIn, locale: str, name: str, submit: str
) -> None:
    shopper = standin.add_user(
        email=f"buyer.new-keys.{locale.lower()}@example.com",
        tenants=[Tenant(name="Acme Corporation"), Tenant(name="Globex")],
    )
    context = browser.new_context(locale=locale)  # type: ignore[attr-defined]
    page = context.new_page()
    arrive(page, product_new, standin, shopper)
    new = page.locator("#t-new")
    name_box = page.locator("#new_tenant_name")
    assert not new.is_checked() and name_box.is_hidden()  # shown only once chosen
    assert_accessible(page, f"picker with a new account ({locale})")

    page.locator("#filter").focus()
    page.keyboard.press("Tab")  # into the radio group: nothing is chosen yet
    assert page.evaluate("document.activeElement.name") == "tenant_id"
    for _ in range(3):  # down the group, past both tenants, to "A new account"
        if new.is_checked():
            break
        page.keyboard.press("ArrowDown")
    assert new.is_checked() and page.evaluate("document.activeElement.id") == "t-new"
    assert name_box.is_visible() and name_box.is_enabled()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "new_tenant_name"
    page.keyboard.type(name)
    assert page.get_by_role("button", name=submit).is_visible()
    with page.expect_navigation():
        page.keyboard.press("Enter")  # submits the form from the text field
    assert page.url == f"{product_new}/welcome", page.content()[-1500:]
    assert created_for(standin, shopper) == [name] and len(standin.created) == 1
    assert standin.links == []
    context.close()


def test_a_missing_name_is_said_and_one_click_then_sends(
    browser: object, product_new: str, standin: SaaSusStandIn
) -> None:
    shopper = standin.add_user(
        email="buyer.new-empty@example.com", tenants=[Tenant(name="Acme Corporation"), Tenant(name="Globex")]
    )
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    arrive(page, product_new, standin, shopper)
    posts = posts_of(page)
    page.get_by_label("A new account").check()
    page.get_by_role("button", name="Get started with this account").click()
    # No name: said at once, announced and focused; nothing sent.
    problem = page.locator("#submit-problem")
    problem.wait_for(state="visible")
    assert problem.inner_text() == "Enter a name for the new account."
    assert page.evaluate("document.activeElement.id") == "submit-problem" and posts == []

    # Type the name, then one click on the button. Leaving the field used to hide the
    # message on the button's mousedown, moving the button from under the pointer
    # before its mouseup: the click was lost and nothing happened.
    page.get_by_label("Name of the new account").fill("Acme Labs")
    with page.expect_navigation(timeout=5000):
        page.get_by_role("button", name="Get started with this account").click()
    assert page.url == f"{product_new}/welcome", page.content()[-1500:]
    assert created_for(standin, shopper) == ["Acme Labs"] and standin.links == [] and len(posts) == 1
    context.close()


def test_new_account_without_javascript(browser: object, product_new: str, standin: SaaSusStandIn) -> None:
    shopper = standin.add_user(
        email="buyer.new-nojs@example.com", tenants=[Tenant(name="Acme Corporation"), Tenant(name="Globex")]
    )
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    arrive(page, product_new, standin, shopper)
    assert page.locator("#filter-box").is_hidden()  # the filter needs JavaScript: every tenant is listed
    assert page.locator("#new_tenant_name").is_hidden()
    page.get_by_label("A new account").check()
    assert page.locator("#new_tenant_name").is_visible()  # CSS alone reveals the field

    # A blank name: the server says what to fix, keeping the form.
    page.get_by_label("Name of the new account").fill("   ")
    with page.expect_navigation() as blank:
        page.locator("button[type=submit]").click()
    assert blank.value is not None and blank.value.status == 400
    assert page.locator("[role=alert]:visible").inner_text() == "Enter a name for the new account."
    assert page.locator("#t-new").is_checked() and standin.created == []

    page.get_by_label("Name of the new account").fill("Acme Labs")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert page.url == f"{product_new}/welcome", page.content()[-1500:]
    assert created_for(standin, shopper) == ["Acme Labs"] and standin.links == []
    context.close()


def test_without_javascript_a_name_typed_then_abandoned_is_ignored(
    browser: object, product_new: str, standin: SaaSusStandIn
) -> None:
    shopper = standin.add_user(
        email="buyer.new-abandoned@example.com", tenants=[Tenant(name="Acme Corporation"), Tenant(name="Globex")]
    )
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    arrive(page, product_new, standin, shopper)
    page.get_by_label("A new account").check()
    page.get_by_label("Name of the new account").fill("Second thoughts")
    page.get_by_label("Acme Corporation").check()  # changed my mind: the name field disappears
    assert page.locator("#new_tenant_name").is_hidden()
    try:
        with page.expect_navigation():
            page.locator("button[type=submit]").click()
        # What the buyer sees chosen is what is linked.
        assert page.url == f"{product_new}/welcome", page.locator("main").inner_text()
        assert [(t, u) for t, u, _ in standin.links] == [(shopper.tenants[0].id, shopper.id)]
    finally:
        context.close()


@pytest.mark.parametrize(
    ("locale", "only_new", "fix"),
    [
        pytest.param(
            "en-US", "None of your accounts can take this purchase", "contains characters that cannot be used", id="en"
        ),
        pytest.param("ja-JP", "このご購入のために新しいアカウントを作成できます", "使用できない文字", id="ja"),
    ],
)
def test_buyer_without_an_eligible_tenant_gets_a_new_account(
    browser: object, product_new: str, standin: SaaSusStandIn, locale: str, only_new: str, fix: str
) -> None:
    tenants = [Tenant(name="Acme Corporation"), Tenant(name="Globex Japan", completed_sign_up=False)]
    shopper = standin.add_user(email=f"buyer.new-only.{locale.lower()}@example.com", tenants=tenants)
    standin.link_customer(tenants[0].id)
    # 320 CSS px: a phone, or a 640 px window at 200 % zoom.
    context = browser.new_context(locale=locale, viewport={"width": 320, "height": 640})  # type: ignore[attr-defined]
    page = context.new_page()
    arrive(page, product_new, standin, shopper)
    assert only_new in page.locator("main").inner_text()
    enabled = page.locator("input[name=tenant_id]:enabled")
    assert enabled.count() == 1 and enabled.get_attribute("id") == "t-new" and enabled.is_checked()
    assert page.locator("#new_tenant_name").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert_accessible(page, f"picker with only a new account ({locale})")

    # A name with an invisible control character: the server answers 400, keeps the
    # input and announces what to fix.
    bad = "Acme\u200bLabs"
    page.locator("#new_tenant_name").fill(bad)
    with page.expect_navigation() as sent:
        page.locator("button[type=submit]").click()
    assert sent.value is not None and sent.value.status == 400
    assert fix in page.locator("[role=alert]:visible").inner_text()
    assert page.locator("#new_tenant_name").input_value() == bad
    assert page.locator("#new_tenant_name").get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert_accessible(page, f"new account name problem ({locale})")
    assert standin.created == []

    page.locator("#new_tenant_name").fill("Acme Labs 研究所")
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert page.url == f"{product_new}/welcome", page.content()[-1500:]
    assert created_for(standin, shopper) == ["Acme Labs 研究所"] and standin.links == []
    context.close()


# -- the default hand-off: signed in at the product's own callback -------------------


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """``saasus-mw demo``: its product exchanges the handed-off code (the examples only echo it)."""
    with running_demo() as running:
        yield running


def test_handoff_signs_the_buyer_in_at_the_products_callback(browser: object, demo: Demo) -> None:
    # SAASUS_MW_SUCCESS_URL empty (the demo's setting): after the link, the
    # middleware sends the buyer with a fresh code to the product's own callback.
    context = browser.new_context(locale="ja-JP")  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(demo.product + "/")
    assert "You are not signed in" in page.content() and "linked" not in page.content().lower()

    page.get_by_role("link", name="buy on AWS Marketplace").click()  # to the hosted login on localhost
    page.get_by_role("link", name="buyer@example.com").click()
    page.wait_for_url("**/callback?saasus_mw=select&purchase=*")
    callbacks: list[str] = []
    page.on("request", lambda r: callbacks.append(r.url) if "/callback?code=" in r.url else None)
    page.get_by_label("株式会社サンプル").check()
    with page.expect_navigation(url=demo.product + "/"):
        page.get_by_role("button", name="このアカウントで利用を開始").click()

    # Through the product's callback with a code, which it exchanged: it knows who this is.
    assert len(callbacks) == 1 and "registration_token" not in callbacks[0]
    text = page.locator("body").inner_text()
    assert "Signed in as buyer@example.com." in text
    assert "Your AWS Marketplace purchase went to 株式会社サンプル (an account you chose" in text
    assert "株式会社サンプル (plan Pro) - has your purchase" in text  # the plan's name, never its id
    page.reload()  # a session, not the code: still signed in
    assert "Signed in as buyer@example.com." in page.locator("body").inner_text()
    context.close()
