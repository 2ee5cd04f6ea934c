"""The state must fit in browsers and proxies, whatever SaaSus hands us.

Limits: every Set-Cookie at most 4,096 bytes (RFC 6265 minimum that browsers
honour) and the whole Cookie request header at most 8,190 bytes (a common
proxy limit, e.g. nginx large_client_header_buffers 8k).
"""

from __future__ import annotations

import uuid

import pytest

from saasus_mw.testing import SaaSusStandIn, Tenant

from .conftest import API_KEY, SAAS_ID, SECRET, Adapter, make_settings, parse_picker, pick

JAPANESE_NAME = "株式会社" + "サンプル商事グループホールディングス東京本社営業部第一課" * 2  # padded below


@pytest.fixture(scope="module")
def big_standin() -> SaaSusStandIn:
    with SaaSusStandIn(saas_id=SAAS_ID, api_key=API_KEY, secret_key=SECRET, token_size=2048) as server:
        yield server  # type: ignore[misc]


def test_state_fits_with_2kb_tokens_and_1000_japanese_tenants(adapter: Adapter, big_standin: SaaSusStandIn) -> None:
    names = [f"{(JAPANESE_NAME * 2)[:56]}{i:04d}" for i in range(1000)]
    assert all(len(n) == 60 for n in names)
    user = big_standin.add_user(
        email=f"big-{uuid.uuid4().hex[:8]}@example.com", tenants=[Tenant(name=n) for n in names]
    )
    token = big_standin.issue_registration_token()
    with adapter.connect(make_settings(big_standin)) as client:
        start = client.get("/callback", params={"code": big_standin.issue_code(user), "registration_token": token})
        assert start.status_code == 303
        set_cookies = start.headers.get_list("set-cookie")
        assert set_cookies
        for header in set_cookies:
            assert len(f"Set-Cookie: {header}".encode()) <= 4096 + len("Set-Cookie: ")
            assert len(header.encode()) <= 4096

        picker = client.get(start.headers["location"])
        cookie_header = picker.request.headers["cookie"]
        assert len(cookie_header.encode()) <= 8190
        assert len(parse_picker(picker.text).options) == 1000

        done = pick(client, start.headers["location"], user.tenants[500].id)
        assert done.status_code == 303
    assert (user.tenants[500].id, user.id, token) in big_standin.links
    credentials_call = next(c for c in big_standin.calls if c.endpoint == "credentials")
    assert credentials_call.status == 200
