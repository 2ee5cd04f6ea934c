"""Tests for saasus_mw.testing.SaaSusStandIn: signatures, state, faults, login, spec conformance."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request.validators import (
    V30RequestBodyValidator,
    V30RequestParametersValidator,
)
from openapi_schema_validator import validate as validate_schema
from werkzeug.datastructures import Headers, ImmutableMultiDict

from saasus_mw.testing import Call, Listing, SaaSusStandIn, Tenant, User

SAAS_ID, API_KEY, SECRET = "saas-test", "key-test", "secret-test"
SPEC_DIR = Path(__file__).parent / "openapi"


# -- an independent signer (mirrors the SDK's algorithm, not the stand-in's code) --


def signature(
    method: str,
    url: str,
    body: str = "",
    *,
    secret: str = SECRET,
    api_key: str = API_KEY,
    saas_id: str = SAAS_ID,
    when: datetime | None = None,
) -> str:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y%m%d%H%M")
    msg = stamp + api_key + method.upper() + parts.netloc + target + body
    sig = hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()
    return f"SAASUSSIGV1 Sig={sig}, SaaSID={saas_id}, APIKey={api_key}"


def call(client: httpx.Client, method: str, url: str, *, json_body: Any = None, **sign_kw: Any) -> httpx.Response:
    content = json.dumps(json_body).encode() if json_body is not None else b""
    headers = {"Content-Type": "application/json"} if content else {}
    request = client.build_request(method, url, content=content, headers=headers)
    # Sign exactly what goes on the wire: the encoded target and the Host header.
    wire_url = f"http://{request.headers['host']}{request.url.raw_path.decode()}"
    request.headers["Authorization"] = signature(method, wire_url, content.decode(), **sign_kw)
    return client.send(request)


@pytest.fixture
def standin() -> Iterator[SaaSusStandIn]:
    with SaaSusStandIn(SAAS_ID, API_KEY, SECRET, token_size=1500) as s:
        yield s


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


@dataclass
class Session:
    user: User
    id_token: str
    access_token: str
    refresh_token: str = ""


def login(standin: SaaSusStandIn, client: httpx.Client, user: User) -> Session:
    r = call(
        client, "GET", f"{standin.base_url}/auth/credentials?code={standin.issue_code(user)}&auth-flow=tempCodeAuth"
    )
    assert r.status_code == 200, r.text
    return Session(user, r.json()["id_token"], r.json()["access_token"], r.json()["refresh_token"])


def link(
    standin: SaaSusStandIn, client: httpx.Client, tenant_id: str, access_token: str, registration_token: str
) -> httpx.Response:
    return call(
        client,
        "PATCH",
        f"{standin.base_url}/auth/aws-marketplace/link",
        json_body={"tenant_id": tenant_id, "access_token": access_token, "registration_token": registration_token},
    )


# -- signatures ------------------------------------------------------------------


def test_signed_request_succeeds(standin: SaaSusStandIn, client: httpx.Client) -> None:
    r = call(client, "GET", f"{standin.base_url}/awsmarketplace/customers")
    assert (r.status_code, r.json()) == (200, {"customers": []})
    assert r.headers["content-type"] == "application/json"
    one_minute_ago = datetime.now(timezone.utc) - timedelta(minutes=1)
    assert call(client, "GET", f"{standin.base_url}/awsmarketplace/customers", when=one_minute_ago).status_code == 200


@pytest.mark.parametrize(
    "sign_kw",
    [
        {"secret": "wrong-secret"},
        {"api_key": "wrong-key"},
        {"saas_id": "wrong-saas"},
        {"minutes": -3},
        {"minutes": 3},
    ],
    ids=["secret", "api-key", "saas-id", "stale", "future"],
)
def test_bad_signature_is_401(standin: SaaSusStandIn, client: httpx.Client, sign_kw: dict[str, Any]) -> None:
    if "minutes" in sign_kw:  # relative to now, not to when the module was collected
        sign_kw = {"when": datetime.now(timezone.utc) + timedelta(minutes=sign_kw["minutes"])}
    r = call(client, "GET", f"{standin.base_url}/awsmarketplace/customers", **sign_kw)
    assert r.status_code == 401
    assert r.json()["type"] == "invalid_signature"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "SAASUSSIGV1 Sig=00, SaaSID=saas-test",
        f"SAASUSSIGV1 Sig={'0' * 64}, SaaSID={SAAS_ID}, APIKey={API_KEY}",
    ],
)
def test_missing_or_garbled_header_is_401(standin: SaaSusStandIn, client: httpx.Client, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = client.get(f"{standin.base_url}/awsmarketplace/customers", headers=headers)
    assert r.status_code == 401 and r.json()["type"] == "invalid_signature"


def test_signature_covers_query_and_body(standin: SaaSusStandIn, client: httpx.Client) -> None:
    url = f"{standin.base_url}/awsmarketplace/customers"
    auth = signature("GET", f"{url}?tenant_ids=a")
    assert client.get(f"{url}?tenant_ids=b", headers={"Authorization": auth}).status_code == 401
    verify = f"{standin.base_url}/awsmarketplace/registration-token/verify"
    token = standin.issue_registration_token()
    signed_for = json.dumps({"registration_token": "other"})
    r = client.post(
        verify,
        content=json.dumps({"registration_token": token}),
        headers={"Authorization": signature("POST", verify, signed_for)},
    )
    assert r.status_code == 401


# -- endpoints -------------------------------------------------------------------


def test_codes_are_single_use(standin: SaaSusStandIn, client: httpx.Client) -> None:
    user = standin.add_user("buyer@example.com", ["Acme"])
    code = standin.issue_code(user)
    url = f"{standin.base_url}/auth/credentials?code={code}&auth-flow=tempCodeAuth"
    first = call(client, "GET", url)
    assert first.status_code == 200
    assert set(first.json()) == {"id_token", "access_token", "refresh_token"}
    second = call(client, "GET", url)
    assert second.status_code == 404 and second.json()["type"] == "not_found"
    assert call(client, "GET", f"{standin.base_url}/auth/credentials?code=nope").status_code == 404
    assert call(client, "GET", f"{standin.base_url}/auth/credentials").status_code == 400
    assert [c.status for c in standin.calls] == [200, 404, 404, 400]
    assert standin.calls[0].query == {"code": [code], "auth-flow": ["tempCodeAuth"]}


def test_tokens_are_jwt_shaped_and_sized(standin: SaaSusStandIn, client: httpx.Client) -> None:
    session = login(standin, client, standin.add_user("a@example.com", ["Acme"]))
    for token in (session.id_token, session.access_token):
        assert token.count(".") == 2
        assert abs(len(token) - 1500) <= 8
    assert session.id_token != session.access_token
    refreshed = call(
        client,
        "GET",
        f"{standin.base_url}/auth/credentials?auth-flow=refreshTokenAuth&refresh-token={session.refresh_token}",
    )
    assert refreshed.status_code == 200 and "refresh_token" not in refreshed.json()


def test_userinfo(standin: SaaSusStandIn, client: httpx.Client) -> None:
    pro = standin.add_plan("Pro")
    user = standin.add_user(
        "buyer@example.com",
        [
            Tenant("Acme"),
            Tenant("Globex", completed_sign_up=False, roles=("user",), plan_id=pro.id),
        ],
    )
    session = login(standin, client, user)
    r = call(client, "GET", f"{standin.base_url}/auth/userinfo?token={session.id_token}")
    assert r.status_code == 200
    info = r.json()
    assert (info["id"], info["email"], info["user_attribute"]) == (user.id, "buyer@example.com", {})
    acme, globex = info["tenants"]
    assert acme["id"] == user.tenants[0].id and "plan_id" not in acme
    assert acme["envs"][0]["roles"] == [{"role_name": "admin", "display_name": "Admin"}]
    assert (globex["completed_sign_up"], globex["plan_id"]) == (False, pro.id)
    for token in (session.access_token, "garbage"):
        bad = call(client, "GET", f"{standin.base_url}/auth/userinfo?token={token}")
        assert bad.status_code == 401 and bad.json()["type"] == "invalid_token"


def test_registration_tokens_are_single_use(standin: SaaSusStandIn, client: httpx.Client) -> None:
    user = standin.add_user("buyer@example.com", ["Acme", "Globex"])
    session = login(standin, client, user)
    token = standin.issue_registration_token()
    verify = f"{standin.base_url}/awsmarketplace/registration-token/verify"
    r = call(client, "POST", verify, json_body={"registration_token": token})
    assert (r.status_code, r.content) == (200, b"")
    assert link(standin, client, user.tenants[0].id, session.access_token, token).status_code == 200
    again = link(standin, client, user.tenants[1].id, session.access_token, token)
    assert again.status_code == 400 and again.json()["type"] == "invalid_registration_token"
    for unusable in (token, "unknown"):
        r = call(client, "POST", verify, json_body={"registration_token": unusable})
        assert r.status_code == 400 and r.json()["type"] == "invalid_registration_token"
    assert standin.links == [(user.tenants[0].id, user.id, token)]


def test_link_validates_its_input(standin: SaaSusStandIn, client: httpx.Client) -> None:
    alice = standin.add_user("alice@example.com", ["Alice Inc"])
    bob = standin.add_user("bob@example.com", ["Bob Ltd"])
    session = login(standin, client, alice)
    token = standin.issue_registration_token()
    r = link(standin, client, bob.tenants[0].id, session.access_token, token)
    assert r.status_code == 400 and r.json()["type"] == "tenant_not_found"
    for bad_access in (session.id_token, "garbage"):
        r = link(standin, client, alice.tenants[0].id, bad_access, token)
        assert r.status_code == 401 and r.json()["type"] == "invalid_token"
    url = f"{standin.base_url}/auth/aws-marketplace/link"
    for body in (
        {"tenant_id": alice.tenants[0].id},
        [1, 2],
        {"tenant_id": 1, "access_token": "a", "registration_token": token},
    ):
        r = call(client, "PATCH", url, json_body=body)
        assert r.status_code == 400 and r.json()["type"] == "invalid_request"
    assert standin.links == []
    assert link(standin, client, alice.tenants[0].id, session.access_token, token).status_code == 200


def test_customers_lists_linked_tenants(standin: SaaSusStandIn, client: httpx.Client) -> None:
    user = standin.add_user("buyer@example.com", ["A", "B", "C"])
    a, b, c = (t.id for t in user.tenants)
    session = login(standin, client, user)
    assert link(standin, client, a, session.access_token, standin.issue_registration_token()).status_code == 200
    standin.link_customer(b)
    url = f"{standin.base_url}/awsmarketplace/customers"
    r = call(client, "GET", f"{url}?tenant_ids={a}&tenant_ids={b}&tenant_ids={c}")
    customers = r.json()["customers"]
    assert [x["tenant_id"] for x in customers] == [a, b]
    assert all(set(x) == {"customer_identifier", "customer_aws_account_id", "tenant_id"} for x in customers)
    only_c = call(client, "GET", f"{url}?tenant_ids={c}")
    assert only_c.json() == {"customers": []}
    everything = call(client, "GET", url)
    assert {x["tenant_id"] for x in everything.json()["customers"]} == {a, b}


def test_auth_info_tells_the_registered_callback_url(client: httpx.Client) -> None:
    with SaaSusStandIn(SAAS_ID, API_KEY, SECRET) as default:
        assert call(client, "GET", f"{default.base_url}/auth/auth-info").json() == {
            "callback_url": "http://127.0.0.1:8000/callback"
        }
    with SaaSusStandIn(SAAS_ID, API_KEY, SECRET, callback_url="https://app.example.com/auth/callback") as standin:
        assert call(client, "GET", f"{standin.base_url}/auth/auth-info").json() == {
            "callback_url": "https://app.example.com/auth/callback"
        }
        standin.callback_url = "https://app.example.com/other"  # as if changed in the SaaSus console
        assert call(client, "GET", f"{standin.base_url}/auth/auth-info").json()["callback_url"].endswith("/other")
        assert call(client, "GET", f"{standin.base_url}/auth/auth-info", secret="wrong").status_code == 401
        standin.inject("auth_info", status=500)
        assert call(client, "GET", f"{standin.base_url}/auth/auth-info").status_code == 500


def test_clock_offset_moves_the_signature_window_and_the_date_header(client: httpx.Client) -> None:
    with SaaSusStandIn(SAAS_ID, API_KEY, SECRET, clock_offset=300) as standin:
        url = f"{standin.base_url}/auth/auth-info"
        assert call(client, "GET", url).status_code == 401  # signed "now": 5 minutes behind this SaaSus
        ahead = call(client, "GET", url, when=datetime.now(timezone.utc) + timedelta(minutes=5))
        assert ahead.status_code == 200
        served = parsedate_to_datetime(ahead.headers["date"])
        assert abs((served - datetime.now(timezone.utc)).total_seconds() - 300) < 5


def test_unknown_routes_are_404(standin: SaaSusStandIn, client: httpx.Client) -> None:
    for method, path in (("GET", "/v1/auth/nope"), ("PUT", "/v1/auth/credentials"), ("GET", "/x")):
        r = call(client, method, f"{standin.url}{path}")
        assert r.status_code == 404 and r.json()["type"] == "not_found"
    assert {c.endpoint for c in standin.calls} == {"other"}


def test_keep_alive_reuses_one_connection(standin: SaaSusStandIn) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", standin.port, timeout=5)
    sockets = []
    for _ in range(3):
        conn.request("GET", "/v1/awsmarketplace/customers")
        response = conn.getresponse()
        response.read()
        assert response.status == 401
        sockets.append(conn.sock)
    assert sockets[0] is not None and sockets.count(sockets[0]) == 3
    conn.close()


def test_concurrent_exchanges_of_one_code_succeed_once(standin: SaaSusStandIn) -> None:
    user = standin.add_user("buyer@example.com", ["Acme"])
    code = standin.issue_code(user)
    statuses: list[int] = []

    def exchange() -> None:
        with httpx.Client(timeout=5) as c:
            statuses.append(call(c, "GET", f"{standin.base_url}/auth/credentials?code={code}").status_code)

    threads = [threading.Thread(target=exchange) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [404] * 9


# -- faults ----------------------------------------------------------------------


def test_fault_status_skips_the_handler(standin: SaaSusStandIn, client: httpx.Client) -> None:
    user = standin.add_user("buyer@example.com", ["Acme"])
    code = standin.issue_code(user)
    url = f"{standin.base_url}/auth/credentials?code={code}"
    standin.inject("credentials", status=503)
    r = call(client, "GET", url)
    assert r.status_code == 503 and r.json()["type"] == "injected_fault"
    assert call(client, "GET", url).status_code == 200  # the code was not consumed
    standin.inject("credentials", status=502, body="<html>bad gateway</html>")
    r = call(client, "GET", url)
    assert (r.status_code, r.text) == (502, "<html>bad gateway</html>")
    assert r.headers["content-type"].startswith("text/plain")


def test_fault_times(standin: SaaSusStandIn, client: httpx.Client) -> None:
    url = f"{standin.base_url}/awsmarketplace/customers"
    standin.inject("customers", status=500, times=2)
    assert [call(client, "GET", url).status_code for _ in range(3)] == [500, 500, 200]
    standin.inject("customers", status=429, times=None)
    assert [call(client, "GET", url).status_code for _ in range(4)] == [429] * 4
    standin.clear_faults()
    assert call(client, "GET", url).status_code == 200
    standin.inject("userinfo", status=500)  # faults are per endpoint
    assert call(client, "GET", url).status_code == 200


def test_fault_delay(standin: SaaSusStandIn, client: httpx.Client) -> None:
    url = f"{standin.base_url}/awsmarketplace/customers"
    standin.inject("customers", delay=0.3)
    started = time.monotonic()
    assert call(client, "GET", url).status_code == 200
    assert time.monotonic() - started >= 0.3
    standin.inject("customers", delay=0.5)
    with httpx.Client(timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        call(impatient, "GET", url)


def test_fault_drop(standin: SaaSusStandIn, client: httpx.Client) -> None:
    url = f"{standin.base_url}/awsmarketplace/customers"
    standin.inject("customers", drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        call(client, "GET", url)
    assert standin.calls[-1].status == 0
    assert call(client, "GET", url).status_code == 200


@pytest.mark.parametrize("fault", [{"drop": True}, {"status": 500}, {"delay": 0.2, "drop": True}])
def test_fault_after_handler_keeps_side_effects(
    standin: SaaSusStandIn, client: httpx.Client, fault: dict[str, Any]
) -> None:
    user = standin.add_user("buyer@example.com", ["Acme"])
    session = login(standin, client, user)
    token = standin.issue_registration_token()
    standin.inject("link", after=True, **fault)
    if fault.get("drop"):
        with pytest.raises(httpx.RemoteProtocolError):
            link(standin, client, user.tenants[0].id, session.access_token, token)
    else:
        assert link(standin, client, user.tenants[0].id, session.access_token, token).status_code == 500
    assert standin.links == [(user.tenants[0].id, user.id, token)]
    retry = link(standin, client, user.tenants[0].id, session.access_token, token)
    assert retry.json()["type"] == "invalid_registration_token"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"endpoint": "nope", "status": 500},
        {"endpoint": "link"},
        {"endpoint": "link", "status": 99},
        {"endpoint": "link", "body": b"x"},
        {"endpoint": "link", "delay": -1},
        {"endpoint": "link", "status": 500, "times": 0},
        {"endpoint": "link", "status": 500, "drop": True},
    ],
)
def test_inject_rejects_bad_arguments(standin: SaaSusStandIn, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        standin.inject(**kwargs)


def test_reset_forgets_calls_and_faults(standin: SaaSusStandIn, client: httpx.Client) -> None:
    user = standin.add_user("buyer@example.com", ["Acme"])
    standin.inject("customers", status=500, times=None)
    call(client, "GET", f"{standin.base_url}/awsmarketplace/customers")
    standin.reset()
    assert standin.calls == []
    assert call(client, "GET", f"{standin.base_url}/awsmarketplace/customers").status_code == 200
    assert standin.issue_code(user)  # users survive


# -- hosted login ----------------------------------------------------------------


def test_login_page_lists_users_escaped(standin: SaaSusStandIn, client: httpx.Client) -> None:
    standin.add_user("o'brien<b>@example.com", ["Acme"])
    r = client.get(standin.login_url("http://app.test/cb"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "o&#x27;brien&lt;b&gt;@example.com" in r.text and "<b>" not in r.text
    assert "email=o%27brien%3Cb%3E%40example.com" in r.text
    assert standin.calls[-1].endpoint == "login"


def test_login_redirects_with_code_and_registration_token(standin: SaaSusStandIn, client: httpx.Client) -> None:
    user = standin.add_user("buyer@example.com", ["Acme"])
    r = client.get(standin.login_url("http://app.test/cb?next=%2Fhome", email=user.email))
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert (location.netloc, location.path) == ("app.test", "/cb")
    query = dict(parse_qsl(location.query))
    assert set(query) == {"next", "code", "registration_token"} and query["next"] == "/home"
    session_url = f"{standin.base_url}/auth/credentials?code={query['code']}"
    assert call(client, "GET", session_url).status_code == 200
    verify = f"{standin.base_url}/awsmarketplace/registration-token/verify"
    assert (
        call(client, "POST", verify, json_body={"registration_token": query["registration_token"]}).status_code == 200
    )

    plain = client.get(standin.login_url("http://app.test/cb", email=user.email, marketplace=False))
    assert set(parse_qs(urlsplit(plain.headers["location"]).query)) == {"code"}
    assert client.get(standin.login_url("http://app.test/cb", email="x@example.com")).status_code == 404
    assert client.get(f"{standin.url}/login").status_code == 400


# -- construction ----------------------------------------------------------------


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        SaaSusStandIn(saas_id="")
    with pytest.raises(ValueError):
        SaaSusStandIn(token_size=10)
    with pytest.raises(ValueError):
        SaaSusStandIn(callback_url="/callback")
    with pytest.raises(TypeError):
        Tenant("Acme", roles="admin")  # type: ignore[arg-type]
    standin = SaaSusStandIn()
    with pytest.raises(RuntimeError):
        _ = standin.url
    with pytest.raises(TypeError):
        standin.add_user("a@example.com", "Acme")
    standin.add_user("a@example.com", ["Acme"])
    with pytest.raises(ValueError):
        standin.add_user("a@example.com", [])
    with pytest.raises(ValueError):
        standin.issue_code(User("stranger@example.com"))
    standin.start()
    with pytest.raises(RuntimeError):
        standin.start()
    standin.stop()
    standin.stop()  # idempotent


def _ctrl_c_stops_it() -> None:
    """In the child, before exec: Ctrl-C's default. A shell runs its background jobs with SIGINT
    ignored, and their children inherit that (``make test &``): the interrupt would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_cli_runs_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "saasus_mw.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        preexec_fn=_ctrl_c_stops_it,  # noqa: PLW1509 - a signal disposition only, no locks taken
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(5)]
    base_url = lines[4].split("=", 1)[1].strip()
    r = httpx.get(base_url.removesuffix("/v1") + "/login?redirect_uri=http://x/")
    assert "buyer@example.com" in r.text
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err
    assert "SAASUS_SECRET_KEY=secret-1" in "".join(lines)


