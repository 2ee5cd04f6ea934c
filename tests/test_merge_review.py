"""What a cold read found where issues 17, 18 and 20 met: each a test that failed before its fix.

The posted page's own state is found although every page masks its token; the early
sign-in code carries the step's trace id; a notice that asks the buyer to contact
support links the support URL; a notice shown instead of the name to fix is no failure.
"""

from __future__ import annotations

import time
import uuid

import httpx

from saasus_mw.hooks import Failure
from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .conftest import Adapter, begin, error_code, make_settings, parse_picker

STATE_COOKIE = "saasus_mw_state"


def _user(standin: SaaSusStandIn) -> User:
    return standin.add_user(f"u-{uuid.uuid4().hex[:8]}@example.com", [Tenant("Globex")])


def _state_cookies(response: httpx.Response) -> list[str]:
    return [c.split(";", 1)[0] for c in response.headers.get_list("set-cookie") if c.startswith(STATE_COOKIE)]


def test_the_posted_pages_own_state_wins_over_a_newer_one(adapter: Adapter, standin: SaaSusStandIn) -> None:
    buyer = _user(standin)
    with adapter.connect(make_settings(standin)) as client:
        token = standin.issue_registration_token()
        first = client.get("/callback", params={"code": standin.issue_code(buyer), "registration_token": token})
        picker_url = first.headers["location"]
        csrf = parse_picker(client.get(picker_url).text).inputs["csrf_token"]
        client.cookies.clear()
        time.sleep(1.1)  # the second state is minted a second later: the newer one
        second = client.get("/callback", params={"code": standin.issue_code(buyer), "registration_token": token})
        client.cookies.clear()
        cookie = "; ".join(_state_cookies(second) + _state_cookies(first))
        done = client.post(
            picker_url, data={"csrf_token": csrf, "tenant_id": buyer.tenants[0].id}, headers={"cookie": cookie}
        )
    assert done.status_code == 303, error_code(done)


def test_the_early_sign_in_code_carries_the_steps_trace_id(adapter: Adapter, standin: SaaSusStandIn) -> None:
    buyer = _user(standin)
    with adapter.connect(make_settings(standin, success_url="")) as client:
        _, picker_url = begin(client, standin, buyer)
        csrf = parse_picker(client.get(picker_url).text).inputs["csrf_token"]
        before = len(standin.calls)
        done = client.post(picker_url, data={"csrf_token": csrf, "tenant_id": buyer.tenants[0].id})
    assert done.status_code == 303 and "code=" in done.headers["location"]
    sent = {(c.endpoint, c.headers.get("x-saasus-trace-id")) for c in standin.calls[before:]}
    assert "create_credentials" in {endpoint for endpoint, _ in sent}
    assert all(trace for _, trace in sent), sent


def test_a_notice_asking_for_support_links_the_support_url(adapter: Adapter, standin: SaaSusStandIn) -> None:
    buyer = _user(standin)
    token = standin.issue_registration_token()
    standin.spend_registration_token(token)
    with adapter.connect(make_settings(standin, support_url="https://help.example.com/")) as client:
        arrival = client.get("/callback", params={"code": standin.issue_code(buyer), "registration_token": token})
        notice = client.get(arrival.headers["location"])
    assert notice.status_code == 200 and "contact the support team" in notice.text
    assert 'href="https://help.example.com/"' in notice.text


def test_a_notice_instead_of_the_name_to_fix_is_no_failure(adapter: Adapter, standin: SaaSusStandIn) -> None:
    buyer = _user(standin)
    failures: list[Failure] = []
    settings = make_settings(standin, allow_new_tenant=True)
    with adapter.open(adapter.wrap(settings, on_error=failures.append)) as client:
        token, picker_url = begin(client, standin, buyer)
        csrf = parse_picker(client.get(picker_url).text).inputs["csrf_token"]
        standin.spend_registration_token(token)  # set up meanwhile, from another browser
        standin.link_customer(buyer.tenants[0].id)
        told = client.post(picker_url, data={"csrf_token": csrf, "tenant_id": "", "new_tenant_name": "  "})
    assert told.status_code == 200 and failures == []
