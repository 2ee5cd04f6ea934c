"""Hardening: hostile input, SaaSus faults, replay and secrets, on both adapters.

Each test here fails without the protection it names.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from secrets import token_urlsafe
from typing import Any

import httpx
import pytest

from saasus_mw import Linked, Settings
from saasus_mw.saasus import ErrorKind, SaaSus, SaaSusError
from saasus_mw.testing import SaaSusStandIn, User

from .conftest import (
    API_KEY,
    SAAS_ID,
    SECRET,
    Adapter,
    begin,
    error_code,
    make_settings,
    parse_picker,
    pick,
    post_together,
)

# -- every page carries the same protective headers --------------------------------------


def _pages(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> dict[str, httpx.Response]:
    """One response of every kind of page the middleware serves."""
    pages: dict[str, httpx.Response] = {}
    pages["bad_request"] = client.get("/callback", params={"registration_token": "x", "code": "y"})
    pages["not_allowed"] = client.put("/callback?saasus_mw=select")
    pages["state_missing"] = client.get("/callback?saasus_mw=select")
    begin(client, standin, buyer)
    pages["redirect"] = client.get(
        "/callback",
        params={"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()},
    )
    picker_url = pages["redirect"].headers["location"]  # this browser's latest purchase
    pages["picker"] = client.get(picker_url)
    pages["csrf_failed"] = client.post(picker_url, data={"csrf_token": "x", "tenant_id": "y"})
    pages["too_large"] = client.post(
        picker_url, content=b"x" * 10_000, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    pages["success"] = pick(client, picker_url, buyer.tenants[0].id)
    pages["linked"] = client.get(picker_url)
    return pages


def test_every_page_has_the_security_headers(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    for kind, response in _pages(client, standin, buyer).items():
        headers = response.headers
        assert headers["content-type"] == "text/html; charset=utf-8", kind
        assert headers["cache-control"] == "no-store", kind
        # No token is ever in the picker's address: same-origin lets browsers send its Origin.
        assert headers["referrer-policy"] == ("same-origin" if kind == "picker" else "no-referrer"), kind
        assert headers["x-frame-options"] == "DENY", kind
        assert headers["x-content-type-options"] == "nosniff", kind
        csp = dict(d.strip().split(" ", 1) for d in headers["content-security-policy"].split(";"))
        assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'", kind
        assert csp["form-action"] == "'self'", kind
        assert "http" not in csp["style-src"], kind  # no third-party assets


def test_form_action_allows_an_external_success_url(adapter: Adapter, standin: SaaSusStandIn) -> None:
    # Browsers apply form-action to the redirect after the POST as well.
    settings = make_settings(standin, success_url="https://login.example.com/sign-in?x=1")
    with adapter.connect(settings) as client:
        csp = client.get("/callback?saasus_mw=select").headers["content-security-policy"]
    assert "form-action 'self' https://login.example.com;" in csp


def test_state_cookie_attributes(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
    cookies = client.get("/callback", params=params).headers.get_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "secure", "path", "max-age", "samesite"} <= attributes
        assert "SameSite=Lax" in cookie and "Path=/callback;" in cookie + ";"


def test_insecure_cookie_when_configured(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin, cookie_secure=False)) as client:
        params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
        cookies = client.get("/callback", params=params).headers.get_list("set-cookie")
    assert cookies and not any("Secure" in c for c in cookies)


# -- cross-site posts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        pytest.param({"origin": "https://evil.example"}, 403, id="foreign-origin"),
        pytest.param({"origin": "null", "sec-fetch-site": "cross-site"}, 403, id="null-origin-cross-site"),
        # A page under Referrer-Policy: no-referrer sends "null"; ours is same-origin, so
        # browsers send our real origin, and "null" is someone else's page (or a sandbox).
        pytest.param({"origin": "null", "sec-fetch-site": "same-origin"}, 403, id="null-origin-same-origin"),
        pytest.param({"origin": "null"}, 403, id="null-origin-no-fetch-metadata"),
        # Behind a TLS-terminating proxy the app sees http; the browser's origin says https.
        pytest.param({"origin": "http://testserver", "sec-fetch-site": "same-origin"}, 303, id="scheme-not-compared"),
        pytest.param({"origin": "garbage"}, 403, id="malformed-origin"),
        pytest.param({"origin": "https://testserver.evil.example"}, 403, id="suffix-origin"),
        pytest.param({"sec-fetch-site": "cross-site"}, 403, id="cross-site"),
        pytest.param({"sec-fetch-site": "same-site"}, 403, id="same-site-subdomain"),
        pytest.param({"origin": "https://testserver", "sec-fetch-site": "same-origin"}, 303, id="same-origin"),
        pytest.param({"origin": "https://testserver:443"}, 303, id="same-origin-explicit-port"),
        pytest.param({}, 303, id="no-fetch-metadata"),
    ],
)
def test_cross_site_posts_are_refused(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, headers: dict[str, str], status: int
) -> None:
    _, picker_url = begin(client, standin, buyer)
    form = parse_picker(client.get(picker_url).text)
    data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
    response = client.post(picker_url, data=data, headers=headers)
    assert response.status_code == status
    assert len(standin.links) == (1 if status == 303 else 0)


def test_csrf_token_is_bound_to_its_own_state(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    # A token from another (valid) state must not pass: it is the attacker's own.
    _, picker_url = begin(client, standin, buyer)
    other = parse_picker(client.get(picker_url).text).inputs["csrf_token"]
    _, picker_url = begin(client, standin, buyer)  # a new state replaces the first
    response = client.post(picker_url, data={"csrf_token": other, "tenant_id": buyer.tenants[0].id})
    assert response.status_code == 403 and error_code(response) == "csrf_failed"


# -- bodies are bounded ---------------------------------------------------------------------


def test_streamed_body_without_length_is_bounded(
    adapter: Adapter, client: httpx.Client, standin: SaaSusStandIn, buyer: User
) -> None:
    _, picker_url = begin(client, standin, buyer)

    def body() -> Any:
        yield from (b"a" * 1024 for _ in range(1000))

    response = client.post(picker_url, content=body(), headers={"content-type": "application/x-www-form-urlencoded"})
    # ASGI streams the body and stops reading past the limit. WSGI without
    # Content-Length (and no wsgi.input_terminated) has no body by PEP 3333, so
    # nothing is read at all; tests/test_servers.py sends real chunked bodies.
    assert response.status_code == (413 if adapter.name == "asgi" else 403)


# -- replay, double submits, lost answers -----------------------------------------------------


def test_concurrent_double_submit_links_once(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    app = adapter.wrap(make_settings(standin))
    with adapter.open(app) as first, adapter.open(app) as second:
        token, picker_url = begin(first, standin, buyer)
        form = parse_picker(first.get(picker_url).text)
        data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
        second.cookies.update(first.cookies)
        standin.inject("link", delay=0.5)  # both POSTs are in flight together
        results = post_together([first, second], picker_url, data)
    assert [r.status_code for r in results] == [303, 303]
    assert [c.endpoint for c in standin.calls].count("link") == 1
    assert standin.links == [(buyer.tenants[0].id, buyer.id, token)]


def test_a_repost_on_another_worker_never_claims_a_tenant_it_did_not_link(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User
) -> None:
    # Another process has no memory of the first POST, and "the tenant has a customer
    # and our token is spent" is also what an older purchase leaves behind: nothing is
    # claimed and nobody is signed in, but the buyer is told it is most likely set up.
    settings = make_settings(standin)
    seen: list[Linked] = []
    app_a, app_b = adapter.wrap(settings, on_linked=seen.append), adapter.wrap(settings, on_linked=seen.append)
    with adapter.open(app_a) as worker_a, adapter.open(app_b) as worker_b:
        _, picker_url = begin(worker_a, standin, buyer)
        form = parse_picker(worker_a.get(picker_url).text)
        data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
        worker_b.cookies.update(worker_a.cookies)
        assert worker_a.post(picker_url, data=data).status_code == 303
        again = worker_b.post(picker_url, data=data)
    assert again.status_code == 200 and "This purchase is already set up" in again.text
    assert "“Globex” already has an AWS Marketplace subscription" in again.text
    assert len(standin.links) == 1 and len(seen) == 1
    assert "create_credentials" not in [c.endpoint for c in standin.calls]


def test_reloading_the_post_after_success(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    _, picker_url = begin(client, standin, buyer)
    form = parse_picker(client.get(picker_url).text)
    data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
    assert client.post(picker_url, data=data).status_code == 303
    again = client.post(picker_url, data=data)  # the browser re-sends the form
    assert again.status_code == 200 and "already linked" in again.text
    assert len(standin.links) == 1


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"after": True, "delay": 3.0}, id="timeout-after-saasus-acted"),
        pytest.param({"after": True, "drop": True}, id="dropped-after-saasus-acted"),
        pytest.param({"after": True, "status": 500}, id="5xx-after-saasus-acted"),
    ],
)
def test_lost_link_answer_is_confirmed_not_repeated(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, fault: dict[str, Any]
) -> None:
    token, picker_url = begin(client, standin, buyer)
    standin.inject("link", **fault)
    response = pick(client, picker_url, buyer.tenants[0].id)
    assert response.status_code == 303  # confirmed through customers + verify
    assert [c.endpoint for c in standin.calls].count("link") == 1
    assert standin.links == [(buyer.tenants[0].id, buyer.id, token)]


def test_lost_answer_and_saasus_still_down_then_retry(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User
) -> None:
    token, picker_url = begin(client, standin, buyer)
    form = parse_picker(client.get(picker_url).text)
    data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
    standin.inject("link", after=True, delay=3.0)
    standin.inject("customers", delay=0.01)  # the look before linking: fine
    standin.inject("customers", status=503)  # the confirmation after the lost answer: fails
    response = client.post(picker_url, data=data)
    assert response.status_code == 504 and "Try again" in response.text
    # SaaSus recovers; the retry looks first and finds the link done.
    retry = client.post(picker_url, data=data)
    assert retry.status_code == 303
    assert [c.endpoint for c in standin.calls].count("link") == 1
    assert standin.links == [(buyer.tenants[0].id, buyer.id, token)]


def test_tenant_linked_to_another_purchase(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    standin.link_customer(buyer.tenants[0].id)
    _, picker_url = begin(client, standin, buyer)
    response = pick(client, picker_url, buyer.tenants[0].id)
    assert response.status_code == 409 and error_code(response) == "tenant_already_linked"
    assert [c.endpoint for c in standin.calls].count("link") == 0


# -- SaaSus faults at every call of the POST -----------------------------------------------------

FAULTS = [
    pytest.param({"status": 500}, 502, id="5xx"),
    pytest.param({"status": 403, "body": json.dumps({"type": "forbidden", "message": "no"})}, 502, id="4xx"),
    pytest.param({"delay": 3.0}, 504, id="timeout"),
    pytest.param({"drop": True}, 502, id="dropped"),
    pytest.param({"status": 200, "body": "{]"}, 502, id="malformed-json"),
    pytest.param({"delay": 0.3}, 303, id="slow-but-in-time"),
]


@pytest.mark.parametrize(("fault", "status"), FAULTS)
@pytest.mark.parametrize("endpoint", ["userinfo", "customers", "link"])
def test_faults_during_the_link_post(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, endpoint: str, fault: dict[str, Any], status: int
) -> None:
    token, picker_url = begin(client, standin, buyer)
    form = parse_picker(client.get(picker_url).text)
    data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
    standin.inject(endpoint, **fault)
    response = client.post(picker_url, data=data)
    if endpoint == "userinfo" and fault.get("status") == 403:
        status = 400  # SaaSus refused the ID token: the session is over
    elif endpoint == "link" and fault.get("body") == "{]":
        status = 303  # a 200 from LinkAwsMarketplace is a link, whatever its body
    assert response.status_code == status, response.text
    if status >= 500:
        assert "Try again" in response.text and standin.links == []
        # SaaSus recovers: the state survived and the retry links, once.
        assert client.post(picker_url, data=data).status_code == 303
    assert standin.links in ([], [(buyer.tenants[0].id, buyer.id, token)])
    assert [c.endpoint for c in standin.calls].count("link") <= 1 + (status >= 500)


@pytest.mark.parametrize(("fault", "status"), FAULTS)
def test_faults_while_showing_the_picker(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, fault: dict[str, Any], status: int
) -> None:
    _, picker_url = begin(client, standin, buyer)
    standin.inject("userinfo", **fault)
    response = client.get(picker_url)
    expected = {303: 200, 502: 502, 504: 504}[status]
    if fault.get("status") == 403:
        expected = 400  # SaaSus refused the ID token: the session is over
    assert response.status_code == expected
    if expected >= 500:
        assert client.get(picker_url).status_code == 200  # reload works once SaaSus is back


# -- no token or secret in logs, pages or reprs ---------------------------------------------------


def test_no_token_leaks_into_logs_or_pages(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for response in _pages(client, standin, buyer).values():
            seen.append(response.text)
            seen.append(str(response.headers.get("location", "")))
        # failures that log: SaaSus errors and refusals
        _, picker_url = begin(client, standin, buyer)
        standin.inject("link", status=400)
        seen.append(pick(client, picker_url, buyer.tenants[1].id).text)
        standin.inject("userinfo", status=500)
        seen.append(client.get(picker_url).text)
    secrets = _secrets_sent(standin)
    assert len(secrets) > 10
    # The stand-in (SaaSus) and the test's own HTTP client see tokens by design.
    server_side = [r for r in caplog.records if not r.name.startswith(("saasus_mw.testing", "httpx"))]
    ours = [r.getMessage() for r in server_side] + [repr(r.__dict__) for r in server_side]
    haystack = "\n".join(seen + ours)
    leaked = [s for s in secrets if s in haystack]
    where = [line[:300] for line in haystack.splitlines() if any(s in line for s in leaked)]
    assert leaked == [], where


_SECRET_NAMES = {"code", "registration_token", "token", "refresh-token", "access_token", "id_token", "refresh_token"}


def _secrets_sent(standin: SaaSusStandIn) -> set[str]:
    """Every code and token that went to SaaSus (queries, JSON bodies) or came back from it."""
    secrets: set[str] = set()
    for call in standin.calls:
        secrets.update(v for name, values in call.query.items() if name in _SECRET_NAMES for v in values)
        for raw in (call.body, call.response_body if call.endpoint == "credentials" else b""):
            document = json.loads(raw) if raw.startswith(b"{") else {}
            secrets.update(v for k, v in document.items() if k in _SECRET_NAMES and isinstance(v, str))
    return secrets


class _Written(logging.Handler):
    """Each record as a handler finally writes it: message, exception text, stack, and its attributes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {logging.Formatter().format(record)}\n{record.__dict__!r}")