# -- conformance with the official OpenAPI spec --------------------------------------

SPEC_FOR = {
    "credentials": "authapi.yml",
    "create_credentials": "authapi.yml",
    "sign_up": "authapi.yml",
    "userinfo": "authapi.yml",
    "link": "authapi.yml",
    "verify": "awsmarketplaceapi.yml",
    "customers": "awsmarketplaceapi.yml",
    "auth_info": "authapi.yml",
    "plans": "pricingapi.yml",
    "sign_in_settings": "authapi.yml",
    "marketplace_settings": "awsmarketplaceapi.yml",
    "listing_status": "awsmarketplaceapi.yml",
    "visibility": "awsmarketplaceapi.yml",
}


@dataclass
class SpecRequest:
    """openapi-core's request protocol, built from what the stand-in recorded."""

    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters


@dataclass
class SpecResponse:
    status_code: int
    data: bytes | None
    content_type: str
    headers: Headers


def assert_conforms(calls: list[Call]) -> int:
    specs = {name: OpenAPI.from_file_path(str(SPEC_DIR / name)) for name in set(SPEC_FOR.values())}
    checked = 0
    for c in calls:
        if c.endpoint not in SPEC_FOR or c.status == 0:
            continue
        api = specs[SPEC_FOR[c.endpoint]]
        # The spec's server is https://api.saasus.io/v1/{auth,awsmarketplace}; our paths share it.
        request = SpecRequest(
            "https://api.saasus.io",
            c.path,
            c.method.lower(),
            c.body or None,
            c.headers.get("content-type", ""),
            RequestParameters(
                query=ImmutableMultiDict(parse_qsl(c.raw_query, keep_blank_values=True)),
                header=Headers(list(c.headers.items())),
            ),
        )
        error = json.loads(c.response_body) if c.status >= 400 else None
        if error is None or error["type"] != "invalid_request":
            # Security is skipped: the spec declares "Bearer", SaaSus really uses SAASUSSIGV1,
            # which the signature tests above cover.
            for validator in (V30RequestParametersValidator, V30RequestBodyValidator):
                validator(api.spec).validate(request)
        response = SpecResponse(c.status, c.response_body, "application/json" if c.response_body else "", Headers())
        operation = api.spec / "paths" / ("/" + c.path.split("/", 3)[3]) / c.method.lower()
        if str(c.status) in (operation / "responses"):
            api.validate_response(request, response)
        else:  # statuses the spec doesn't list (e.g. 401 on link) still use the Error schema
            with (api.spec / "components" / "schemas" / "Error").open() as schema:
                validate_schema(error, dict(schema))
        checked += 1
    return checked


