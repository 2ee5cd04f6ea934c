"""After the purchase, in a real browser: cookie tossing (issue 18) and a returning buyer (issue 17).

The product is served as http://app.example.test, a page on http://evil.example.test
sets cookies of the state's names with ``Domain=example.test; Path=/callback``, and
Debian's chromium (Playwright, executable_path) then sends both the tossed cookie and
the product's own, the tossed one first. Both host names resolve to 127.0.0.1
(``--host-resolver-rules``). The journey must stay the buyer's own.

A returning buyer (a fresh login for a purchase already set up) is told so on an
accessible page, and "Continue" signs them in.
"""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, User

from .servers import CHROMIUM, CHROMIUM_ARGS, free_port, running

playwright_sync = pytest.importorskip("playwright.sync_api")
axe_sync = pytest.importorskip("axe_playwright_python.sync_playwright")

if not __import__("pathlib").Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

NAME = "saasus_mw_state"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        args = [*CHROMIUM_ARGS, "--host-resolver-rules=MAP *.example.test 127.0.0.1"]
        instance = p.chromium.launch(executable_path=CHROMIUM, args=args)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def product(standin: SaaSusStandIn) -> Iterator[tuple[str, str]]:
    """(the URL the browser uses, the URL the test's own client uses) of one product server."""
    with running("uvicorn", standin) as url:
        yield url.replace("127.0.0.1", "app.example.test"), url


class _Evil(http.server.BaseHTTPRequestHandler):
    tossed: list[str] = []  # noqa: RUF012 - set by the test before the page is visited

    def do_GET(self) -> None:
        self.send_response(200)
        for pair in self.tossed:
            self.send_header("Set-Cookie", f"{pair}; Domain=example.test; Path=/callback; Max-Age=3600")
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>A page on a sibling subdomain</title>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def evil() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://evil.example.test:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _user(standin: SaaSusStandIn, tenant: str) -> User:
    return standin.add_user(email=f"{tenant.lower()}-{uuid.uuid4().hex[:6]}@example.com", tenants=[tenant])


def _pairs(response: httpx.Response, prefix: str) -> list[str]:
    return [c.split(";", 1)[0] for c in response.headers.get_list("set-cookie") if c.startswith(prefix)]


def _mallory_arrives(standin: SaaSusStandIn, direct: str, mallory: User) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=direct, timeout=10)
    params = {"code": standin.issue_code(mallory), "registration_token": standin.issue_registration_token()}
    return client, client.get("/callback", params=params)


def _victim_arrives(browser: object, site: str, evil: str, standin: SaaSusStandIn, victim: User) -> object:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(evil)  # once, at any time before: the tossed cookies stay
    tossed = [c for c in context.cookies() if c["name"].startswith(NAME)]
    assert tossed and all(c["domain"] == ".example.test" for c in tossed)
    page.goto(standin.login_url(f"{site}/callback", email=victim.email))  # the hosted login, on to the picker
    page.wait_for_url("**/callback?saasus_mw=select*")
    # The browser holds both now: the product's own and the tossed ones (sent first).
    names = [c["name"] for c in context.cookies() if c["name"] == f"{NAME}_0"]
    assert len(names) == (2 if any(c["name"] == f"{NAME}_0" for c in tossed) else 1)
    return page


def test_a_tossed_state_never_makes_the_victim_the_attacker(
    browser: object, product: tuple[str, str], evil: str, standin: SaaSusStandIn
) -> None:
    site, direct = product
    victim, mallory = _user(standin, "Victim"), _user(standin, "Mallory")
    client, arrival = _mallory_arrives(standin, direct, mallory)  # Mallory's own, valid state
    client.close()
    _Evil.tossed = _pairs(arrival, NAME)
    page = _victim_arrives(browser, site, evil, standin, victim)
    text = page.locator("body").inner_text()  # type: ignore[attr-defined]
    assert victim.email in text and mallory.email not in text
    assert page.get_by_label("Victim").is_checked()  # type: ignore[attr-defined]
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.get_by_role("button", name="Get started with this account").click()  # type: ignore[attr-defined]
    assert page.url == f"{site}/welcome"  # type: ignore[attr-defined]
    assert [(t, u) for t, u, _ in standin.links[-1:]] == [(victim.tenants[0].id, victim.id)]
    page.context.close()  # type: ignore[attr-defined]


def test_empty_chunks_and_a_tossed_marker_never_say_linked(
    browser: object, product: tuple[str, str], evil: str, standin: SaaSusStandIn
) -> None:
    site, direct = product
    victim, mallory = _user(standin, "Victim"), _user(standin, "Mallory")
    client, arrival = _mallory_arrives(standin, direct, mallory)
    picker = arrival.headers["location"]
    csrf = client.get(picker).text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    done = client.post(picker, data={"csrf_token": csrf, "tenant_id": mallory.tenants[0].id})
    client.close()
    _Evil.tossed = [f"{NAME}_0=", f"{NAME}_1=", *_pairs(done, f"{NAME}_done=")]  # Mallory's own marker
    page = _victim_arrives(browser, site, evil, standin, victim)
    text = page.locator("body").inner_text()  # type: ignore[attr-defined]
    assert "linked" not in text.lower() and victim.email in text  # the victim's own, unlinked purchase
    assert page.locator("h1").inner_text() == "Select Account"  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("locale", "title"), [("en-US", "This purchase is already set up"), ("ja-JP", "このご購入はすでに設定されています")]
)
def test_a_returning_buyer_is_told_and_continues_signed_in(
    browser: object, product: tuple[str, str], standin: SaaSusStandIn, locale: str, title: str
) -> None:
    site, _ = product
    buyer = _user(standin, "Returning")
    standin.link_customer(buyer.tenants[0].id)  # set up before, from another browser
    context = browser.new_context(locale=locale)  # type: ignore[attr-defined]
    page = context.new_page()
    # "Set up your account" again: a fresh login, for a registration token already spent.
    token = standin.issue_registration_token()
    standin.spend_registration_token(token)
    page.goto(f"{site}/callback?" + urlencode({"code": standin.issue_code(buyer), "registration_token": token}))
    page.wait_for_url("**/callback?saasus_mw=select*")
    assert page.locator("h1").inner_text() == title, page.content()[-1500:]
    assert page.locator("[role=alert]").count() == 0  # not an error
    results = axe_sync.Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    with page.expect_navigation():
        page.get_by_role("button").click()
    assert page.url == f"{site}/welcome" and standin.links == []
    context.close()
