"""The journey and its failures, one table run against both adapters (in-process)."""

from __future__ import annotations

import hashlib
import time
import types
import uuid
from typing import Any

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, User

from .conftest import Adapter, begin, error_code, make_settings, parse_picker, pick


def test_whole_journey_links_the_chosen_tenant(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    token, picker_url = begin(client, standin, buyer)
    # The address bar forgets code and registration token (post/redirect/get); it names
    # the purchase by a digest, so that this arrival's own state is the one used.
    assert picker_url == f"/callback?saasus_mw=select&purchase={hashlib.sha256(token.encode()).hexdigest()[:16]}"

    page = client.get(picker_url)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    form = parse_picker(page.text)
    names = [name for _, name in form.options]
    assert names == sorted(names, key=str.casefold)
    assert set(names) == {"Globex", "Acme <b>&</b>", "株式会社サンプル"}
    assert "Acme &lt;b&gt;&amp;&lt;/b&gt;" in page.text  # escaped
    assert "Get started with this account" in page.text
    assert token not in page.text and "csrf_token" in form.inputs

    chosen = buyer.tenants[1]
    done = pick(client, picker_url, chosen.id)
    assert done.status_code == 303
    assert done.headers["location"] == "/welcome"
    assert standin.links == [(chosen.id, buyer.id, token)]
    # The state is cleared on success; Back to the picker says it is done.
    cookies = done.headers.get_list("set-cookie")
    assert [c.split("=")[0] for c in cookies if "Max-Age=0" in c] == ["saasus_mw_state_0", "saasus_mw_state_1"]
    back = client.get(picker_url)
    assert back.status_code == 200 and "already linked" in back.text and 'href="/welcome"' in back.text


def test_link_sends_the_access_token_not_the_csrf_token(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User
) -> None:
    _, picker_url = begin(client, standin, buyer)
    pick(client, picker_url, buyer.tenants[0].id)
    (link_call,) = [c for c in standin.calls if c.endpoint == "link"]
    assert link_call.status == 200  # the stand-in accepted the user's access token


def test_reloading_the_picker_shows_it_again(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    _, picker_url = begin(client, standin, buyer)
    first, second = client.get(picker_url), client.get(picker_url)
    assert first.status_code == second.status_code == 200
    assert parse_picker(first.text).options == parse_picker(second.text).options


def test_back_to_the_callback_url_resumes_without_reusing_the_code(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User
) -> None:
    code, token = standin.issue_code(buyer), standin.issue_registration_token()
    params = {"code": code, "registration_token": token}
    assert client.get("/callback", params=params).status_code == 303
    again = client.get("/callback", params=params)
    assert again.status_code == 303 and "saasus_mw=select&purchase=" in again.headers["location"]
    assert [c.endpoint for c in standin.calls].count("credentials") == 1


def test_head_never_consumes_the_code(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    code, token = standin.issue_code(buyer), standin.issue_registration_token()
    params = {"code": code, "registration_token": token}
    head = client.head("/callback", params=params)
    assert head.status_code == 200 and head.content == b""
    assert standin.calls == []
    assert client.get("/callback", params=params).status_code == 303


def test_single_tenant_is_preselected_but_still_confirmed(client: httpx.Client, standin: SaaSusStandIn) -> None:
    solo = standin.add_user(email=f"solo-{uuid.uuid4().hex[:8]}@example.com", tenants=["Only One"])
    _, picker_url = begin(client, standin, solo)
    form = parse_picker(client.get(picker_url).text)
    assert form.selected == solo.tenants[0].id
    assert standin.links == []


# -- pass-through ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        pytest.param("GET", "/", None, None, id="other-path"),
        pytest.param("POST", "/upload", None, b"x" * 100_000, id="other-path-large-body"),
        pytest.param("GET", "/callback", {"code": "abc"}, None, id="callback-without-registration-token"),
        pytest.param("POST", "/callback", None, b"a=1", id="callback-post-without-step"),
        pytest.param("GET", "/callback/deeper", {"registration_token": "x"}, None, id="sub-path"),
        pytest.param("GET", "/callbackx", {"registration_token": "x"}, None, id="longer-path"),
        pytest.param("GET", "/x/callback", {"registration_token": "x"}, None, id="path-ending-like-callback"),
    ],
)
def test_everything_else_reaches_the_host_unchanged(
    client: httpx.Client, standin: SaaSusStandIn, method: str, path: str, params: Any, body: bytes | None
) -> None:
    response = client.request(method, path, params=params, content=body, headers={"x-custom": "kept"})
    assert response.status_code == 200 and response.headers["x-host"] == "1"
    echo = response.json()
    assert echo["path"] == path and echo["method"] == method
    assert echo["body"] == (body or b"").decode()
    assert echo["headers"]["x-custom"] == "kept"
    assert standin.calls == []


def test_disabled_passes_everything_through(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    settings = make_settings(standin, enabled=False)
    with adapter.connect(settings) as client:
        params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
        response = client.get("/callback", params=params)
    assert response.json()["query"].startswith("code=")
    assert standin.calls == []


def test_websocket_and_lifespan_pass_through(standin: SaaSusStandIn) -> None:
    from starlette.testclient import TestClient

    from saasus_mw import MarketplaceMiddleware

    from .conftest import asgi_host

    seen: list[str] = []

    async def recording_host(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        await asgi_host(scope, receive, send)

    app = MarketplaceMiddleware(recording_host, settings=make_settings(standin))
    with TestClient(app) as client, client.websocket_connect("/callback?registration_token=x") as ws:
        assert ws.receive_text() == "host:/callback"
    assert seen == ["lifespan", "websocket"]


def test_mounted_under_a_prefix(adapter: Adapter, standin: SaaSusStandIn, buyer: User) -> None:
    with adapter.connect(make_settings(standin), root_path="/shop") as client:
        token = standin.issue_registration_token()
        params = {"code": standin.issue_code(buyer), "registration_token": token}
        start = client.get("/shop/callback", params=params)
        assert start.headers["location"].startswith("/shop/callback?saasus_mw=select&purchase=")
        assert all("Path=/shop/callback;" in c for c in start.headers.get_list("set-cookie"))
        done = pick(client, start.headers["location"], buyer.tenants[0].id)
        assert done.headers["location"] == "/shop/welcome"
        other = client.get("/shop/elsewhere").json()
        assert other["root_path"] == "/shop"
    assert standin.links[-1] == (buyer.tenants[0].id, buyer.id, token)


# -- failures: a clear page with a fitting status, never an exception -----------------


def _state_cookie_names(client: httpx.Client) -> list[str]:
    return [name for name in client.cookies if name.startswith("saasus_mw_state")]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        pytest.param({"registration_token": str(uuid.uuid4())}, 400, "bad_request", id="missing-code"),
        pytest.param({"code": "nope", "registration_token": str(uuid.uuid4())}, 400, "bad_request", id="bad-code"),
        pytest.param({"code": str(uuid.uuid4()), "registration_token": "a b"}, 400, "bad_request", id="bad-token"),
        pytest.param(
            {"code": str(uuid.uuid4()), "registration_token": "x" * 1025}, 400, "bad_request", id="long-token"
        ),
        pytest.param(
            {"code": str(uuid.uuid4()), "registration_token": "ISSUED"}, 400, "code_rejected", id="unknown-code"
        ),
        pytest.param(
            {"code": str(uuid.uuid4()), "registration_token": str(uuid.uuid4())},
            400,
            "registration_invalid",
            id="unknown-registration-token",
        ),
    ],
)
def test_bad_callback_queries(
    client: httpx.Client, standin: SaaSusStandIn, params: dict[str, str], status: int, code: str
) -> None:
    if params.get("registration_token") == "ISSUED":
        params = {**params, "registration_token": standin.issue_registration_token()}
    response = client.get("/callback", params=params)
    assert response.status_code == status
    assert error_code(response) == code
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    if code == "bad_request":
        assert standin.calls == []  # nothing malformed is sent to SaaSus


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        pytest.param({"status": 500}, 502, "saasus_unavailable", id="5xx"),
        pytest.param({"status": 200, "body": "{not json"}, 502, "saasus_unavailable", id="malformed-json"),
        pytest.param({"delay": 3.0}, 504, "saasus_timeout", id="timeout"),
        pytest.param({"drop": True}, 502, "saasus_unavailable", id="dropped-connection"),
    ],
)
# The callback asks SaaSus for nothing else: the ID token in the state identifies the user.
@pytest.mark.parametrize("endpoint", ["credentials"])
def test_saasus_faults_at_the_callback(
    client: httpx.Client,
    standin: SaaSusStandIn,
    buyer: User,
    endpoint: str,
    fault: dict[str, Any],
    status: int,
    code: str,
) -> None:
    standin.inject(endpoint, times=None, **fault)
    params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
    response = client.get("/callback", params=params)
    assert response.status_code == status
    assert error_code(response) == code
    assert "Try again" in response.text