def test_everything_served_conforms_to_the_openapi_spec(standin: SaaSusStandIn, client: httpx.Client) -> None:
    user = standin.add_user(
        "buyer@example.com",
        [
            Tenant("Acme"),
            Tenant(
                "株式会社サンプル", completed_sign_up=False, plan_id=standin.add_plan("Pro").id, roles=("admin", "user")
            ),
        ],
    )
    other = standin.add_user("other@example.com", ["Other"])
    session = login(standin, client, user)
    base = standin.base_url
    call(client, "GET", f"{base}/auth/credentials?code={standin.issue_code(user)}")
    call(client, "GET", f"{base}/auth/credentials?code=00000000-0000-0000-0000-000000000000")
    call(client, "GET", f"{base}/auth/userinfo?token={session.id_token}")
    call(client, "GET", f"{base}/auth/userinfo?token={session.access_token}")
    token = standin.issue_registration_token()
    verify = f"{base}/awsmarketplace/registration-token/verify"
    call(client, "POST", verify, json_body={"registration_token": token})
    link(standin, client, other.tenants[0].id, session.access_token, token)
    link(standin, client, user.tenants[0].id, "bad-token", token)
    link(standin, client, user.tenants[0].id, session.access_token, token)
    link(standin, client, user.tenants[1].id, session.access_token, token)
    call(client, "POST", verify, json_body={"registration_token": token})
    call(
        client,
        "GET",
        f"{base}/awsmarketplace/customers?tenant_ids={user.tenants[0].id}&tenant_ids={user.tenants[1].id}",
    )
    call(client, "GET", f"{base}/awsmarketplace/customers")
    call(client, "GET", f"{base}/awsmarketplace/customers", secret="wrong")
    call(client, "GET", f"{base}/auth/auth-info")
    call(client, "GET", f"{base}/auth/auth-info", secret="wrong")
    assert len({c.status for c in standin.calls}) >= 4
    assert assert_conforms(standin.calls) == len(standin.calls) == 16


