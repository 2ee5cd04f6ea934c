"""Hooks for code users (on_linked, on_error) and the log line of every step, on both adapters."""

from __future__ import annotations

import hashlib
import logging

import httpx
import pytest

from saasus_mw import ErrorCode, Failure, Linked
from saasus_mw.testing import SaaSusStandIn, User

from .conftest import Adapter, begin, make_settings, pick


def _client(adapter: Adapter, standin: SaaSusStandIn, **hooks: object) -> httpx.Client:
    return adapter.open(adapter.wrap(make_settings(standin), **hooks))


def test_on_linked_gets_the_result_and_may_choose_where_to_go(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    seen: list[Linked] = []

    def on_linked(result: Linked) -> str:
        seen.append(result)
        return f"/dashboard?tenant={result.tenant_id}"

    with _client(adapter, standin, on_linked=on_linked) as client:
        token, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[2].id)
    assert done.headers["location"] == f"/dashboard?tenant={buyer.tenants[2].id}"
    (result,) = seen
    assert (result.tenant_id, result.tenant_name, result.user_id, result.email) == (
        buyer.tenants[2].id,
        buyer.tenants[2].name,
        buyer.id,
        buyer.email,
    )
    assert result.registration_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert result.credentials.access_token.count(".") == 2  # a JWT the host can use to sign the user in
    assert result.credentials.access_token not in repr(result)


def test_a_failing_on_linked_hook_does_not_hide_the_link(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    def on_linked(result: Linked) -> str:
        raise RuntimeError("host bug")

    with _client(adapter, standin, on_linked=on_linked) as client:
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
    assert done.status_code == 303 and done.headers["location"] == "/welcome"
    assert "on_linked hook raised" in caplog.text


@pytest.mark.parametrize(
    ("fault", "code", "saasus_error"),
    [
        pytest.param({"status": 503}, ErrorCode.SAASUS_UNAVAILABLE, "server_error:503:injected_fault", id="5xx"),
        pytest.param(
            {"status": 400, "body": '{"type": "invalid_registration_token", "message": "used"}'},
            ErrorCode.LINK_REJECTED,
            "rejected:400:invalid_registration_token",
            id="rejected",
        ),
    ],
)
def test_on_error_gets_a_stable_code(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, fault: dict[str, object], code: ErrorCode, saasus_error: str
) -> None:
    seen: list[Failure] = []
    with _client(adapter, standin, on_error=seen.append) as client:
        _, picker_url = begin(client, standin, buyer)
        standin.inject("link", **fault)  # type: ignore[arg-type]
        pick(client, picker_url, buyer.tenants[0].id)
        client.get("/callback?saasus_mw=select", headers={"cookie": ""})
    # SaaSus's trace id of the failed call: it inherited the one sent with the step's calls.
    (sent,) = {c.headers["x-saasus-trace-id"] for c in standin.calls if c.endpoint == "link"}
    assert seen[0] == Failure(
        code=code, status=seen[0].status, step="link", saasus_error=saasus_error, saasus_trace_id=sent
    )


def test_one_log_line_per_step(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="saasus_mw"), adapter.connect(make_settings(standin)) as client:
        token, picker_url = begin(client, standin, buyer)
        pick(client, picker_url, buyer.tenants[0].id)
        client.post(picker_url, data={"csrf_token": "x"})  # after success: "already linked" page
        client.get("/callback", params={"code": "bad", "registration_token": "bad"})
    records = [r for r in caplog.records if r.name == "saasus_mw"]
    steps = [(r.saasus_mw_step, r.saasus_mw_status, getattr(r, "saasus_mw_error", "")) for r in records]
    assert steps == [
        ("start", 303, ""),
        ("picker", 200, ""),
        ("link", 303, ""),
        ("link", 200, ""),
        ("start", 400, "bad_request"),
    ]
    journey = hashlib.sha256(token.encode()).hexdigest()[:16]
    assert [r.saasus_mw_journey for r in records[:3]] == [journey] * 3
    assert records[2].saasus_mw_event == "linked" and records[2].saasus_mw_tenant_id == buyer.tenants[0].id
    assert all(isinstance(r.saasus_mw_duration_ms, float) for r in records)
