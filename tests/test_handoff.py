"""The buyer lands signed in: the hand-off after a link, SPA + API forwarding, on both adapters."""

from __future__ import annotations

import json
import logging
import time
import types
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from saasus_mw import ConfigError, Linked
from saasus_mw.saasus import SaaSus
from saasus_mw.testing import SaaSusStandIn, User

from .conftest import Adapter, begin, error_code, make_settings, parse_picker, pick

SPA = "https://app.example.com/callback"


def _issued(standin: SaaSusStandIn) -> dict[str, str]:
    """The tokens SaaSus gave the buyer at the callback."""
    call = next(c for c in standin.calls if c.endpoint == "credentials" and c.status == 200)
    tokens: dict[str, str] = json.loads(call.response_body)
    return tokens


def _code(location: str) -> str:
    (code,) = parse_qs(urlsplit(location).query)["code"]
    return code


def test_default_hand_off_signs_the_buyer_in_through_the_apps_own_callback(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    settings = make_settings(standin, success_url="")
    with adapter.connect(settings) as client:
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
        assert done.status_code == 303 and done.headers["location"].startswith("/callback?code=")
        # The app's own callback gets the code: an ordinary login, passed through untouched.
        arrived = client.get(done.headers["location"])
    assert arrived.headers["x-host"] == "1" and arrived.json()["query"] == urlsplit(done.headers["location"]).query
    # The code exchanges, as any login code does, for the buyer's own ID, access and refresh tokens.
    saasus = SaaSus(settings)
    credentials = saasus.exchange_code(_code(done.headers["location"]))
    saasus.close()
    issued = _issued(standin)
    assert (credentials.id_token, credentials.access_token, credentials.refresh_token) == (
        issued["id_token"],
        issued["access_token"],
        issued["refresh_token"],
    )
    assert len(standin.links) == 1


def test_hand_off_to_a_sign_in_path_with_a_query(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(
        make_settings(standin, success_url="", signin_url="/auth/done?from=marketplace"), "/shop"
    ) as client:
        _, picker_url = begin(client, standin, buyer, path="/shop/callback")
        done = pick(client, picker_url, buyer.tenants[0].id)
    location = done.headers["location"]
    assert location.startswith("/shop/auth/done?from=marketplace&code=")


def test_a_set_success_url_wins_and_hands_nothing_off(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin, success_url="/welcome")) as client:
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
    assert done.headers["location"] == "/welcome"
    assert not [c for c in standin.calls if c.endpoint == "create_credentials"]


def test_on_linked_url_wins_over_the_hand_off(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    seen: list[Linked] = []

    def on_linked(result: Linked) -> str:
        seen.append(result)
        return "/dashboard"

    app = adapter.wrap(make_settings(standin, success_url=""), on_linked=on_linked)
    with adapter.open(app) as client:
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
    assert done.headers["location"] == "/dashboard"
    (result,) = seen
    assert result.created is False and result.credentials.refresh_token == _issued(standin)["refresh_token"]


def test_a_failed_hand_off_is_never_a_failed_purchase(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    standin.inject("create_credentials", status=500, times=None)  # the early code and the second try
    with caplog.at_level(logging.WARNING), adapter.connect(make_settings(standin, success_url="")) as client:
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
        assert done.status_code == 200 and "Your purchase is linked" in done.text
        # The state is spent: Back or reload is told the purchase is linked.
        assert "already linked" in client.get(picker_url).text
    assert len(standin.links) == 1
    assert any("hand-off failed" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


# -- SPA + API: the sign-in page is on another origin --------------------------------------


@pytest.mark.parametrize(
    ("signin", "query", "expected"),
    [
        pytest.param(SPA, "code=abc&state=x%20y", f"{SPA}?code=abc&state=x%20y", id="ordinary-login"),
        pytest.param(SPA, "error=access_denied", f"{SPA}?error=access_denied", id="error-callback"),
        pytest.param(SPA, "", SPA, id="bare"),
        pytest.param(f"{SPA}?tab=1", "code=abc", f"{SPA}?tab=1&code=abc", id="sign-in-url-with-a-query"),
    ],
)
def test_spa_mode_forwards_every_other_visit_with_its_query(
    adapter: Adapter, standin: SaaSusStandIn, signin: str, query: str, expected: str
) -> None:
    with adapter.connect(make_settings(standin, signin_url=signin)) as client:
        for method in ("GET", "HEAD"):
            response = client.request(method, f"/callback?{query}" if query else "/callback")
            assert response.status_code == 303 and response.headers["location"] == expected
        # Not ours to forward: other methods and other paths reach the app.
        assert client.post("/callback?code=abc", content=b"x").headers["x-host"] == "1"
        assert client.get("/elsewhere?code=abc").headers["x-host"] == "1"
    assert standin.calls == []


def test_spa_mode_hands_the_buyer_to_the_spa(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin, signin_url=SPA, success_url="")) as client:
        _, picker_url = begin(client, standin, buyer)
        picker = client.get(picker_url)
        assert "form-action 'self' https://app.example.com;" in picker.headers["content-security-policy"]
        done = pick(client, picker_url, buyer.tenants[0].id)
    assert done.headers["location"].startswith(f"{SPA}?code=")
    assert len(standin.links) == 1


def test_an_opaque_registration_token_links(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    token, picker_url = begin(client, standin, buyer)
    assert len(token) > 36 and any(c in token for c in "+/=")  # AWS Marketplace's kind, not a UUID
    assert pick(client, picker_url, buyer.tenants[0].id).status_code == 303
    assert standin.links == [(buyer.tenants[0].id, buyer.id, token)]


def test_the_lifetime_counts_from_minting_even_after_a_failed_link(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = types.SimpleNamespace(time=lambda: time.time() - 850)  # minted 850 s ago; the TTL is 900
    monkeypatch.setattr("saasus_mw.state.time", clock)
    with adapter.connect(make_settings(standin)) as client:
        _, picker_url = begin(client, standin, buyer)
        monkeypatch.setattr(clock, "time", time.time)
        form = parse_picker(client.get(picker_url).text)
        standin.inject("link", status=503)
        data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
        failed = client.post(picker_url, data=data)
        assert failed.status_code == 502 and failed.headers.get_list("set-cookie")  # re-sealed, attempt remembered
        monkeypatch.setattr(clock, "time", lambda: time.time() + 60)
        again = client.get(picker_url)
    assert again.status_code == 400 and error_code(again) == "state_expired"


@pytest.mark.parametrize(
    "signin",
    [
        pytest.param("https://testserver/callback", id="absolute-url-of-this-very-callback"),
        pytest.param("https://testserver:443/callback", id="with-the-default-port"),
        pytest.param("/callback?from=saasus", id="this-callback-with-a-query"),
    ],
)
def test_a_sign_in_url_naming_this_callback_never_loops(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, signin: str
) -> None:
    with adapter.connect(make_settings(standin, signin_url=signin, success_url="")) as client:
        ordinary = client.get("/callback?code=abc")
        assert ordinary.headers["x-host"] == "1"  # the app's own sign-in, not a redirect to itself
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
        arrived = client.get(done.headers["location"])
    assert "code=" in done.headers["location"] and arrived.headers["x-host"] == "1"


def test_a_sign_in_url_with_a_fragment_is_refused(standin: SaaSusStandIn) -> None:
    # The code is added as a query: after "#" the page could never read it.
    with pytest.raises(ConfigError, match="fragment"):
        make_settings(standin, signin_url="https://app.example.com/callback#done")


# -- the code is asked for early: alongside the POST's own calls, handed over only on success ------


def _codes(standin: SaaSusStandIn) -> list[str]:
    """Every code CreateAuthCredentials gave out, in order."""
    calls = [c for c in standin.calls if c.endpoint == "create_credentials" and c.status == 201]
    return [json.loads(c.response_body)["code"] for c in calls]


def test_the_sign_in_code_is_asked_for_alongside_the_act_and_only_once(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    with adapter.connect(make_settings(standin, success_url="")) as client:
        _, picker_url = begin(client, standin, buyer)
        form = parse_picker(client.get(picker_url).text)
        standin.reset()
        # SaaSus links, but its answer is lost: the purchase is confirmed by a second look. The lost
        # answer takes a moment, as over a network: the code's request (another thread) lands meanwhile.
        standin.inject("link", drop=True, after=True, delay=0.3)
        done = client.post(picker_url, data={"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id})
    endpoints = [c.endpoint for c in standin.calls]
    looks = [i for i, e in enumerate(endpoints) if e == "userinfo"]
    assert len(looks) == 2 and endpoints.count("create_credentials") == 1
    # Asked for with the act, not after the purchase was known to be complete (the second look).
    assert looks[0] < endpoints.index("create_credentials") < looks[1]
    assert done.status_code == 303 and _code(done.headers["location"]) == _codes(standin)[0]


@pytest.mark.parametrize(
    "refuse",
    [
        pytest.param(lambda standin, tenant: standin.link_customer(tenant), id="tenant-already-linked"),
        pytest.param(lambda standin, tenant: standin.inject("link", status=400), id="link-refused"),
        pytest.param(lambda standin, tenant: standin.inject("link", status=503, times=None), id="link-unanswered"),
    ],
)
def test_a_purchase_that_did_not_complete_hands_out_no_code(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, refuse: Any
) -> None:
    with adapter.connect(make_settings(standin, success_url="")) as client:
        _, picker_url = begin(client, standin, buyer)
        form = parse_picker(client.get(picker_url).text)
        refuse(standin, buyer.tenants[0].id)
        refused = client.post(
            picker_url, data={"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
        )
    assert refused.status_code >= 400 and standin.links == []
    # A code may have been made (it expires unused at SaaSus); it never reaches the browser.
    for code in _codes(standin):
        assert code not in refused.text and all(code not in value for _, value in refused.headers.multi_items())


def test_a_code_that_went_stale_during_a_slow_link_is_asked_for_again(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("saasus_mw.journey.handoff.CODE_FRESH", -1.0)  # every early code is too old to hand over
    with adapter.connect(make_settings(standin, success_url="")) as client:
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
    early, fresh = _codes(standin)
    assert done.status_code == 303 and _code(done.headers["location"]) == fresh != early