def test_plans_and_sign_in_id_users_conform_to_the_spec(standin: SaaSusStandIn, client: httpx.Client) -> None:
    pro = standin.add_plan("Pro plan", name="pro")
    user = standin.add_user("", [Tenant("Acme", plan_id=pro.id)], sign_in_id="buyer-42")
    session = login(standin, client, user)
    base = standin.base_url
    info = call(client, "GET", f"{base}/auth/userinfo?token={session.id_token}").json()
    plans = call(client, "GET", f"{base}/pricing/plans").json()["pricing_plans"]
    call(client, "GET", f"{base}/pricing/plans", secret="wrong")
    assert (info["email"], info["sign_in_id"], info["tenants"][0]["plan_id"]) == ("", "buyer-42", pro.id)
    assert [(p["id"], p["display_name"]) for p in plans] == [(pro.id, "Pro plan")]
    assert uuid.UUID(pro.id)
    assert assert_conforms(standin.calls) == len(standin.calls) == 4


def test_sign_in_id_users_sign_in_by_their_id(standin: SaaSusStandIn, client: httpx.Client) -> None:
    standin.add_user("", ["Acme"], sign_in_id="buyer-42")
    page = client.get(standin.login_url("http://127.0.0.1:1/cb"))
    assert "buyer-42" in page.text
    landed = client.get(standin.login_url("http://127.0.0.1:1/cb", email="buyer-42"))
    assert landed.status_code == 302 and "code=" in landed.headers["location"]
    with pytest.raises(ValueError, match="no e-mail"):
        standin.add_user("x@example.com", sign_in_id="buyer-43")


