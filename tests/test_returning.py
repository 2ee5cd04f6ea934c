"""After the purchase: a state cookie is a bearer credential, and returning buyers are let in.

The journey-level findings of the second security review (issue 18) and issue 17's
returning buyer and expired state, on both adapters. Each test fails on the code
before the fix: a copied state minted a code per request, a tossed cookie took over the
journey, the guard told anyone holding the token "done", a returning buyer got an
error, and an expired state read as "cookies blocked".
"""

from __future__ import annotations

import hashlib
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saasus_mw.saasus import SaaSus
from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .conftest import Adapter, begin, error_code, make_settings, parse_picker

NAME = "saasus_mw_state"


def _user(standin: SaaSusStandIn, *tenants: Tenant | str) -> User:
    return standin.add_user(email=f"u-{uuid.uuid4().hex[:8]}@example.com", tenants=list(tenants))


def _minted(standin: SaaSusStandIn) -> int:
    """How many sign-in codes the middleware asked for (CreateAuthCredentials)."""
    return [c.endpoint for c in standin.calls].count("create_credentials")


def _header(client: httpx.Client) -> str:
    """The Cookie header this browser sends to the callback."""
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


def _pairs(response: httpx.Response) -> list[str]:
    """name=value of every cookie a response sets (deletions included, as empty values)."""
    return [c.split(";", 1)[0] for c in response.headers.get_list("set-cookie")]


def _csrf(client: httpx.Client, url: str, cookie: str | None = None) -> str:
    headers = {"cookie": cookie} if cookie is not None else {}
    return parse_picker(client.get(url, headers=headers).text).inputs["csrf_token"]


# -- 1. a copied state cookie mints no sign-in code after the purchase ------------------------------


