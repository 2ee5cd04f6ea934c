"""The findings of the independent security review, each reproduced, on both adapters.

Items 1-3 (purchase truth, tokens in logs, one buyer stalling all) are in
test_completion.py and test_security.py; these are the smaller holes.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

from saasus_mw import ConfigError, Linked, MarketplaceWSGIMiddleware
from saasus_mw.testing import SaaSusStandIn, User

from .conftest import ADAPTERS, Adapter, _wsgi_open, begin, make_settings, pick, wsgi_host

# -- 4. redirect targets -------------------------------------------------------------------


@pytest.mark.parametrize(
    "returned",
    [
        pytest.param("/next\r\nSet-Cookie: evil=1", id="crlf"),
        pytest.param("/next\nX-Evil: 1", id="lf"),
        pytest.param("/\t/evil.example", id="tab-makes-it-protocol-relative"),
        pytest.param("https://evil.example/x", id="another-origin"),
        pytest.param("https://app.example.com\t.evil.example/", id="tab-in-host"),
        pytest.param("//evil.example", id="protocol-relative"),
        pytest.param("/\\evil.example", id="backslash"),
        # latin-1 would carry it, but browsers read a Location's bytes as UTF-8: another page.
        pytest.param("/caf\u00e9", id="latin-1-path"),
    ],
)
def test_on_linked_urls_never_inject_headers_nor_leave_the_allowed_origins(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, returned: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(standin, success_url="https://app.example.com/home")
    with caplog.at_level(logging.WARNING), adapter.open(adapter.wrap(settings, on_linked=lambda r: returned)) as client:
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
    assert done.status_code == 303 and done.headers["location"] == "https://app.example.com/home"
    assert "evil" not in str(done.headers)
    assert any("unusable URL" in r.getMessage() for r in caplog.records)
    assert len(standin.links) == 1


def test_on_linked_may_use_the_success_or_sign_in_origin(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    settings = make_settings(standin, success_url="", signin_url="https://app.example.com/callback")
    hook = lambda r: "https://app.example.com/welcome?first=1"  # noqa: E731
    with adapter.open(adapter.wrap(settings, on_linked=hook)) as client:
        _, picker_url = begin(client, standin, buyer)
        assert (
            pick(client, picker_url, buyer.tenants[0].id).headers["location"]
            == "https://app.example.com/welcome?first=1"
        )


@pytest.mark.parametrize("value", ["/home\r\nX: 1", "/home\t", "https://a.example/\nb", "/\t/evil.example", "//evil"])
@pytest.mark.parametrize("setting", ["success_url", "signup_url", "signin_url"])
def test_configured_urls_with_control_characters_are_refused(standin: SaaSusStandIn, setting: str, value: str) -> None:
    if value.strip() == "/home":  # only surrounding whitespace: trimmed, fine
        make_settings(standin, **{setting: value})
        return
    with pytest.raises(ConfigError):
        make_settings(standin, **{setting: value})


def test_a_proxy_prefix_never_makes_a_protocol_relative_location(standin: SaaSusStandIn, buyer: User) -> None:
    # ProxyFix trusts X-Forwarded-Prefix into SCRIPT_NAME: "//evil.example" must stay a path here.
    app = ProxyFix(MarketplaceWSGIMiddleware(wsgi_host, settings=make_settings(standin)), x_prefix=1)
    with _wsgi_open(app) as client:
        client.headers["x-forwarded-prefix"] = "//evil.example"
        params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
        response = client.get("/callback", params=params)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/evil.example/callback?")
    assert "Path=/evil.example/callback" in response.headers["set-cookie"]


def test_an_asgi_root_path_never_makes_a_protocol_relative_location(standin: SaaSusStandIn, buyer: User) -> None:
    # WSGI's SCRIPT_NAME is covered above through ProxyFix; this is uvicorn's --root-path.
    with ADAPTERS["asgi"].connect(make_settings(standin), root_path="//evil.example") as client:
        params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
        response = client.get("//evil.example/callback", params=params)
    assert response.status_code == 303 and response.headers["location"].startswith("/evil.example/callback?")


# -- 5. the "linked" marker belongs to its purchase -------------------------------------------------


def test_the_linked_marker_says_nothing_about_another_purchase(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User
) -> None:
    token, picker_url = begin(client, standin, buyer)
    assert pick(client, picker_url, buyer.tenants[0].id).status_code == 303
    # The same purchase again (Back to the first URL): this browser completed it.
    params = {"code": standin.issue_code(buyer), "registration_token": token}
    again = client.get("/callback", params=params, follow_redirects=True)
    assert again.status_code == 200 and "already linked" in again.text
    # Another purchase, whose token is unknown or used: not "your purchase is linked",
    # only what is known (the link is spent; one of the accounts has a subscription).
    for other in ("unknown-token", standin.issue_registration_token()):
        if other != "unknown-token":
            standin.spend_registration_token(other)  # used elsewhere
        params = {"code": standin.issue_code(buyer), "registration_token": other}
        response = client.get("/callback", params=params, follow_redirects=True)
        assert response.status_code == 200 and "Your purchase is linked" not in response.text
        assert "most likely set up" in response.text
    assert len(standin.links) == 1


# -- 6. hostile inputs are cheap ---------------------------------------------------------------------


def test_an_oversized_query_is_refused_without_parsing(client: httpx.Client, standin: SaaSusStandIn) -> None:
    hostile = "registration_token=x&" + "&".join(f"k{i}=v" for i in range(8000))
    response = client.get(f"/callback?{hostile}", headers={"accept-language": "en;q=0.1," * 8000})
    # Not one of ours: too long to be a SaaSus callback, and no call to SaaSus is made.
    assert response.status_code in (200, 400) and standin.calls == []


# -- hardening: plain http with Secure cookies -------------------------------------------------------


def test_a_secure_cookie_over_plain_http_is_warned_about(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    app = adapter.wrap(make_settings(standin))
    with caplog.at_level(logging.WARNING), adapter.open(app) as client:
        client.base_url = httpx.URL("http://shop.example.com")
        params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
        assert client.get("/callback", params=params).status_code == 303
    assert any("plain http" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING), adapter.open(app) as client:
        client.base_url = httpx.URL("http://localhost")  # browsers keep Secure cookies on localhost
        params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
        client.get("/callback", params=params)
    assert not any("plain http" in r.getMessage() for r in caplog.records)


def test_linked_result_on_hook() -> None:
    assert "created" in Linked.__dataclass_fields__


@pytest.mark.parametrize("prefix", ["http:/evil.example", "\\\\evil.example", "/ok\u00ff"])
def test_a_hostile_root_path_never_leaves_the_site(standin: SaaSusStandIn, buyer: User, prefix: str) -> None:
    app = MarketplaceWSGIMiddleware(wsgi_host, settings=make_settings(standin))
    environ_prefix = {"SCRIPT_NAME": prefix}
    with httpx.Client(
        transport=httpx.WSGITransport(app=lambda e, s: app({**e, **environ_prefix}, s)), base_url="https://testserver"
    ) as client:
        params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
        location = client.get("/callback", params=params).headers["location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")) and location.isascii()


def test_a_content_length_of_5000_digits_is_too_large_not_a_crash(standin: SaaSusStandIn, buyer: User) -> None:
    with ADAPTERS["asgi"].connect(make_settings(standin)) as client:
        _, picker_url = begin(client, standin, buyer)
        response = client.post(
            picker_url,
            content=b"x=1",
            headers={"content-type": "application/x-www-form-urlencoded", "content-length": "9" * 5000},
        )
    assert response.status_code == 413


def test_forwarded_query_bytes_keep_their_encoding(adapter: Adapter, standin: SaaSusStandIn) -> None:
    with adapter.connect(make_settings(standin, signin_url="https://app.example.com/cb")) as client:
        response = client.get("/callback?state=caf%E9&x=%C3%A9")
    assert response.headers["location"] == "https://app.example.com/cb?state=caf%E9&x=%C3%A9"