# -- the real SDK's generated clients can read what the stand-in says -------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK uses pydantic v1 APIs
def test_sdk_deserialises_stand_in_answers(standin: SaaSusStandIn) -> None:
    from saasus_sdk_python.src.auth import ApiClient as AuthApiClient
    from saasus_sdk_python.src.auth import Configuration as AuthConfig
    from saasus_sdk_python.src.auth.api.credential_api import CredentialApi
    from saasus_sdk_python.src.auth.api.saas_user_api import SaasUserApi
    from saasus_sdk_python.src.auth.api.user_info_api import UserInfoApi
    from saasus_sdk_python.src.auth.models.link_aws_marketplace_param import LinkAwsMarketplaceParam
    from saasus_sdk_python.src.awsmarketplace import ApiClient as MarketApiClient
    from saasus_sdk_python.src.awsmarketplace import Configuration as MarketConfig
    from saasus_sdk_python.src.awsmarketplace.api.aws_marketplace_api import AwsMarketplaceApi
    from saasus_sdk_python.src.awsmarketplace.models.verify_registration_token_param import VerifyRegistrationTokenParam

    def signing(base: type) -> type:
        class Signing(base):  # type: ignore[misc, valid-type]
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                body = kwargs.get("body")
                # rest.py sends json.dumps(body) for JSON bodies; sign exactly that.
                text = json.dumps(body) if body is not None else ""
                kwargs["headers"]["Authorization"] = signature(method, url, text)
                return super().request(method, url, *args, **kwargs)

        return Signing

    plan = standin.add_plan("Pro")
    user = standin.add_user(
        "buyer@example.com", [Tenant("Acme"), Tenant("株式会社サンプル", plan_id=plan.id, roles=("admin", "user"))]
    )
    code, reg_token = standin.issue_code(user), standin.issue_registration_token()
    with (
        signing(AuthApiClient)(AuthConfig(host=standin.base_url + "/auth")) as auth,
        signing(MarketApiClient)(MarketConfig(host=standin.base_url + "/awsmarketplace")) as market,
    ):
        creds = CredentialApi(auth).get_auth_credentials(code=code, auth_flow="tempCodeAuth")
        assert creds.id_token and creds.access_token and creds.refresh_token
        info = UserInfoApi(auth).get_user_info(token=creds.id_token)
        assert info.email == user.email and [t.name for t in info.tenants] == ["Acme", "株式会社サンプル"]
        assert info.tenants[0].plan_id is None and info.tenants[1].plan_id == plan.id
        assert [r.role_name for r in info.tenants[1].envs[0].roles] == ["admin", "user"]
        AwsMarketplaceApi(market).verify_registration_token(VerifyRegistrationTokenParam(registration_token=reg_token))
        SaasUserApi(auth).link_aws_marketplace(
            LinkAwsMarketplaceParam(
                tenant_id=user.tenants[1].id, access_token=creds.access_token, registration_token=reg_token
            )
        )
        customers = AwsMarketplaceApi(market).get_customers(tenant_ids=[t.id for t in user.tenants])
        assert [c.tenant_id for c in customers.customers] == [user.tenants[1].id]
    assert [c.status for c in standin.calls] == [200] * 5
    assert standin.calls[-1].query == {"tenant_ids": [t.id for t in user.tenants]}
    assert assert_conforms(standin.calls) == 5