def test_unreachable_saasus(adapter: Adapter, buyer: User, standin: SaaSusStandIn) -> None:
    settings = make_settings(standin, saasus_base_url="http://127.0.0.1:9/v1")
    with adapter.connect(settings) as client:
        params = {"code": standin.issue_code(buyer), "registration_token": standin.issue_registration_token()}
        response = client.get("/callback", params=params)
    assert response.status_code == 502 and error_code(response) == "saasus_unavailable"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        pytest.param({"status": 503}, 502, "saasus_unavailable", id="5xx"),
        pytest.param({"delay": 3.0}, 504, "saasus_timeout", id="timeout"),
        pytest.param({"status": 400}, 409, "link_rejected", id="4xx"),
    ],
)
def test_link_failures_keep_the_state_for_a_retry(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, fault: dict[str, Any], status: int, code: str
) -> None:
    token, picker_url = begin(client, standin, buyer)
    standin.inject("link", **fault)
    response = pick(client, picker_url, buyer.tenants[0].id)
    assert response.status_code == status and error_code(response) == code
    assert standin.links == []
    if code != "link_rejected":
        # SaaSus recovers; the same state links on the second try.
        assert pick(client, picker_url, buyer.tenants[0].id).status_code == 303
        assert standin.links == [(buyer.tenants[0].id, buyer.id, token)]


