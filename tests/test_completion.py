"""Completing a purchase: a new account for it, never lost, never twice, never someone else's.

Both adapters; the stand-in injects the faults. Each test here fails without the
protection it names.
"""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest

from saasus_mw import Linked
from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .conftest import Adapter, begin, error_code, make_settings, parse_picker, post_together
from .servers import running

NEW = {"tenant_id": ""}  # the new-account choice posts an empty tenant_id


def _form(client: httpx.Client, picker_url: str) -> dict[str, str]:
    return {"csrf_token": parse_picker(client.get(picker_url).text).inputs["csrf_token"]}


def _user(standin: SaaSusStandIn, *tenants: Tenant | str) -> User:
    return standin.add_user(email=f"u-{uuid.uuid4().hex[:8]}@example.com", tenants=list(tenants))


def _calls(standin: SaaSusStandIn, endpoint: str) -> int:
    return [c.endpoint for c in standin.calls].count(endpoint)


# -- a new account for the purchase -----------------------------------------------------------


def test_a_buyer_creates_a_new_account_for_the_purchase(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    seen: list[Linked] = []
    app = adapter.wrap(make_settings(standin, allow_new_tenant=True), on_linked=seen.append)
    with adapter.open(app) as client:
        token, picker_url = begin(client, standin, buyer)
        page = client.get(picker_url)
        assert 'name="new_tenant_name"' in page.text and 'id="t-new"' in page.text
        done = client.post(picker_url, data={**_form(client, picker_url), **NEW, "new_tenant_name": "  新しい会社 "})
    assert done.status_code == 303 and done.headers["location"] == "/welcome"
    ((tenant_id, user_id, used),) = standin.created
    assert (user_id, used) == (buyer.id, token) and standin.links == [] and _calls(standin, "link") == 0
    (result,) = seen
    assert (result.created, result.tenant_id, result.tenant_name) == (True, tenant_id, "新しい会社")


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        pytest.param("", "Enter a name", id="empty"),
        pytest.param("   ", "Enter a name", id="blank"),
        pytest.param("x" * 101, "too long", id="101-characters"),
        pytest.param("Acme\nCorp", "cannot be used", id="line-break"),
        pytest.param("Acme\x00", "cannot be used", id="nul"),
        pytest.param("Acme\u202e", "cannot be used", id="bidi-override"),
    ],
)
def test_a_bad_name_creates_nothing_and_keeps_the_input(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, name: str, problem: str
) -> None:
    with adapter.connect(make_settings(standin, allow_new_tenant=True)) as client:
        _, picker_url = begin(client, standin, buyer)
        response = client.post(picker_url, data={**_form(client, picker_url), **NEW, "new_tenant_name": name})
    assert response.status_code == 400 and problem in response.text
    kept = parse_picker(response.text).inputs["new_tenant_name"]
    assert kept == name.replace("\x00", "\ufffd").replace("\n", "\n") or kept.strip() == name.strip()
    assert _calls(standin, "sign_up") == 0 and standin.created == []


def test_a_name_of_exactly_100_characters_is_fine(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin, allow_new_tenant=True)) as client:
        _, picker_url = begin(client, standin, buyer)
        done = client.post(picker_url, data={**_form(client, picker_url), **NEW, "new_tenant_name": "名" * 100})
    assert done.status_code == 303 and len(standin.created) == 1


def test_with_the_setting_off_nothing_is_ever_created(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin)) as client:
        _, picker_url = begin(client, standin, buyer)
        assert 'name="new_tenant_name"' not in client.get(picker_url).text
        response = client.post(picker_url, data={**_form(client, picker_url), **NEW, "new_tenant_name": "Sneaky"})
    assert response.status_code == 403 and error_code(response) == "tenant_not_allowed"
    assert _calls(standin, "sign_up") == 0 and standin.created == []


