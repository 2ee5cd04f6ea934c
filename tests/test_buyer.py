"""Every buyer reaches the product (issue 17): what each page offers, what real SaaSus sends.

Both adapters: the ways on of every failure (only what can work from there), support
and one reference on every failure page, plan names never ids, sign-in-ID users, the
X-Saasus-Trace-Id of each step, and a registration token whose "+" arrived as a space.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import httpx
import pytest

from saasus_mw import ErrorCode, Failure, Linked
from saasus_mw.journey.answers import OFFERS
from saasus_mw.pages import CONSOLE_URL, Choice, Offer, Pages
from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .conftest import Adapter, begin, error_code, make_settings, pick

SUPPORT = "https://support.example.com/help"
EN = json.loads(resources.files("saasus_mw").joinpath("locales/en.json").read_text("utf-8"))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


class _Page(HTMLParser):
    """What a buyer can read and follow: visible text, and each link or button in <main>."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []  # (label, href)
        self._skip = 0
        self._href: str | None = None
        self._label: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1
        elif tag == "a":
            self._href, self._label = dict(attrs).get("href") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1
        elif tag == "a" and self._href is not None:
            self.links.append(("".join(self._label).strip(), self._href))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._href is not None:
            self._label.append(data)


def read(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


_KINDS = {
    EN["try_again"]: "retry",
    EN["back_to_list_link"]: "back",
    EN["console_link"]: "console",
    EN["signup_link"]: "signup",
    EN["support_link"]: "support",
}


def offered(response: httpx.Response) -> set[str]:
    """The ways on a failure page offers, by kind; "home" for the product's home page."""
    kinds = set()
    for label, href in read(response.text).links:
        kinds.add(_KINDS.get(label, "home" if label == EN["home_link"] else label))
        if label == EN["console_link"]:
            assert href == CONSOLE_URL
        if label in (EN["try_again"], EN["back_to_list_link"]):
            assert href == ""  # this page's own address: the picker, never a token in the page
    return kinds


# -- what each failure offers: the scenario that causes it, and what can work from there ----


def _arrive(client: httpx.Client, standin: SaaSusStandIn, user: User) -> str:
    return begin(client, standin, user)[1]


def _bad_query(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    return client.get("/callback", params={"code": "bad", "registration_token": "bad"})


def _used_code(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    return client.get(
        "/callback", params={"code": str(uuid.uuid4()), "registration_token": standin.issue_registration_token()}
    )


def _spent_token(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    # With a good code this is a returning buyer (tests/test_returning.py): here the code is spent too.
    token = standin.issue_registration_token()
    standin.spend_registration_token(token)
    return client.get("/callback", params={"code": str(uuid.uuid4()), "registration_token": token})


def _fault_at_arrival(**fault: Any) -> Callable[[httpx.Client, SaaSusStandIn, User], httpx.Response]:
    def run(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
        standin.inject("credentials", **fault)
        params = {"code": standin.issue_code(user), "registration_token": standin.issue_registration_token()}
        return client.get("/callback", params=params)

    return run


def _post_at_arrival(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    return client.post("/callback?registration_token=x&code=y")


def _no_cookie(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    return client.get("/callback?saasus_mw=select")


def _bad_cookie(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    picker = _arrive(client, standin, user)
    client.cookies.clear()
    return client.get(picker, headers={"cookie": "saasus_mw_state_0=" + "A" * 80})


def _fault_at_picker(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    picker = _arrive(client, standin, user)
    standin.inject("userinfo", status=500)
    return client.get(picker)


def _token_spent_elsewhere(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    token, picker = begin(client, standin, user)
    standin.spend_registration_token(token)
    return client.get(picker)


def _put(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    _arrive(client, standin, user)
    return client.put("/callback?saasus_mw=select")


def _post(**data: str) -> Callable[[httpx.Client, SaaSusStandIn, User], httpx.Response]:
    def run(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
        picker = _arrive(client, standin, user)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get(picker).text)
        assert csrf
        form = {"csrf_token": csrf.group(1), **data}
        if form.get("tenant_id") == "MINE":
            form["tenant_id"] = user.tenants[0].id
        return client.post(picker, data=form)

    return run


def _fault_at_link(**fault: Any) -> Callable[[httpx.Client, SaaSusStandIn, User], httpx.Response]:
    def run(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
        picker = _arrive(client, standin, user)
        standin.inject("link", **fault)
        return pick(client, picker, user.tenants[0].id)

    return run


def _already_linked(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    picker = _arrive(client, standin, user)
    page = client.get(picker)
    standin.link_customer(user.tenants[0].id)  # another purchase took it meanwhile
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    return client.post(picker, data={"csrf_token": csrf.group(1), "tenant_id": user.tenants[0].id})


def _too_large(client: httpx.Client, standin: SaaSusStandIn, user: User) -> httpx.Response:
    picker = _arrive(client, standin, user)
    return client.post(picker, data={"csrf_token": "x", "tenant_id": "y" * 5000})


HOME, SUPPORT_LINK = {"home", "support"}, "support"
OFFER_TABLE = [
    # (where, cause, code, offered besides home and support)
    pytest.param(_bad_query, "bad_request", {"console"}, id="arrival-bad-request"),
    pytest.param(_post_at_arrival, "method_not_allowed", {"console"}, id="arrival-method"),
    pytest.param(_used_code, "code_rejected", {"console"}, id="arrival-code-rejected"),
    pytest.param(_spent_token, "registration_invalid", {"console"}, id="arrival-token-and-code-used"),
    # The single-use code is gone once sent: a retry would say "sign-in expired".
    pytest.param(_fault_at_arrival(delay=3.0), "saasus_timeout", {"console"}, id="arrival-timeout"),
    pytest.param(_fault_at_arrival(status=500), "saasus_unavailable", {"console"}, id="arrival-5xx"),
    pytest.param(_no_cookie, "state_missing", {"console"}, id="picker-no-state"),
    pytest.param(_bad_cookie, "state_invalid", {"console"}, id="picker-bad-state"),
    pytest.param(_fault_at_picker, "saasus_unavailable", {"retry"}, id="picker-5xx"),
    pytest.param(_token_spent_elsewhere, "registration_invalid", {"console"}, id="picker-token-used"),
    pytest.param(_put, "method_not_allowed", {"back"}, id="picker-method"),
    pytest.param(_post(tenant_id="MINE", csrf_token="forged"), "csrf_failed", {"back"}, id="link-csrf"),
    pytest.param(_post(), "bad_request", {"back"}, id="link-no-choice"),
    pytest.param(_post(tenant_id=str(uuid.uuid4())), "tenant_not_allowed", {"back"}, id="link-not-yours"),
    pytest.param(_already_linked, "tenant_already_linked", {"back"}, id="link-already-linked"),
    pytest.param(_too_large, "body_too_large", {"back"}, id="link-too-large"),
    pytest.param(_fault_at_link(status=500), "saasus_unavailable", {"retry"}, id="link-5xx"),
    pytest.param(_fault_at_link(delay=3.0), "saasus_timeout", {"retry"}, id="link-timeout"),
    pytest.param(
        _fault_at_link(status=400, body='{"type": "invalid_registration_token", "message": "used"}'),
        "link_rejected",
        {"console"},
        id="link-rejected",
    ),
]


@pytest.mark.parametrize(("cause", "code", "ways"), OFFER_TABLE)
def test_every_failure_offers_only_what_can_work_from_there(
    adapter: Adapter,
    standin: SaaSusStandIn,
    buyer: User,
    cause: Callable[[httpx.Client, SaaSusStandIn, User], httpx.Response],
    code: str,
    ways: set[str],
) -> None:
    with adapter.connect(make_settings(standin, support_url=SUPPORT)) as client:
        response = cause(client, standin, buyer)
    assert error_code(response) == code, response.text[-600:]
    assert offered(response) == ways | {"home", "support"}
    text = " ".join(read(response.text).text)
    assert text.count("Reference:") == 1  # one reference, the one support needs
    assert f'href="{SUPPORT}"' in response.text


def test_every_error_code_is_decided() -> None:
    assert set(OFFERS) == set(ErrorCode)


@pytest.mark.parametrize("signup_url", ["", "/signup"])
def test_no_tenant_page_shows_one_reference_and_a_way_on(
    adapter: Adapter, standin: SaaSusStandIn, signup_url: str
) -> None:
    user = standin.add_user(f"pending-{uuid.uuid4().hex[:8]}@example.com", [Tenant("Pending", completed_sign_up=False)])
    with adapter.connect(make_settings(standin, signup_url=signup_url, support_url=SUPPORT)) as client:
        token, picker = begin(client, standin, user)
        response = client.get(picker)
    assert error_code(response) == "no_tenants"
    text = " ".join(read(response.text).text)
    journey = __import__("hashlib").sha256(token.encode()).hexdigest()[:16]
    assert text.count("Reference:") == 1 and text.count(journey) == 1
    # An account first, then back through AWS Marketplace; without a sign-up page, support.
    assert offered(response) == ({"signup", "console"} if signup_url else set()) | {"home", "support"}


def test_without_a_support_url_failure_pages_still_lead_home(client: httpx.Client) -> None:
    response = client.get("/callback?saasus_mw=select")
    assert offered(response) == {"console", "home"}


# -- no "SaaSus" on any page a buyer sees, in either language --------------------------


def _every_page(pages: Pages, language: str) -> list[str]:
    choices = [
        Choice(str(uuid.uuid4()), "Acme", None, ("admin",), "Your role: admin"),
        Choice(str(uuid.uuid4()), "Globex", None, (), "", "Sign-up not completed"),
    ]
    rendered = [
        pages.picker(email="a@example.com", choices=choices, csrf_token="c", language=language, new_tenant=True),
        pages.picker(
            email="",
            who="buyer-42",
            choices=choices,
            csrf_token="c",
            language=language,
            new_tenant=True,
            new_tenant_name=" ",
            problem="name_empty",
        ),
        pages.name_problem(csrf_token="c", language=language, name="x\u200b", problem="name_control"),
        pages.linked("/", language=language),
        pages.handoff_failed("/", language=language),
    ]
    for code in ErrorCode:
        rendered.append(
            pages.error(code, Offer(retry=True, console=True, home_url="/", reference="r"), language=language)
        )
    return [r.body.decode() for r in rendered]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_no_page_says_saasus(standin: SaaSusStandIn, language: str) -> None:
    pages = Pages(make_settings(standin, support_url=SUPPORT))
    for html in _every_page(pages, language):
        text = " ".join(read(html).text)
        assert "saasus" not in text.lower(), text
        assert not _UUID.search(text)


# -- plan names, never ids ---------------------------------------------------------------


def test_plan_names_not_ids_and_asked_alongside_the_rest(adapter: Adapter, standin: SaaSusStandIn) -> None:
    pro = standin.add_plan("Pro")
    user = standin.add_user(f"plan-{uuid.uuid4().hex[:8]}@example.com", [Tenant("Acme", plan_id=pro.id)])
    with adapter.connect(make_settings(standin)) as client:
        picker = begin(client, standin, user)[1]
        first = client.get(picker)
        again = client.get(picker)
    for page in (first, again):
        text = " ".join(read(page.text).text)
        assert "Plan: Pro" in text and pro.id not in text
    endpoints = [c.endpoint for c in standin.calls]
    # In the picker's first round trip (before the customers look, which needs userinfo's
    # answer), and from the cache the second time.
    assert endpoints.count("plans") <= 1
    if "plans" in endpoints:  # another test of this process may have filled the cache
        assert endpoints.index("plans") < endpoints.index("customers")
    assert "Authorization" in next(c for c in standin.calls if c.endpoint != "login").headers


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 403}], ids=["5xx", "pricing-not-allowed"])
def test_no_plan_line_when_the_names_cannot_be_had(
    adapter: Adapter, standin: SaaSusStandIn, fault: dict[str, Any]
) -> None:
    plan = standin.add_plan("Enterprise")
    user = standin.add_user(f"noplan-{uuid.uuid4().hex[:8]}@example.com", [Tenant("Acme", plan_id=plan.id)])
    standin.inject("plans", times=None, **fault)
    with adapter.connect(make_settings(standin)) as client:  # a new middleware: its own, empty cache
        page = client.get(begin(client, standin, user)[1])
    assert page.status_code == 200
    text = " ".join(read(page.text).text)
    assert "Plan" not in text and plan.id not in text and not _UUID.search(text)


def test_the_stand_in_insists_on_plan_uuids() -> None:
    with pytest.raises(ValueError, match="add_plan"):
        Tenant("Acme", plan_id="plan-pro")


# -- sign-in-ID users ----------------------------------------------------------------------


def test_a_sign_in_id_user_is_shown_as_who_they_are(adapter: Adapter, standin: SaaSusStandIn) -> None:
    login = f"buyer-{uuid.uuid4().hex[:6]}"
    user = standin.add_user("", ["Acme", "Globex"], sign_in_id=login)
    seen: list[Linked] = []
    with adapter.open(adapter.wrap(make_settings(standin), on_linked=lambda r: seen.append(r) or None)) as client:
        picker = begin(client, standin, user)[1]
        page = client.get(picker)
        assert f"Signed in as {login}." in " ".join(read(page.text).text)
        assert pick(client, picker, user.tenants[0].id).status_code == 303
    assert seen[0].email == "" and seen[0].sign_in_id == login


# -- the new account's name to fix: the same page, who and the intro kept --------------------


def test_a_name_to_fix_keeps_who_the_intro_and_the_list(adapter: Adapter, standin: SaaSusStandIn) -> None:
    settings = make_settings(standin, allow_new_tenant=True)
    for tenants in ([Tenant("Acme")], []):
        user = standin.add_user(f"name-{uuid.uuid4().hex[:8]}@example.com", tenants)
        with adapter.connect(settings) as client:
            picker = begin(client, standin, user)[1]
            response = _post(tenant_id="", new_tenant_name="  ")(client, standin, user)
        assert response.status_code == 400
        text = " ".join(read(response.text).text)
        assert f"Signed in as {user.email}." in text and EN["name_empty"] in text
        intro = EN["choose_intro"] if tenants else EN["only_new"]
        assert intro in text
        assert EN["back_to_list_link"] not in text  # the list is on the page, or there is none
        assert ("Acme" in text) == bool(tenants)
        assert standin.created == [] and picker


# -- X-Saasus-Trace-Id ----------------------------------------------------------------------


def test_each_step_sends_one_trace_id_and_failures_carry_saasus_s(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[Failure] = []
    with (
        caplog.at_level(logging.INFO, logger="saasus_mw"),
        adapter.open(adapter.wrap(make_settings(standin), on_error=failures.append)) as client,
    ):
        token, picker = begin(client, standin, buyer)
        client.get(picker)
        standin.inject("link", status=503)
        pick(client, picker, buyer.tenants[0].id)
    by_endpoint: dict[str, set[str]] = {}
    for call in standin.calls:
        by_endpoint.setdefault(call.endpoint, set()).add(call.headers.get("x-saasus-trace-id", ""))
    arrival = by_endpoint["credentials"] | by_endpoint["verify"]
    picker_ids = by_endpoint["userinfo"] | by_endpoint["customers"]
    assert len(arrival) == 2 or "" not in arrival  # the arrival's verify and the picker's share nothing
    assert "" not in picker_ids and "" not in by_endpoint["link"]
    assert not any(token[:12] in i for ids in by_endpoint.values() for i in ids)  # never the token
    (link_id,) = by_endpoint["link"]
    assert link_id not in by_endpoint["credentials"]  # one per step
    assert failures[-1].saasus_trace_id == link_id
    (line,) = [r for r in caplog.records if getattr(r, "saasus_mw_error", "") == "saasus_unavailable"]
    assert line.saasus_mw_saasus_trace_id == link_id  # type: ignore[attr-defined]


def test_the_stand_in_names_every_answer_s_trace(standin: SaaSusStandIn) -> None:
    with httpx.Client() as http:
        own = http.get(standin.base_url + "/auth/userinfo")
        inherited = http.get(standin.base_url + "/auth/userinfo", headers={"X-Saasus-Trace-Id": "trace-1"})
    assert _UUID.fullmatch(own.headers["x-saasus-trace-id"])
    assert inherited.headers["x-saasus-trace-id"] == "trace-1"


# -- a registration token whose "+" arrived as a space ----------------------------------------


def test_a_token_whose_plus_arrived_as_a_space_still_works(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="saasus_mw"), adapter.connect(make_settings(standin)) as client:
        for tenant in buyer.tenants[:2]:
            token = standin.issue_registration_token()
            while "+" not in token:
                token = standin.issue_registration_token()
            # A callback URL built without URL-encoding: "+" in a query means a space.
            arrival = client.get(f"/callback?code={standin.issue_code(buyer)}&registration_token={token}")
            assert arrival.status_code == 303, arrival.text[-500:]
            assert pick(client, arrival.headers["location"], tenant.id).status_code == 303
            assert standin.links[-1][2] == token
            client.cookies.clear()
    told = [r for r in caplog.records if "did not URL-encode" in r.getMessage()]
    assert len(told) == 1 and told[0].levelno == logging.INFO


def test_an_expired_state_leads_back_through_aws_marketplace(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    with adapter.connect(make_settings(standin, state_ttl=1)) as client:
        picker = begin(client, standin, buyer)[1]
        cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        time.sleep(1.5)  # past the state's lifetime (not a timing assertion: any later moment is the same)
        client.cookies.clear()  # the client drops it at Max-Age; a browser that kept it sends it:
        response = client.get(picker, headers={"cookie": cookie})
    assert error_code(response) == "state_expired" and offered(response) == {"console", "home"}