def _ready(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> tuple[str, dict[str, str], str]:
    """On the picker: its URL, the form choosing the first tenant, and a copy of the cookie."""
    _, picker_url = begin(client, standin, buyer)
    data = {"csrf_token": _csrf(client, picker_url), "tenant_id": buyer.tenants[0].id}
    return picker_url, data, _header(client)


def test_a_copied_state_never_mints_a_code_once_the_purchase_is_completed(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    with adapter.connect(make_settings(standin, success_url="")) as client:
        picker_url, data, copy = _ready(client, standin, buyer)  # copy: what a proxy or APM agent logged
        done = client.post(picker_url, data=data)
        assert done.status_code == 303 and "code=" in done.headers["location"]
        client.cookies.clear()
        for _ in range(3):  # the copy replayed: the picker says "linked", and signs nobody in
            replay = client.get(picker_url, headers={"cookie": copy})
            assert replay.status_code == 200 and "already linked" in replay.text
            assert "csrf_token" not in replay.text
    assert _minted(standin) == 1 and len(standin.links) == 1


def test_a_double_click_is_signed_in_and_a_third_post_is_not(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    with adapter.connect(make_settings(standin, success_url="")) as client:
        picker_url, data, copy = _ready(client, standin, buyer)  # both clicks send the cookie as it was
        client.cookies.clear()
        first = client.post(picker_url, data=data, headers={"cookie": copy})
        second = client.post(picker_url, data=data, headers={"cookie": copy})
        third = client.post(picker_url, data=data, headers={"cookie": copy})
    assert "code=" in first.headers["location"] and "code=" in second.headers["location"]  # the browser shows this one
    assert third.status_code == 200 and "already linked" in third.text and "location" not in third.headers
    assert _minted(standin) == 2 and len(standin.links) == 1


def test_a_double_click_after_the_window_is_not_signed_in(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("saasus_mw.completion.DOUBLE_CLICK_WINDOW", 0.0, raising=False)
    with adapter.connect(make_settings(standin, success_url="")) as client:
        picker_url, data, copy = _ready(client, standin, buyer)
        client.cookies.clear()
        assert client.post(picker_url, data=data, headers={"cookie": copy}).status_code == 303
        late = client.post(picker_url, data=data, headers={"cookie": copy})
    assert late.status_code == 200 and "already linked" in late.text and _minted(standin) == 1


def test_a_copy_on_another_worker_mints_no_code_and_says_what_is_known(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    # The guard is per process: another worker judges the copy by what SaaSus says alone.
    settings = make_settings(standin, success_url="")
    with adapter.connect(settings) as worker_a, adapter.connect(settings) as worker_b:
        picker_url, data, copy = _ready(worker_a, standin, buyer)
        assert "code=" in worker_a.post(picker_url, data=data).headers["location"]
        pages = [worker_b.get(picker_url, headers={"cookie": copy}) for _ in range(3)]
        pages.append(worker_b.post(picker_url, data=data, headers={"cookie": copy}))
    for page in pages:
        assert page.status_code == 200 and "This purchase is already set up" in page.text
        assert "csrf_token" not in page.text  # nothing here signs anyone in
    assert _minted(standin) == 1 and len(standin.links) == 1


# -- 2. cookies tossed from a sibling subdomain ------------------------------------------------------


def _arrive(client: httpx.Client, standin: SaaSusStandIn, user: User) -> tuple[str, list[str]]:
    """An arrival in a fresh browser: the picker URL and the state cookies as name=value."""
    params = {"code": standin.issue_code(user), "registration_token": standin.issue_registration_token()}
    response = client.get("/callback", params=params)
    assert response.status_code == 303
    client.cookies.clear()
    return response.headers["location"], _pairs(response)


@pytest.mark.parametrize("order", ["tossed-first", "tossed-last", "interleaved"])
def test_a_tossed_state_never_takes_over_the_journey(adapter: Adapter, standin: SaaSusStandIn, order: str) -> None:
    victim, mallory = _user(standin, "Victim Co"), _user(standin, "Mallory Co")
    with adapter.connect(make_settings(standin)) as client:
        _, tossed = _arrive(client, standin, mallory)  # Mallory's own, valid state
        picker_url, own = _arrive(client, standin, victim)
        cookie = {
            "tossed-first": [*tossed, *own],
            "tossed-last": [*own, *tossed],
            "interleaved": [tossed[0], own[0], tossed[1], own[1]],
        }[order]
        header = "; ".join(cookie)
        page = client.get(picker_url, headers={"cookie": header})
        assert page.status_code == 200 and victim.email in page.text and mallory.email not in page.text
        data = {"csrf_token": parse_picker(page.text).inputs["csrf_token"], "tenant_id": victim.tenants[0].id}
        done = client.post(picker_url, data=data, headers={"cookie": header})
    assert done.status_code == 303
    assert [(t, u) for t, u, _ in standin.links] == [(victim.tenants[0].id, victim.id)]


def test_empty_chunks_and_a_tossed_marker_never_say_linked(adapter: Adapter, standin: SaaSusStandIn) -> None:
    victim, mallory = _user(standin, "Victim Co"), _user(standin, "Mallory Co")
    with adapter.connect(make_settings(standin)) as client:
        _, mallory_url = begin(client, standin, mallory)  # Mallory completes her own purchase: a marker
        data = {"csrf_token": _csrf(client, mallory_url), "tenant_id": mallory.tenants[0].id}
        marker = [p for p in _pairs(client.post(mallory_url, data=data)) if p.startswith(f"{NAME}_done=")]
        client.cookies.clear()
        picker_url, own = _arrive(client, standin, victim)
        tossed = f"{NAME}_0=; {NAME}_1=; {marker[0]}"
        page = client.get(picker_url, headers={"cookie": f"{tossed}; {'; '.join(own)}"})
        assert page.status_code == 200 and victim.email in page.text and "linked" not in page.text.lower()
        # Without its own state, the address's purchase is still not "linked" by Mallory's marker.
        # (empty values are no state of ours: "missing" for the purchase named, else "invalid").
        for url, said in ((picker_url, "state_missing"), ("/callback?saasus_mw=select", "state_invalid")):
            alone = client.get(url, headers={"cookie": tossed})
            assert alone.status_code == 400 and error_code(alone) == said
    assert len(standin.links) == 1


def test_several_values_are_bounded_and_garbage_is_not_a_crash(adapter: Adapter, standin: SaaSusStandIn) -> None:
    victim = _user(standin, "Victim Co")
    with adapter.connect(make_settings(standin)) as client:
        picker_url, own = _arrive(client, standin, victim)
        junk = "; ".join(f"{NAME}_{i % 2}=junk{i}" for i in range(40))
        assert client.get(picker_url, headers={"cookie": f"{'; '.join(own)}; {junk}"}).status_code == 200
        flooded = client.get(picker_url, headers={"cookie": f"{junk}; {'; '.join(own)}"})
        assert flooded.status_code == 400  # ours came after too many others: not found, never someone else's


# -- 3. the guard remembers purchase and user ------------------------------------------------------


def test_a_purchase_another_account_completed_is_said_so(adapter: Adapter, standin: SaaSusStandIn) -> None:
    # Mallory's code with Alice's registration token links Alice's purchase to Mallory's
    # tenant (the stand-in does not bind the token to a user; whether SaaSus does is not documented).
    alice, mallory = _user(standin, "Alice Co"), _user(standin, "Mallory Co")
    token = standin.issue_registration_token()
    app = adapter.wrap(make_settings(standin, success_url=""))
    with adapter.open(app) as alices, adapter.open(app) as mallorys:
        urls = [
            c.get("/callback", params={"code": standin.issue_code(u), "registration_token": token}).headers["location"]
            for c, u in ((alices, alice), (mallorys, mallory))
        ]
        alice_form = {"csrf_token": _csrf(alices, urls[0]), "tenant_id": alice.tenants[0].id}
        data = {"csrf_token": _csrf(mallorys, urls[1]), "tenant_id": mallory.tenants[0].id}
        assert mallorys.post(urls[1], data=data).status_code == 303
        page = alices.get(urls[0])
        post = alices.post(urls[0], data=alice_form)
    for answer in (page, post):
        assert answer.status_code == 200 and "This purchase was set up by another account" in answer.text
        assert hashlib.sha256(token.encode()).hexdigest()[:16] in answer.text  # the reference for support
    assert standin.links == [(mallory.tenants[0].id, mallory.id, token)] and _minted(standin) == 1


# -- 4. a returning buyer is signed in, and told --------------------------------------------------------


def _code(location: str) -> str:
    (code,) = parse_qs(urlsplit(location).query)["code"]
    return code


@pytest.mark.parametrize("subscribed", [True, False], ids=["set-up-before", "no-subscription-found"])
def test_a_returning_buyer_is_signed_in_and_told(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, subscribed: bool
) -> None:
    token = standin.issue_registration_token()
    standin.spend_registration_token(token)  # set up earlier (another browser, another worker)
    if subscribed:
        standin.link_customer(buyer.tenants[1].id)
    settings = make_settings(standin, success_url="")
    with adapter.connect(settings) as client:
        arrival = client.get("/callback", params={"code": standin.issue_code(buyer), "registration_token": token})
        assert arrival.status_code == 303  # not "this purchase link is no longer valid"
        notice = client.get(arrival.headers["location"])
        assert notice.status_code == 200 and 'role="alert"' not in notice.text
        expected = "already set up" if subscribed else "already used"
        assert expected in notice.text and ("“Acme <b>&</b>”" in notice.text) is False
        if subscribed:
            assert "“Acme &lt;b&gt;&amp;&lt;/b&gt;” already has an AWS Marketplace subscription" in notice.text
        csrf = parse_picker(notice.text).inputs["csrf_token"]
        copy = _header(client)
        go = client.post(arrival.headers["location"], data={"csrf_token": csrf})
        assert go.status_code == 303 and go.headers["location"].startswith("/callback?code=")
        client.cookies.clear()
        again = client.post(arrival.headers["location"], data={"csrf_token": csrf}, headers={"cookie": copy})
        third = client.post(arrival.headers["location"], data={"csrf_token": csrf}, headers={"cookie": copy})
        reload = client.get(arrival.headers["location"], headers={"cookie": copy})
    saasus = SaaSus(settings)
    assert saasus.exchange_code(_code(go.headers["location"])).id_token  # a real sign-in code
    saasus.close()
    assert again.status_code == 303  # a double click on "Continue"
    for page in (third, reload):
        assert page.status_code == 200 and "You already continued from here" in page.text
    assert _minted(standin) == 2 and standin.links == [] and standin.created == []


def test_a_returning_buyer_with_a_success_url_goes_there(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin)) as client:
        token, picker_url = begin(client, standin, buyer)
        data = {"csrf_token": _csrf(client, picker_url), "tenant_id": buyer.tenants[0].id}
        assert client.post(picker_url, data=data).headers["location"] == "/welcome"
        # "Set up your account" again, in the same browser: linked, and still let in.
        arrival = client.get("/callback", params={"code": standin.issue_code(buyer), "registration_token": token})
        notice = client.get(arrival.headers["location"])
        assert "Your purchase is linked" in notice.text
        go = client.post(
            arrival.headers["location"], data={"csrf_token": parse_picker(notice.text).inputs["csrf_token"]}
        )
    assert go.status_code == 303 and go.headers["location"] == "/welcome" and len(standin.links) == 1


# -- 5. an expired state is told as expired ------------------------------------------------------------


def test_an_expired_state_says_so_and_what_helps(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin, state_ttl=1)) as client:
        start = client.get(
            "/callback",
            params={"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()},
        )
        max_ages = {int(c.split("Max-Age=")[1].split(";")[0]) for c in start.headers.get_list("set-cookie")}
        assert min(max_ages) > 1  # the browser keeps the cookie past the state's lifetime
        time.sleep(2.1)  # the buyer waited too long on the picker
        page = client.get(start.headers["location"])
    assert page.status_code == 400 and error_code(page) == "state_expired"
    assert "Set up your account" in page.text and "allow cookies" not in page.text.lower()
