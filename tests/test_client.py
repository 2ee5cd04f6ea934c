"""saasus_mw.Client, the public client for the app's own sign-in, against the signature-checking stand-in."""

from __future__ import annotations

import json
import os
import threading
import traceback
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

import saasus_mw
from saasus_mw import Client, ConfigError, Credentials, SaaSusError, User
from saasus_mw.client import MARKETPLACE_TTL, NOT_MARKETPLACE_TTL, ErrorKind, Tenant
from saasus_mw.testing import SaaSusStandIn
from saasus_mw.testing import User as StandInUser

from .conftest import API_KEY, SAAS_ID, SECRET, make_settings
from .test_saasus import run_isolated
from .test_security import _every_logger_at_debug, _leaks


@pytest.fixture
def client(standin: SaaSusStandIn) -> Iterator[Client]:
    with Client(make_settings(standin)) as saasus:
        yield saasus


@pytest.fixture
def environment(standin: SaaSusStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("SAASUS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SAASUS_SAAS_ID", SAAS_ID)
    monkeypatch.setenv("SAASUS_API_KEY", API_KEY)
    monkeypatch.setenv("SAASUS_SECRET_KEY", SECRET)
    monkeypatch.setenv("SAASUS_BASE_URL", standin.base_url)


def test_the_readme_quick_start_signs_a_user_in(environment: None, standin: SaaSusStandIn, buyer: StandInUser) -> None:
    query_params = {"code": standin.issue_code(buyer)}
    client = Client()  # SAASUS_* from the environment
    creds = client.exchange_code(query_params["code"])
    user = client.user_info(creds.id_token)
    assert isinstance(creds, Credentials) and creds.id_token and creds.access_token and creds.refresh_token
    assert isinstance(user, User) and user.id == buyer.id and user.email == buyer.email and user.sign_in_id == ""
    assert user.login_name == buyer.email
    assert [(t.id, t.name) for t in user.tenants] == [(t.id, t.name) for t in buyer.tenants]
    assert all(isinstance(t, Tenant) and t.roles == ("admin",) for t in user.tenants)
    client.close()


def test_a_sign_in_id_user_has_no_email_and_is_shown_by_the_sign_in_id(client: Client, standin: SaaSusStandIn) -> None:
    # SaaSus since 2026-04: a user who signs in with an ID has email "" and sign_in_id set (UserInfo schema).
    member = standin.add_user("", ["Acme"], sign_in_id=f"user-{uuid.uuid4().hex[:8]}")
    user = client.user_info(client.exchange_code(standin.issue_code(member)).id_token)
    assert (user.email, user.sign_in_id, user.login_name) == ("", member.sign_in_id, member.sign_in_id)
    assert user.tenants[0].name == "Acme"


def test_an_answer_from_before_sign_in_ids_still_reads(client: Client, standin: SaaSusStandIn) -> None:
    tenant = {"id": str(uuid.uuid4()), "name": "Acme", "completed_sign_up": True, "envs": [], "user_attribute": {}}
    body = {"id": str(uuid.uuid4()), "email": "old@example.com", "user_attribute": {}, "tenants": [tenant]}
    standin.inject("userinfo", status=200, body=json.dumps(body))
    user = client.user_info("an-id-token")
    assert (user.email, user.sign_in_id, user.login_name) == ("old@example.com", "", "old@example.com")


def test_refresh_gives_new_tokens_and_keeps_the_refresh_token(
    client: Client, standin: SaaSusStandIn, buyer: StandInUser
) -> None:
    first = client.exchange_code(standin.issue_code(buyer))
    assert first.refresh_token is not None
    again = client.refresh(first.refresh_token)
    assert again.id_token != first.id_token and again.access_token != first.access_token
    assert again.refresh_token == first.refresh_token
    assert client.user_info(again.id_token).id == buyer.id
    call = standin.calls[1]
    assert call.query["auth-flow"] == ["refreshTokenAuth"] and call.query["refresh-token"] == [first.refresh_token]


@pytest.mark.parametrize(
    ("call", "kind", "sent"),
    [
        pytest.param(lambda c: c.exchange_code(str(uuid.uuid4())), ErrorKind.REJECTED, True, id="unknown-code"),
        pytest.param(lambda c: c.exchange_code("not-a-code"), ErrorKind.REJECTED, False, id="malformed-code"),
        pytest.param(lambda c: c.exchange_code(None), ErrorKind.REJECTED, False, id="no-code"),
        pytest.param(lambda c: c.user_info("expired-token"), ErrorKind.DENIED, True, id="unknown-id-token"),
        pytest.param(lambda c: c.user_info(""), ErrorKind.DENIED, False, id="empty-id-token"),
        pytest.param(lambda c: c.refresh("unknown-refresh-token"), ErrorKind.REJECTED, True, id="unknown-refresh"),
        pytest.param(lambda c: c.refresh(""), ErrorKind.REJECTED, False, id="empty-refresh"),
    ],
)
def test_refusals_raise_a_saasus_error_with_its_kind(
    client: Client, standin: SaaSusStandIn, call: Any, kind: ErrorKind, sent: bool
) -> None:
    with pytest.raises(SaaSusError) as info:
        call(client)
    assert info.value.kind is kind and info.value.kind == kind.value
    assert bool(standin.calls) is sent  # a malformed value never reaches SaaSus


def test_saasus_down_is_a_timeout_not_a_hang(standin: SaaSusStandIn, buyer: StandInUser) -> None:
    standin.inject("credentials", delay=1.0)
    with Client(make_settings(standin, timeout=0.2)) as client, pytest.raises(SaaSusError) as info:
        client.exchange_code(standin.issue_code(buyer))
    assert info.value.kind is ErrorKind.TIMEOUT


def test_is_marketplace_tenant_asks_once_and_remembers(
    client: Client, standin: SaaSusStandIn, buyer: StandInUser
) -> None:
    bought, other = buyer.tenants[0].id, buyer.tenants[1].id
    standin.link_customer(bought)
    assert client.is_marketplace_tenant(bought) is True
    assert client.is_marketplace_tenant(other) is False
    assert [c.query["tenant_ids"] for c in standin.calls] == [[bought], [other]]
    assert client.is_marketplace_tenant(bought) is True and client.is_marketplace_tenant(other) is False
    assert len(standin.calls) == 2  # both answers reused


def test_remembered_answers_expire_a_no_sooner_than_a_yes(
    client: Client, standin: SaaSusStandIn, buyer: StandInUser
) -> None:
    now = [1000.0]
    client._recent._clock = lambda: now[0]
    bought, other = buyer.tenants[0].id, buyer.tenants[1].id
    standin.link_customer(bought)
    client.is_marketplace_tenant(bought), client.is_marketplace_tenant(other)
    standin.link_customer(other)  # linked to a purchase meanwhile
    now[0] += NOT_MARKETPLACE_TTL
    assert client.is_marketplace_tenant(other) is True  # a "no" is asked again after 10 s
    assert client.is_marketplace_tenant(bought) is True and len(standin.calls) == 3  # a "yes" is still known
    now[0] += MARKETPLACE_TTL
    client.is_marketplace_tenant(bought)
    assert len(standin.calls) == 4


def test_what_is_remembered_is_bounded(client: Client, standin: SaaSusStandIn) -> None:
    client._recent._size = 3
    tenants = [str(uuid.uuid4()) for _ in range(5)]
    for tenant in tenants:
        assert client.is_marketplace_tenant(tenant) is False
    assert len(client._recent) == 3
    client.is_marketplace_tenant(tenants[-1])  # the newest is kept
    client.is_marketplace_tenant(tenants[0])  # the oldest was forgotten
    assert [c.query["tenant_ids"][0] for c in standin.calls[5:]] == [tenants[0]]


def test_is_marketplace_tenant_from_many_threads(client: Client, standin: SaaSusStandIn, buyer: StandInUser) -> None:
    standin.link_customer(buyer.tenants[0].id)
    answers: list[bool] = []
    threads = [
        threading.Thread(target=lambda t=t: answers.append(client.is_marketplace_tenant(t.id)))
        for t in buyer.tenants * 10
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] * 20 + [True] * 10
    assert len(standin.calls) <= 30 and client.is_marketplace_tenant(buyer.tenants[0].id)


@pytest.mark.parametrize("tenant_id", ["", "all", None])
def test_a_tenant_id_that_is_not_one_is_refused_before_asking(
    client: Client, standin: SaaSusStandIn, tenant_id: Any
) -> None:
    # Asked with no tenant ID, SaaSus answers every customer: "yes" for anything.
    standin.link_customer(str(uuid.uuid4()))
    with pytest.raises(ValueError, match="not a SaaSus tenant ID"):
        client.is_marketplace_tenant(tenant_id)
    assert standin.calls == []


def test_a_failed_check_is_raised_and_not_remembered(
    client: Client, standin: SaaSusStandIn, buyer: StandInUser
) -> None:
    standin.inject("customers", status=500, body='{"type": "internal_server_error", "message": "down"}')
    with pytest.raises(SaaSusError) as info:
        client.is_marketplace_tenant(buyer.tenants[0].id)
    assert info.value.kind is ErrorKind.SERVER_ERROR
    standin.link_customer(buyer.tenants[0].id)
    assert client.is_marketplace_tenant(buyer.tenants[0].id) is True


def test_the_async_twins_run_in_the_clients_own_threads(
    client: Client, standin: SaaSusStandIn, buyer: StandInUser
) -> None:
    standin.inject("credentials", delay=0.5)
    standin.link_customer(buyer.tenants[0].id)
    seen: dict[str, Any] = {}

    async def main() -> None:
        async with anyio.create_task_group() as group:

            async def sign_in() -> None:
                credentials = await client.aexchange_code(standin.issue_code(buyer))
                seen["user"] = await client.auser_info(credentials.id_token)
                assert credentials.refresh_token
                seen["refreshed"] = await client.arefresh(credentials.refresh_token)

            group.start_soon(sign_in)
            while not standin.calls:  # the exchange is in flight in SaaSus...
                await anyio.sleep(0.01)
            # ...and the loop still runs, with the call holding one of the client's threads, not the default pool's.
            seen["borrowed"] = (
                client._limiter.borrowed_tokens,
                anyio.to_thread.current_default_thread_limiter().borrowed_tokens,
            )
        seen["bought"] = await client.ais_marketplace_tenant(buyer.tenants[0].id)
        calls = len(standin.calls)
        seen["again"] = await client.ais_marketplace_tenant(buyer.tenants[0].id)
        seen["asked_again"] = len(standin.calls) != calls

    anyio.run(main)
    assert seen["borrowed"] == (1, 0)
    assert seen["user"].id == buyer.id and seen["refreshed"].id_token
    assert seen["bought"] is True and seen["again"] is True and seen["asked_again"] is False
    assert client._limiter.total_tokens == client.settings.max_threads


def test_async_failures_raise_the_same_error(client: Client) -> None:
    async def main() -> None:
        with pytest.raises(SaaSusError) as info:
            await client.aexchange_code("not-a-code")
        assert info.value.kind is ErrorKind.REJECTED
        with pytest.raises(ValueError):
            await client.ais_marketplace_tenant("")

    anyio.run(main)


def test_no_code_or_token_in_any_log_repr_or_error(standin: SaaSusStandIn, buyer: StandInUser) -> None:
    secrets: set[str] = set()
    errors: list[str] = []
    with _every_logger_at_debug() as written, Client(make_settings(standin)) as client:
        code = standin.issue_code(buyer)
        credentials = client.exchange_code(code)
        assert credentials.refresh_token
        refreshed = client.refresh(credentials.refresh_token)
        user = client.user_info(refreshed.id_token)
        client.is_marketplace_tenant(user.tenants[0].id)
        secrets |= {code, credentials.id_token, credentials.access_token, credentials.refresh_token}
        secrets |= {refreshed.id_token, refreshed.access_token}
        errors.append(repr(client) + repr(credentials) + repr(refreshed) + repr(user))
        for bad in (lambda: client.exchange_code(code), lambda: client.refresh(credentials.id_token)):  # used, wrong
            with pytest.raises(SaaSusError) as info:
                bad()
            errors.append("".join(traceback.format_exception(info.value)) + repr(info.value))
    ours = [r for r in written.records if not r.startswith("saasus_mw.testing")]  # the stand-in is SaaSus
    assert any("/v1/auth/credentials" in r for r in ours)  # urllib3 did write the requests
    assert _leaks(secrets, ours + errors, windows=True) == []


def test_settings_come_from_the_environment_and_are_checked_at_construction(
    environment: None, standin: SaaSusStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Client(timeout=3).settings.timeout == 3  # keyword overrides, as for the middleware
    with pytest.raises(TypeError, match="either settings= or keyword settings"):
        Client(make_settings(standin), timeout=3)
    monkeypatch.setenv("SAASUS_MW_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match="SAASUS_MW_TIMEOUT"):
        Client()
    monkeypatch.delenv("SAASUS_MW_TIMEOUT")
    monkeypatch.delenv("SAASUS_SECRET_KEY")
    with pytest.raises(ConfigError, match="SAASUS_SECRET_KEY is required"):
        Client()
    # A disabled middleware needs no credentials; the app's own sign-in still does.
    monkeypatch.setenv("SAASUS_MW_ENABLED", "false")
    with pytest.raises(ConfigError, match=r"SAASUS_SECRET_KEY is required by saasus_mw\.Client"):
        Client()


def test_a_closed_client_refuses_calls(standin: SaaSusStandIn, buyer: StandInUser) -> None:
    with Client(make_settings(standin)) as client:
        pass
    client.close()  # twice: nothing happens
    with pytest.raises(RuntimeError, match="closed"):
        client.exchange_code(standin.issue_code(buyer))


def test_two_clients_with_different_saasus_in_one_process(standin: SaaSusStandIn, buyer: StandInUser) -> None:
    # The SDK's Callback keeps the first base URL it saw: ours do not share anything.
    with SaaSusStandIn(saas_id="other-saas", api_key="other-key", secret_key="other-secret") as second:
        someone = second.add_user("someone@example.com", ["Elsewhere"])
        other = make_settings(
            second, saasus_saas_id="other-saas", saasus_api_key="other-key", saasus_secret_key="other-secret"
        )
        with Client(make_settings(standin)) as ours, Client(other) as theirs:
            assert ours.user_info(ours.exchange_code(standin.issue_code(buyer)).id_token).id == buyer.id
            assert theirs.user_info(theirs.exchange_code(second.issue_code(someone)).id_token).id == someone.id


def test_importing_saasus_mw_loads_neither_the_client_nor_the_sdk(standin: SaaSusStandIn) -> None:
    out = run_isolated(
        """
        import json, sys
        import saasus_mw
        heavy = ("saasus_mw.client", "saasus_mw.saasus", "saasus_sdk_python", "pydantic", "urllib3")
        before = sorted(m for m in sys.modules if m.startswith(heavy))
        from saasus_mw import Client, User, SaaSusError
        print(json.dumps({"before": before, "exported": [Client.__module__, User.__module__, SaaSusError.__name__]}))
        """,
        standin,
    )
    assert out == {"before": [], "exported": ["saasus_mw.client", "saasus_mw.client", "SaaSusError"]}
    assert {"Client", "User", "SaaSusError", "Credentials"} <= set(saasus_mw.__all__)
    assert "Client" in dir(saasus_mw)