def test_tenant_not_offered_is_refused(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    other = standin.add_user(email=f"other-{uuid.uuid4().hex[:8]}@example.com", tenants=["Not yours"])
    _, picker_url = begin(client, standin, buyer)
    response = pick(client, picker_url, other.tenants[0].id)
    assert response.status_code == 403 and error_code(response) == "tenant_not_allowed"
    assert [c for c in standin.calls if c.endpoint == "link"] == []


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        pytest.param({"csrf_token": "forged"}, 403, "csrf_failed", id="wrong-csrf"),
        pytest.param({"csrf_token": None}, 403, "csrf_failed", id="missing-csrf"),
        pytest.param({"tenant_id": None}, 400, "bad_request", id="missing-tenant"),
    ],
)
def test_bad_link_posts(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, data: dict[str, Any], status: int, code: str
) -> None:
    _, picker_url = begin(client, standin, buyer)
    form = parse_picker(client.get(picker_url).text)
    body = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id, **data}
    response = client.post(picker_url, data={k: v for k, v in body.items() if v is not None})
    assert response.status_code == status and error_code(response) == code
    assert standin.links == []


def test_cross_site_post_is_refused(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    _, picker_url = begin(client, standin, buyer)
    form = parse_picker(client.get(picker_url).text)
    data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": buyer.tenants[0].id}
    response = client.post(picker_url, data=data, headers={"sec-fetch-site": "cross-site"})
    assert response.status_code == 403 and error_code(response) == "csrf_failed"


def test_oversized_body_is_refused(client: httpx.Client, standin: SaaSusStandIn, buyer: User) -> None:
    _, picker_url = begin(client, standin, buyer)
    response = client.post(
        picker_url, content=b"a=" + b"x" * 100_000, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413 and error_code(response) == "body_too_large"


@pytest.mark.parametrize(
    ("cookie", "code"),
    [
        pytest.param(None, "state_missing", id="missing"),
        pytest.param("garbage", "state_invalid", id="garbage"),
        pytest.param("flip", "state_invalid", id="tampered"),
    ],
)
def test_bad_state_cookie(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, cookie: str | None, code: str
) -> None:
    _, picker_url = begin(client, standin, buyer)
    values = {name: client.cookies[name] for name in _state_cookie_names(client)}
    assert values
    client.cookies.clear()
    if cookie == "garbage":
        values = {name: "garbage" for name in values}
    elif cookie == "flip":
        first = next(iter(values))
        flipped = "A" if values[first][10] != "A" else "B"
        values[first] = values[first][:10] + flipped + values[first][11:]
    header = "; ".join(f"{k}={v}" for k, v in values.items()) if cookie else ""
    response = client.get(picker_url, headers={"cookie": header} if header else {})
    assert response.status_code == 400 and error_code(response) == code


def test_expired_state(
    client: httpx.Client, standin: SaaSusStandIn, buyer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        # Mint the state 20 minutes ago (the TTL is 15); only the state's clock moves.
        patch.setattr("saasus_mw.state.time", types.SimpleNamespace(time=lambda: time.time() - 1200))
        _, picker_url = begin(client, standin, buyer)
    response = client.get(picker_url)
    assert response.status_code == 400 and error_code(response) == "state_expired"


def test_wrong_method_on_our_step(client: httpx.Client) -> None:
    response = client.put("/callback?saasus_mw=select")
    assert response.status_code == 405 and response.headers["allow"]


def test_allow_names_the_methods_of_that_step(client: httpx.Client) -> None:
    callback = client.post("/callback?registration_token=x&code=y")  # the SaaSus callback: GET only
    assert callback.status_code == 405 and callback.headers["allow"] == "GET, HEAD"
    picker = client.put("/callback?saasus_mw=select")
    assert picker.status_code == 405 and picker.headers["allow"] == "GET, HEAD, POST"