def test_sign_in_hand_off_and_new_tenants_conform_to_the_spec(
    standin: SaaSusStandIn, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = standin.add_user("handoff@example.com", ["Acme"])
    session = login(standin, client, user)
    assert len(session.refresh_token) >= 1700  # Cognito-sized (~1.8 KB)
    base = standin.base_url
    tokens = {"id_token": session.id_token, "access_token": session.access_token}
    created = call(
        client, "POST", f"{base}/auth/credentials", json_body={**tokens, "refresh_token": session.refresh_token}
    )
    assert created.status_code == 201
    code = created.json()["code"]
    exchanged = call(client, "GET", f"{base}/auth/credentials?code={code}&auth-flow=tempCodeAuth")
    assert exchanged.json() == {**tokens, "refresh_token": session.refresh_token}  # the very tokens stored
    assert call(client, "GET", f"{base}/auth/credentials?code={code}").status_code == 404  # single use
    mixed = {"id_token": session.id_token, "access_token": "not-a-token"}
    assert call(client, "POST", f"{base}/auth/credentials", json_body=mixed).status_code == 401
    monkeypatch.setattr("saasus_mw.testing.auth.CREATED_CODE_LIFETIME", 0.05)
    late = call(client, "POST", f"{base}/auth/credentials", json_body=tokens).json()["code"]
    time.sleep(0.1)
    assert call(client, "GET", f"{base}/auth/credentials?code={late}").status_code == 404  # valid 10 s only

    token = standin.issue_registration_token()
    sign_up = f"{base}/auth/aws-marketplace/sign-up-confirm"
    body = {"tenant_name": "新しい会社", "access_token": session.access_token, "registration_token": token}
    made = call(client, "POST", sign_up, json_body=body)
    assert made.status_code == 201 and made.json()["name"] == "新しい会社"
    assert [t.name for t in user.tenants] == ["Acme", "新しい会社"]  # the creating user joins it
    assert standin.created == [(made.json()["id"], user.id, token)]
    customers = call(client, "GET", f"{base}/awsmarketplace/customers?tenant_ids={made.json()['id']}")
    assert len(customers.json()["customers"]) == 1  # linked to the purchase
    assert call(client, "POST", sign_up, json_body=body).status_code == 400  # the token is spent
    assert call(client, "POST", sign_up, json_body={**body, "access_token": "x"}).status_code == 401
    assert assert_conforms(standin.calls) == len(standin.calls)


# -- the listing endpoints (saasus-mw check --online reads them) ------------------------

LISTING_PATHS = ("/auth/sign-in-settings", "/awsmarketplace/settings", "/awsmarketplace/listing-status")
LISTING_PATHS += ("/awsmarketplace/catalog-entity/visibility",)


@pytest.mark.parametrize(
    "listing",
    [
        pytest.param(Listing(), id="default"),
        pytest.param(
            Listing(self_sign_up=False, product_code="", listing_status="no_listing", visibility="Restricted"),
            id="nothing-yet",
        ),
        pytest.param(Listing(listing_status="public", visibility="Public"), id="public"),
    ],
)
def test_listing_endpoints_answer_what_is_set_and_conform_to_the_spec(
    standin: SaaSusStandIn, client: httpx.Client, listing: Listing
) -> None:
    standin.listing = listing
    answers = [call(client, "GET", standin.base_url + path) for path in LISTING_PATHS]
    for path in LISTING_PATHS:
        call(client, "GET", standin.base_url + path, secret="wrong")  # signed, like every SaaSus API call
    sign_in, settings, status, visibility = (a.json() for a in answers)
    assert sign_in["self_regist"] == {"enable": listing.self_sign_up}
    assert settings["product_code"] == listing.product_code
    assert all(settings.values()) if listing.product_code else not any(settings.values())
    assert (status, visibility) == ({"listing_status": listing.listing_status}, {"visibility": listing.visibility})
    assert [c.status for c in standin.calls] == [200] * 4 + [401] * 4
    assert assert_conforms(standin.calls) == 8


def test_listing_values_are_the_specs() -> None:
    import yaml  # openapi-core's own dependency

    from saasus_mw.testing.listing import LISTING_STATUSES, VISIBILITIES

    schemas = yaml.safe_load((SPEC_DIR / "awsmarketplaceapi.yml").read_text(encoding="utf-8"))["components"]["schemas"]
    assert list(LISTING_STATUSES) == schemas["ListingStatus"]["enum"]
    assert list(VISIBILITIES) == schemas["VisibilityStatus"]["enum"]
    with pytest.raises(ValueError, match="listing_status"):
        Listing(listing_status="published")
    with pytest.raises(ValueError, match="visibility"):
        Listing(visibility="public")  # the catalog's are capitalised
    with pytest.raises(TypeError):
        Listing(self_sign_up="yes")  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK uses pydantic v1 APIs
def test_sdk_reads_the_listing_endpoints(standin: SaaSusStandIn) -> None:
    from saasus_mw.saasus import SaaSus

    from .conftest import make_settings

    saasus = SaaSus(make_settings(standin, saasus_saas_id=SAAS_ID, saasus_api_key=API_KEY, saasus_secret_key=SECRET))
    try:
        assert saasus.read("get_sign_in_settings", lambda data: data["self_regist"]["enable"]) is True
        assert saasus.read("get_settings", lambda data: data["product_code"]) == Listing().product_code
        assert saasus.read("get_listing_status", lambda data: data["listing_status"]) == "limited"
        assert saasus.read("get_catalog_entity_visibility", lambda data: data["visibility"]) == "Limited"
    finally:
        saasus.close()


# -- python -m saasus_mw.testing: users, tenants and a reset ---------------------------


@contextlib.contextmanager
def standin_cli(*args: str) -> Iterator[tuple[str, list[str]]]:
    """The stand-in's command line on a free port: (its URL, the lines it printed), until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "saasus_mw.testing", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        preexec_fn=_ctrl_c_stops_it,  # noqa: PLW1509 - a signal disposition only, no locks taken
    )
    assert proc.stdout is not None
    try:
        lines = [proc.stdout.readline() for _ in range(8)]
        yield lines[0].split(" serving on ")[1].split()[0], lines
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == 0 and "Traceback" not in err


def test_cli_users_tenants_and_sign_in_ids(client: httpx.Client) -> None:
    users = ("--user", "buyer@example.com:Acme, Globex", "--user", "newcomer@example.com", "--user", "buyer-42:Initech")
    with standin_cli(*users, "--saas-id", SAAS_ID, "--api-key", API_KEY, "--secret-key", SECRET) as (url, _):
        page = client.get(f"{url}/login?redirect_uri=http://127.0.0.1:1/cb")
        assert [name in page.text for name in ("buyer@example.com", "newcomer@example.com", "buyer-42")] == [True] * 3
        seen = {}
        for name in ("buyer@example.com", "newcomer@example.com", "buyer-42"):
            landed = client.get(f"{url}/login?redirect_uri=http://127.0.0.1:1/cb&email={name}")
            code = parse_qs(urlsplit(landed.headers["location"]).query)["code"][0]
            tokens = call(client, "GET", f"{url}/v1/auth/credentials?code={code}&auth-flow=tempCodeAuth").json()
            info = call(client, "GET", f"{url}/v1/auth/userinfo?token={tokens['id_token']}").json()
            seen[name] = (info["email"], info["sign_in_id"], [t["name"] for t in info["tenants"]])
    assert seen == {
        "buyer@example.com": ("buyer@example.com", "", ["Acme", "Globex"]),
        "newcomer@example.com": ("newcomer@example.com", "", []),
        "buyer-42": ("", "buyer-42", ["Initech"]),
    }


def test_cli_reset_lets_a_linked_user_buy_again(client: httpx.Client) -> None:
    keys = ("--saas-id", SAAS_ID, "--api-key", API_KEY, "--secret-key", SECRET)
    with standin_cli("--user", "buyer@example.com:Acme", *keys) as (url, lines):
        assert f"curl -X POST {url}/_standin/reset" in "".join(lines)
        login = next(line for line in lines if line.startswith("Hosted login: ")).removeprefix("Hosted login: ")
        arrivals = [
            parse_qs(urlsplit(client.get(login.strip() + "&email=buyer%40example.com").headers["location"]).query)
            for _ in range(2)
        ]
        first, second = (a["registration_token"][0] for a in arrivals)
        assert first != second  # each visit: a fresh registration token
        tokens = call(client, "GET", f"{url}/v1/auth/credentials?code={arrivals[0]['code'][0]}").json()
        info = call(client, "GET", f"{url}/v1/auth/userinfo?token={tokens['id_token']}").json()
        acme = info["tenants"][0]["id"]
        body = {"tenant_id": acme, "access_token": tokens["access_token"], "registration_token": first}
        assert call(client, "PATCH", f"{url}/v1/auth/aws-marketplace/link", json_body=body).status_code == 200
        customers = f"{url}/v1/awsmarketplace/customers?tenant_ids={acme}"
        assert len(call(client, "GET", customers).json()["customers"]) == 1  # Acme can take no other purchase
        reset = client.post(f"{url}/_standin/reset")
        assert (reset.status_code, reset.json()) == (200, {"unlinked_tenants": 1})
        assert call(client, "GET", customers).json()["customers"] == []  # Acme is free again
        body["registration_token"] = second
        assert call(client, "PATCH", f"{url}/v1/auth/aws-marketplace/link", json_body=body).status_code == 200


def test_cli_help_and_bad_users() -> None:
    def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "saasus_mw.testing", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    shown = run_cli("--help")
    assert shown.returncode == 0 and "--redirect-uri" in shown.stdout and "--user NAME[:TENANT,...]" in shown.stdout
    assert "POST /_standin/reset" in shown.stdout
    for users in (["--user", ":Acme"], ["--user", "a@example.com", "--user", "a@example.com:Acme"]):
        refused = run_cli("--port", "0", *users)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr


def test_cli_listing_options_are_what_check_online_reads() -> None:
    keys = ("--saas-id", SAAS_ID, "--api-key", API_KEY, "--secret-key", SECRET)
    with standin_cli(*keys, "--no-self-sign-up", "--listing-status", "public", "--visibility", "Public") as (url, _):
        env = {
            "PATH": "/usr/bin:/bin",
            "SAASUS_SAAS_ID": SAAS_ID,
            "SAASUS_API_KEY": API_KEY,
            "SAASUS_SECRET_KEY": SECRET,
            "SAASUS_BASE_URL": url + "/v1",
            "SAASUS_MW_SUPPORT_URL": "https://example.com/support",
        }
        command = [sys.executable, "-m", "saasus_mw.cli", "check", "--online", "--json"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=True)
    messages = {f["message"].split(":")[0]: f["level"] for f in json.loads(done.stdout)["findings"]}
    assert messages["self sign-up is disabled in SaaSus (GET /auth/sign-in-settings"] == "warning"
    assert messages["the listing status is public"] == "info"
    assert messages["on AWS Marketplace the product is Public"] == "info"