def test_the_chosen_tenant_wins_over_an_abandoned_name(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    # Without JavaScript a name typed and then abandoned for an existing tenant still
    # travels with the form: the radio button is the choice, and nothing is created.
    with adapter.connect(make_settings(standin, allow_new_tenant=True)) as client:
        _, picker_url = begin(client, standin, buyer)
        data = {**_form(client, picker_url), "tenant_id": buyer.tenants[0].id, "new_tenant_name": "Oops"}
        response = client.post(picker_url, data=data)
    assert response.status_code == 303 and standin.created == [] and len(standin.links) == 1


def test_two_choices_are_refused(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin, allow_new_tenant=True)) as client:
        _, picker_url = begin(client, standin, buyer)
        form = _form(client, picker_url)
        two_tenants = [("tenant_id", buyer.tenants[0].id), ("tenant_id", buyer.tenants[1].id), *form.items()]
        two_names = [*NEW.items(), ("new_tenant_name", "A"), ("new_tenant_name", "B"), *form.items()]
        for fields in (two_tenants, two_names):
            body = "&".join(f"{k}={v}" for k, v in fields).encode()
            response = client.post(
                picker_url, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
            )
            assert response.status_code == 400 and error_code(response) == "bad_request"
    assert standin.created == [] and standin.links == []


# -- no dead ends -------------------------------------------------------------------------------


def test_no_eligible_tenant_gets_the_new_account_instead_of_a_dead_end(
    adapter: Adapter, standin: SaaSusStandIn
) -> None:
    user = _user(standin, "Taken")
    standin.link_customer(user.tenants[0].id)
    with adapter.connect(make_settings(standin, allow_new_tenant=True)) as client:
        _, picker_url = begin(client, standin, user)
        page = client.get(picker_url)
        assert page.status_code == 200 and "None of your accounts can take this purchase" in page.text
        form = parse_picker(page.text)
        assert form.selected == "" and 'id="t-new" value="" checked' in page.text
        done = client.post(picker_url, data={**_form(client, picker_url), **NEW, "new_tenant_name": "Fresh"})
    assert done.status_code == 303 and len(standin.created) == 1


@pytest.mark.parametrize(
    ("tenants", "linked", "why"),
    [
        pytest.param([], False, "do not belong to any account", id="none-at-all"),
        pytest.param(["Taken"], True, "already linked to another AWS Marketplace subscription", id="all-linked"),
        pytest.param([Tenant("Viewer", roles=("viewer",))], False, "Your role", id="role"),
        pytest.param([Tenant("Half", completed_sign_up=False)], False, "finished signing up", id="sign-up"),
    ],
)
def test_without_the_setting_the_dead_end_says_why_and_what_helps(
    adapter: Adapter, standin: SaaSusStandIn, tenants: list[Tenant | str], linked: bool, why: str
) -> None:
    user = _user(standin, *tenants)
    if linked:
        standin.link_customer(user.tenants[0].id)
    settings = make_settings(standin, required_roles="admin")
    with adapter.connect(settings) as client:
        token, picker_url = begin(client, standin, user)
        page = client.get(picker_url)
    assert page.status_code == 403 and error_code(page) == "no_tenants" and why in page.text
    import hashlib

    assert hashlib.sha256(token.encode()).hexdigest()[:16] in page.text  # the journey id to quote to support
    with adapter.connect(make_settings(standin, signup_url="/signup")) as client:
        _, picker_url = begin(client, standin, _user(standin))
        assert 'href="/signup"' in client.get(picker_url).text


# -- never lost, never twice ---------------------------------------------------------------------


