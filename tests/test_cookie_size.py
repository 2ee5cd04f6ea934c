"""The state must fit in browsers and proxies, whatever SaaSus hands us, and reveal nothing.

Limits: every Set-Cookie at most 4,096 bytes (RFC 6265 minimum that browsers
honour), and the state's share of the Cookie request header at most 6,600 bytes,
leaving the host app room under a common 8,190-byte proxy limit (nginx
large_client_header_buffers 8k).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import uuid
import zlib

import pytest

from saasus_mw.testing import SaaSusStandIn, Tenant

from .conftest import API_KEY, SAAS_ID, SECRET, Adapter, error_code, make_settings, parse_picker, pick

JAPANESE_NAME = "株式会社" + "サンプル商事グループホールディングス東京本社営業部第一課" * 2  # padded below


def _standin(token_size: int, refresh_token_size: int) -> SaaSusStandIn:
    return SaaSusStandIn(
        saas_id=SAAS_ID,
        api_key=API_KEY,
        secret_key=SECRET,
        token_size=token_size,
        refresh_token_size=refresh_token_size,
    )


@pytest.fixture(scope="module")
def big_standin() -> SaaSusStandIn:
    with _standin(2048, 1800) as server:
        yield server  # type: ignore[misc]


def _state_part(cookie_header: str) -> str:
    return "; ".join(p for p in cookie_header.split("; ") if p.startswith("saasus_mw_state_"))


def test_state_fits_with_2kb_tokens_a_refresh_token_and_1000_japanese_tenants(
    adapter: Adapter, big_standin: SaaSusStandIn
) -> None:
    names = [f"{(JAPANESE_NAME * 2)[:56]}{i:04d}" for i in range(1000)]
    assert all(len(n) == 60 for n in names)
    user = big_standin.add_user(
        email=f"big-{uuid.uuid4().hex[:8]}@example.com", tenants=[Tenant(name=n) for n in names]
    )
    token = big_standin.issue_registration_token()
    with adapter.connect(make_settings(big_standin, success_url="")) as client:
        start = client.get("/callback", params={"code": big_standin.issue_code(user), "registration_token": token})
        assert start.status_code == 303
        set_cookies = start.headers.get_list("set-cookie")
        assert len(set_cookies) == 2
        for header in set_cookies:
            assert len(header.encode()) <= 4096

        picker = client.get(start.headers["location"])
        assert len(_state_part(picker.request.headers["cookie"]).encode()) <= 6600
        assert len(parse_picker(picker.text).options) == 1000

        done = pick(client, start.headers["location"], user.tenants[500].id)
        assert done.status_code == 303 and "code=" in done.headers["location"]
    assert (user.tenants[500].id, user.id, token) in big_standin.links
    # The refresh token fitted: it was handed off with the others.
    handed = next(c for c in big_standin.calls if c.endpoint == "create_credentials")
    assert b'"refresh_token"' in handed.body


def test_no_token_can_be_read_from_the_cookie(adapter: Adapter, big_standin: SaaSusStandIn) -> None:
    user = big_standin.add_user(email=f"peek-{uuid.uuid4().hex[:8]}@example.com", tenants=["Acme"])
    token = big_standin.issue_registration_token()
    with adapter.connect(make_settings(big_standin)) as client:
        start = client.get("/callback", params={"code": big_standin.issue_code(user), "registration_token": token})
    issued = next(c for c in big_standin.calls if c.endpoint == "credentials").response_body.decode()
    secrets = [token, *(value for key, value in json.loads(issued).items())]
    sealed = "".join(c.split(";", 1)[0].split("=", 1)[1] for c in start.headers.get_list("set-cookie"))
    raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    readings = [sealed, raw.decode("latin-1")]
    for offset in range(0, 40):  # whatever framing an attacker guesses, no deflate stream is in the clear
        with contextlib.suppress(zlib.error):
            readings.append(zlib.decompressobj().decompress(raw[offset:]).decode("latin-1"))
    for secret in secrets:
        for start_at in range(0, len(secret) - 16, 16):
            fragment = secret[start_at : start_at + 16]
            assert not any(fragment in reading for reading in readings)


def test_too_large_tokens_drop_the_refresh_token_first(adapter: Adapter, caplog: pytest.LogCaptureFixture) -> None:
    with _standin(2900, 1800) as saasus:
        user = saasus.add_user(email="large@example.com", tenants=["Acme"])
        with caplog.at_level(logging.WARNING), adapter.connect(make_settings(saasus, success_url="")) as client:
            start = client.get(
                "/callback",
                params={"code": saasus.issue_code(user), "registration_token": saasus.issue_registration_token()},
            )
            assert start.status_code == 303
            done = pick(client, start.headers["location"], user.tenants[0].id)
        assert done.status_code == 303 and "code=" in done.headers["location"]
        handed = next(c for c in saasus.calls if c.endpoint == "create_credentials")
    assert b'"refresh_token"' not in handed.body  # signed in all the same, without one
    assert any("without one" in r.getMessage() for r in caplog.records)


def test_id_and_access_tokens_too_large_even_alone(adapter: Adapter) -> None:
    with _standin(3400, 300) as saasus:
        user = saasus.add_user(email="huge@example.com", tenants=["Acme"])
        with adapter.connect(make_settings(saasus)) as client:
            params = {"code": saasus.issue_code(user), "registration_token": saasus.issue_registration_token()}
            response = client.get("/callback", params=params)
    assert response.status_code == 502 and error_code(response) == "state_too_large"