@contextlib.contextmanager
def _every_logger_at_debug() -> Iterator[_Written]:
    """The root logger and every logger that exists at DEBUG, all writing to one handler."""
    written, root = _Written(), logging.getLogger()
    loggers = [root, *(x for x in logging.root.manager.loggerDict.values() if isinstance(x, logging.Logger))]
    saved = [(x, x.level, x.disabled) for x in loggers]
    own = [x for x in loggers if x is root or not x.propagate]  # where records stop
    for x in loggers:
        x.setLevel(logging.DEBUG)
        x.disabled = False
    for x in own:
        x.addHandler(written)
    try:
        yield written
    finally:
        for x in own:
            x.removeHandler(written)
        for x, level, disabled in saved:
            x.setLevel(level)
            x.disabled = disabled


def _leaks(secrets: set[str], written: list[str], *, windows: bool) -> list[str]:
    """The lines holding a secret, or (windows) any 16 characters of one, else its first or last 16."""
    text = "\n".join(written)

    def pieces(secret: str) -> set[str]:
        if windows:
            return {secret[i : i + 16] for i in range(len(secret) - 15)}
        return {secret, secret[:16], secret[-16:]}

    found = {p for s in secrets for p in pieces(s) if p in text}
    return [line[:400] for line in text.splitlines() if any(p in line for p in found)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_ENDPOINTS = ("credentials", "userinfo", "link", "verify", "customers")


def _saasus_down(standin: SaaSusStandIn, how: str) -> Settings:
    """Settings whose SaaSus fails in the way named, at every endpoint."""
    if how == "refused":  # nothing listens: urllib3 retries the connection once, and says so
        return make_settings(standin, saasus_base_url=f"http://127.0.0.1:{_closed_port()}/v1")
    if how == "tls":  # TLS spoken to a plain-HTTP server
        return make_settings(standin, saasus_base_url=f"https://127.0.0.1:{standin.port}/v1")
    for endpoint in _ENDPOINTS:
        standin.inject(endpoint, times=None, **({"drop": True} if how == "dropped" else {"delay": 1.0}))
    return make_settings(standin, timeout=0.3)


@pytest.mark.parametrize("how", ["refused", "dropped", "timeout", "tls"])
def test_no_token_in_any_log_when_saasus_is_down(standin: SaaSusStandIn, how: str) -> None:
    code, registration_token = str(uuid.uuid4()), str(uuid.uuid4())
    id_token, access_token = "eyJ" + token_urlsafe(90), "eyJ" + token_urlsafe(90)
    known = {code, registration_token, id_token, access_token}
    saasus = SaaSus(_saasus_down(standin, how))
    # Every call the middleware makes, each with the codes and tokens it sends.
    calls: dict[str, Callable[[], object]] = {
        "verify": lambda: saasus.registration_token_is_unused(registration_token),
        "credentials": lambda: saasus.exchange_code(code),
        "userinfo": lambda: saasus.user_info(id_token),
        "customers": lambda: saasus.linked_tenants([str(uuid.uuid4())]),
        "link": lambda: saasus.link(str(uuid.uuid4()), access_token, registration_token),
    }
    errors: list[str] = []
    with _every_logger_at_debug() as written:
        for name, call in calls.items():
            with pytest.raises(SaaSusError) as info:
                call()
            assert info.value.kind is (ErrorKind.TIMEOUT if how == "timeout" else ErrorKind.UNREACHABLE), name
            # What an exception logger would write, cause and context included.
            errors.append("".join(traceback.format_exception(info.value)))
            chain: BaseException | None = info.value
            while chain is not None:
                errors.append(f"{chain!s} {chain!r}")
                chain = chain.__cause__ or chain.__context__
    saasus.close()
    ours = [r for r in written.records if not r.startswith("saasus_mw.testing")]  # the stand-in is SaaSus
    assert any(r.startswith("urllib3") for r in ours)  # urllib3 did speak
    leaks = _leaks(known, ours + errors, windows=True)
    assert leaks == []
    assert not any("?token=" in e or "?code=" in e for e in errors)


@pytest.mark.parametrize("how", ["dropped", "timeout"])
def test_no_token_in_any_log_on_a_journey_with_saasus_down_at_every_step(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, how: str
) -> None:
    fault = {"drop": True} if how == "dropped" else {"delay": 1.0}
    failed = 504 if how == "timeout" else 502

    def down(*endpoints: str, after: bool = False) -> None:
        standin.clear_faults()
        for endpoint in endpoints:
            standin.inject(endpoint, times=None, after=after, **fault)

    with _every_logger_at_debug() as written, adapter.connect(make_settings(standin, timeout=0.3)) as client:
        for endpoint in ("verify", "credentials"):  # 1. arriving from the SaaSus login
            down(endpoint)
            params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
            # An unanswered token check is repeated by the picker: the journey goes on.
            expected = 303 if endpoint == "verify" else failed
            assert client.get("/callback", params=params).status_code == expected, endpoint
        standin.clear_faults()
        _, picker_url = begin(client, standin, buyer)
        for endpoint in ("userinfo", "customers", "verify"):  # 2. the picker
            down(endpoint)
            assert client.get(picker_url).status_code == failed, endpoint
        standin.clear_faults()
        form = parse_picker(client.get(picker_url).text)
        data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
        for endpoint in ("userinfo", "customers", "verify", "link"):  # 3. the link
            down(endpoint)
            assert client.post(picker_url, data=data).status_code == failed, endpoint
        # SaaSus links but the answer is lost, and the confirmation (verify) fails too.
        down("link", after=True)
        standin.inject("verify", times=None, **fault)
        assert client.post(picker_url, data=data).status_code == failed
        standin.clear_faults()
    if how == "timeout":  # the stand-in acts after its delay: let it finish before the next test
        time.sleep(1.2)
    if how == "dropped":  # each step met SaaSus down at the call named (concurrent calls: any order)
        assert collections.Counter(c.endpoint for c in standin.calls if c.status == 0) == collections.Counter(
            verify=4, credentials=1, userinfo=2, customers=2, link=1
        )
    # The stand-in is SaaSus and the test's client is the browser: both see tokens by design.
    ours = [r for r in written.records if not r.startswith(("saasus_mw.testing", "httpx"))]
    assert _leaks(_secrets_sent(standin), ours, windows=False) == []


def test_no_token_in_any_log_when_saasus_goes_away_mid_journey(adapter: Adapter) -> None:
    # Refused connections are retried once, and urllib3 warns with the URL: ?token=<ID token>.
    with SaaSusStandIn(saas_id=SAAS_ID, api_key=API_KEY, secret_key=SECRET) as saasus:
        user = saasus.add_user(email="leaving@example.com", tenants=["Acme"])
        with _every_logger_at_debug() as written, adapter.connect(make_settings(saasus)) as client:
            _, picker_url = begin(client, saasus, user)
            form = parse_picker(client.get(picker_url).text)
            saasus.stop()  # nothing listens on its port any more
            assert client.get(picker_url).status_code == 502
            data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": user.tenants[0].id}
            assert client.post(picker_url, data=data).status_code == 502
            params = {"code": str(uuid.uuid4()), "registration_token": str(uuid.uuid4())}
            assert client.get("/callback", params=params).status_code == 502
        secrets = _secrets_sent(saasus) | set(params.values())
    ours = [r for r in written.records if not r.startswith(("saasus_mw.testing", "httpx"))]
    assert any("Retrying" in r for r in ours)  # the warnings of the report
    assert _leaks(secrets, ours, windows=False) == []


def test_reprs_hide_tokens() -> None:
    from saasus_mw.flow import Request
    from saasus_mw.saasus import Credentials
    from saasus_mw.state import State

    secret = "eyJ-secret-token-value"
    objects = [
        Request("GET", "", query_string=f"code={secret}", cookie=f"s={secret}", body=secret.encode()),
        State(registration_token=secret, access_token=secret, id_token=secret, csrf_token=secret),
        Credentials(id_token=secret, access_token=secret, refresh_token=secret),
    ]
    assert all(secret not in repr(o) for o in objects)


def test_a_lost_answer_is_confirmed_through_the_picker_not_a_dead_end(adapter: Adapter, standin: SaaSusStandIn) -> None:
    # One tenant: once SaaSus linked it, a plain picker would offer nothing at all.
    solo = standin.add_user(email=f"solo-{uuid.uuid4().hex[:8]}@example.com", tenants=["Only"])
    seen: list[Linked] = []
    with adapter.open(adapter.wrap(make_settings(standin), on_linked=seen.append)) as client:
        token, picker_url = begin(client, standin, solo)
        form = parse_picker(client.get(picker_url).text)
        data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": solo.tenants[0].id}
        standin.inject("link", after=True, drop=True)  # SaaSus links; the answer is lost
        standin.inject("customers", delay=0.01)  # the look before linking: fine
        standin.inject("customers", status=503)  # the look after the lost answer: fails
        assert client.post(picker_url, data=data).status_code == 502
        # "Try again" reloads the picker: the tenant is still offered, preselected.
        again = parse_picker(client.get(picker_url).text)
        assert again.selected == solo.tenants[0].id and solo.tenants[0].id not in again.disabled
        done = client.post(picker_url, data={**data, "csrf_token": again.inputs["csrf_token"]})
    assert done.status_code == 303 and done.headers["location"] == "/welcome"
    assert [c.endpoint for c in standin.calls].count("link") == 1
    assert standin.links == [(solo.tenants[0].id, solo.id, token)]
    assert [r.tenant_id for r in seen] == [solo.tenants[0].id]  # the host hears of it once


@pytest.mark.parametrize("status", [401, 403, 408, 429])
def test_saasus_refusing_us_is_not_a_used_registration(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, status: int
) -> None:
    # A 429 or a signature refused (clock skew) says nothing about the purchase: the
    # code is exchanged all the same, and the picker checks the token again.
    standin.inject("verify", status=status)
    params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
    response = client.get("/callback", params=params)
    assert response.status_code == 303
    standin.inject("verify", status=status)
    picker = client.get(response.headers["location"])
    assert picker.status_code == 502 and error_code(picker) == "saasus_unavailable"
    assert client.get(response.headers["location"]).status_code == 200  # once SaaSus answers


def test_a_base_url_without_v1_is_a_configuration_fault_not_the_buyers(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    # SAASUS_BASE_URL without /v1: every route is a 404, which verify's spec does not
    # document. It used to read as "token used": "This purchase link is no longer valid".
    token = standin.issue_registration_token()
    params = {"code": standin.issue_code(buyer), "registration_token": token}
    with caplog.at_level(logging.INFO), adapter.connect(make_settings(standin, saasus_base_url=standin.url)) as client:
        response = client.get("/callback", params=params)
    assert response.status_code == 502 and error_code(response) == "saasus_unavailable"
    assert "Try again" in response.text
    (error,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert error.name == "saasus_mw.saasus" and "SAASUS_BASE_URL" in error.getMessage()
    assert f"(now {standin.url};" in error.getMessage() and "registration-token/verify" in error.getMessage()
    (step,) = [r for r in caplog.records if r.name == "saasus_mw"]
    assert step.saasus_mw_saasus_error == "unexpected_status:404:not_found"  # type: ignore[attr-defined]
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith(("saasus_mw.testing", "httpx"))]
    assert not [line for line in ours if token in line or params["code"] in line]
    assert {c.endpoint for c in standin.calls} == {"other"}  # nothing else was tried
    # With the right base URL, the very same link works: nothing was consumed.
    with adapter.connect(make_settings(standin)) as client:
        assert client.get("/callback", params=params).status_code == 303


@pytest.mark.parametrize(
    "returned",
    [
        pytest.param(42, id="not-a-string"),
        pytest.param("//evil.example/x", id="scheme-relative"),
        pytest.param("javascript:alert(1)", id="javascript"),
        pytest.param("/テナント", id="not-latin-1"),
    ],
)
def test_an_unusable_on_linked_url_falls_back_to_the_success_url(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, returned: object, caplog: pytest.LogCaptureFixture
) -> None:
    with adapter.open(adapter.wrap(make_settings(standin), on_linked=lambda result: returned)) as client:
        _, picker_url = begin(client, standin, buyer)
        done = pick(client, picker_url, buyer.tenants[0].id)
    assert done.status_code == 303 and done.headers["location"] == "/welcome"
    assert "on_linked returned an unusable URL" in caplog.text


def test_settings_and_keyword_settings_together_are_refused(standin: SaaSusStandIn) -> None:
    from saasus_mw import MarketplaceMiddleware

    with pytest.raises(TypeError, match="callback_path"):
        MarketplaceMiddleware(lambda *a: None, settings=make_settings(standin), callback_path="/x")


def test_a_non_ascii_content_length_is_too_large_not_a_crash(standin: SaaSusStandIn, buyer: User) -> None:
    import anyio

    from saasus_mw import MarketplaceMiddleware

    from .conftest import asgi_host

    app = MarketplaceMiddleware(asgi_host, settings=make_settings(standin))
    sent: list[dict[str, Any]] = []

    async def call() -> None:
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/callback",
            "root_path": "",
            "query_string": b"saasus_mw=select",
            "headers": [(b"content-length", "²".encode())],
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)

    anyio.run(call)
    assert sent[0]["status"] == 413


def test_a_refused_oversized_body_is_logged(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="saasus_mw"):
        client.post(
            "/callback?saasus_mw=select",
            content=b"x" * 10_000,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    (record,) = [r for r in caplog.records if r.name == "saasus_mw"]
    assert record.saasus_mw_error == "body_too_large" and record.saasus_mw_status == 413