def test_a_lost_answer_then_a_retry_creates_exactly_one_tenant(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    seen: list[Linked] = []
    app = adapter.wrap(make_settings(standin, allow_new_tenant=True), on_linked=seen.append)
    with adapter.open(app) as client:
        _, picker_url = begin(client, standin, buyer)
        data = {**_form(client, picker_url), **NEW, "new_tenant_name": "Once"}
        standin.inject("sign_up", after=True, drop=True)  # SaaSus creates it; the answer is lost
        standin.inject("verify", delay=0.01)  # the look before acting: fine
        standin.inject("verify", status=503)  # the look that would confirm it: fails
        lost = client.post(picker_url, data=data)
        assert lost.status_code == 502 and "Try again" in lost.text
        # The picker offers the same new account again, the name kept.
        assert parse_picker(client.get(picker_url).text).inputs["new_tenant_name"] == "Once"
        retry = client.post(picker_url, data=data)
    assert retry.status_code == 303
    assert len(standin.created) == 1 and _calls(standin, "sign_up") == 1
    assert [(r.created, r.tenant_name) for r in seen] == [(True, "Once")]


@pytest.mark.parametrize(
    "fault", [{"after": True, "drop": True}, {"after": True, "status": 500}, {"after": True, "delay": 3.0}]
)
def test_a_lost_answer_is_confirmed_in_the_same_request(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, fault: dict[str, object]
) -> None:
    with adapter.connect(make_settings(standin, allow_new_tenant=True)) as client:
        _, picker_url = begin(client, standin, buyer)
        standin.inject("sign_up", **fault)  # type: ignore[arg-type]
        done = client.post(picker_url, data={**_form(client, picker_url), **NEW, "new_tenant_name": "Twice?"})
    assert done.status_code == 303 and len(standin.created) == 1 and _calls(standin, "sign_up") == 1


def test_a_concurrent_double_submit_creates_one_tenant(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    app = adapter.wrap(make_settings(standin, allow_new_tenant=True))
    with adapter.open(app) as first, adapter.open(app) as second:
        _, picker_url = begin(first, standin, buyer)
        data = {**_form(first, picker_url), **NEW, "new_tenant_name": "Double"}
        second.cookies.update(first.cookies)
        standin.inject("sign_up", delay=0.5)  # both POSTs are in flight together
        results = post_together([first, second], picker_url, data)
    assert [r.status_code for r in results] == [303, 303]  # both told it worked
    assert len(standin.created) == 1 and _calls(standin, "sign_up") == 1


def test_a_double_submit_on_two_workers_creates_one_tenant(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    settings = make_settings(standin, allow_new_tenant=True)
    with adapter.connect(settings) as worker_a, adapter.connect(settings) as worker_b:
        _, picker_url = begin(worker_a, standin, buyer)
        data = {**_form(worker_a, picker_url), **NEW, "new_tenant_name": "Two workers"}
        worker_b.cookies.update(worker_a.cookies)
        standin.inject("sign_up", delay=0.5)
        results = post_together([worker_a, worker_b], picker_url, data)
    # The second worker's sign-up is refused (the token is spent); it looks, and finds ours.
    assert [r.status_code for r in results] == [303, 303]
    assert len(standin.created) == 1


# -- purchase truth (security review, item 1) ------------------------------------------------------


def test_a_replayed_state_never_claims_a_tenant_an_older_purchase_linked(
    adapter: Adapter, standin: SaaSusStandIn
) -> None:
    user = _user(standin, "Mine", "Old")
    standin.link_customer(user.tenants[1].id)  # linked by an older purchase
    seen: list[Linked] = []
    settings = make_settings(standin)
    with adapter.connect(settings) as browser:
        _, picker_url = begin(browser, standin, user)
        data = _form(browser, picker_url)
        replay = dict(browser.cookies)
        assert browser.post(picker_url, data={**data, "tenant_id": user.tenants[0].id}).status_code == 303
    # The token is spent now. On another worker, the replayed state posts the old tenant.
    with adapter.open(adapter.wrap(settings, on_linked=seen.append)) as attacker:
        attacker.cookies.update(replay)
        response = attacker.post(picker_url, data={**data, "tenant_id": user.tenants[1].id})
    # Nothing claimed, nobody signed in: told what is known (the purchase link is spent,
    # and both accounts have a subscription), never "linked" to the old tenant.
    assert response.status_code == 200 and "This purchase is already set up" in response.text
    assert "Your purchase is linked" not in response.text
    assert seen == [] and len(standin.links) == 1 and _calls(standin, "create_credentials") == 0


# -- one buyer cannot stall every buyer (security review, item 3) -----------------------------------


def test_a_post_waiting_on_its_purchase_gives_up_after_a_bounded_wait(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    app = adapter.wrap(make_settings(standin, timeout=5))
    app._flow.link.wait_limit = 0.3  # type: ignore[union-attr]  # the bound, shortened for the test
    with adapter.open(app) as first, adapter.open(app) as second:
        _, picker_url = begin(first, standin, buyer)
        data = {**_form(first, picker_url), "tenant_id": buyer.tenants[0].id}
        second.cookies.update(first.cookies)
        standin.inject("link", delay=1.5)
        results: dict[str, httpx.Response] = {}
        slow = threading.Thread(target=lambda: results.update(first=first.post(picker_url, data=data)))
        slow.start()
        while not any(c.endpoint == "link" for c in standin.calls):
            threading.Event().wait(0.01)
        waiting = second.post(picker_url, data=data)
        in_flight = slow.is_alive()
        slow.join()
    assert in_flight  # it gave up while the first POST was still working
    assert waiting.status_code == 409 and error_code(waiting) == "in_progress" and "Reload" in waiting.text
    assert results["first"].status_code == 303 and _calls(standin, "link") == 1


def test_reposts_waiting_on_one_purchase_hold_no_worker_thread(standin: SaaSusStandIn, buyer: User) -> None:
    # uvicorn with two worker threads for SaaSus calls: one POST is linking (slowly),
    # six reposts of the same purchase wait for it. Before, each waited inside a
    # worker thread, and another buyer's picker queued behind them all.
    other = _user(standin, "Other Co")
    with (
        running("uvicorn", standin, SAASUS_MW_MAX_THREADS="2") as server,
        httpx.Client(base_url=server, timeout=30) as buying,
        httpx.Client(base_url=server, timeout=30) as second,
    ):
        _, picker_url = begin(buying, standin, buyer)
        _, other_picker = begin(second, standin, other)
        data = {**_form(buying, picker_url), "tenant_id": buyer.tenants[0].id}
        standin.inject("link", delay=2.0)
        posts = [threading.Thread(target=buying.post, args=(picker_url,), kwargs={"data": data}) for _ in range(7)]
        for post in posts:
            post.start()
        while not any(c.endpoint == "link" for c in standin.calls):
            threading.Event().wait(0.01)
        threading.Event().wait(0.2)  # the reposts are waiting now
        page = second.get(other_picker)
        linking = any(c.endpoint == "link" and c.status == 0 for c in standin.calls)
        for post in posts:
            post.join()
    assert page.status_code == 200 and linking  # served while the slow link was still in flight
    assert _calls(standin, "link") == 1


def test_a_post_that_waited_on_an_unanswered_one_confirms_its_attempt(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    # The waiting POST carries the older cookie, without the attempt the first one made;
    # it must take that attempt up, not call the tenant "linked by another purchase".
    app = adapter.wrap(make_settings(standin, timeout=0.5))
    with adapter.open(app) as first, adapter.open(app) as second:
        _, picker_url = begin(first, standin, buyer)
        data = {**_form(first, picker_url), "tenant_id": buyer.tenants[0].id}
        second.cookies.update(first.cookies)
        standin.inject("verify", delay=0.01)  # the first look: fine
        standin.inject("verify", status=503)  # the look after the lost answer: fails
        standin.inject("link", after=True, delay=1.0)  # SaaSus links; the answer comes too late
        results = post_together([first, second], picker_url, data)
        threading.Event().wait(0.6)  # the stand-in's late answer, before the next test
    assert sorted(r.status_code for r in results)[0] == 303 and len(standin.links) == 1
    assert {r.status_code for r in results} <= {303, 502, 504}


def test_a_waiting_post_never_takes_up_another_browsers_attempt(adapter: Adapter, standin: SaaSusStandIn) -> None:
    # Two people opened the same purchase link (one registration token, two sign-ins).
    # The second must never continue with the first one's state: those are her tokens.
    alice, bob = _user(standin, "Alice Co"), _user(standin, "Bob Co")
    token = standin.issue_registration_token()
    app = adapter.wrap(make_settings(standin, timeout=0.5))
    with adapter.open(app) as a, adapter.open(app) as b:
        urls = []
        for client, person in ((a, alice), (b, bob)):
            start = client.get("/callback", params={"code": standin.issue_code(person), "registration_token": token})
            urls.append(start.headers["location"])
        data_a = {**_form(a, urls[0]), "tenant_id": alice.tenants[0].id}
        data_b = {**_form(b, urls[1]), "tenant_id": bob.tenants[0].id}
        standin.inject("verify", delay=0.01)  # Alice's look: fine
        standin.inject("verify", status=503)  # her look after the lost answer: fails
        standin.inject("link", after=True, delay=1.0)  # SaaSus links Alice's tenant; the answer is late
        results: dict[str, httpx.Response] = {}
        first = threading.Thread(target=lambda: results.update(alice=a.post(urls[0], data=data_a)))
        first.start()
        while not any(c.endpoint == "link" for c in standin.calls):
            threading.Event().wait(0.01)
        results["bob"] = b.post(urls[1], data=data_b)
        first.join()
        threading.Event().wait(0.6)  # the stand-in's late answer, before the next test
    assert results["bob"].status_code in (400, 409)  # the purchase is spent; never Alice's session
    assert standin.links == [(alice.tenants[0].id, alice.id, token)]
