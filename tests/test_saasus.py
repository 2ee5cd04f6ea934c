"""The SaaSus client: the real SDK over real HTTP to the stand-in, and a pin for each SDK defect.

Each ``test_sdk_*`` pin shows the defect in the SDK itself (so we notice when a
release fixes it) next to a test that shows our client is not affected. The
SDK's helpers keep process-wide state, so the pins run in a subprocess.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3

from saasus_mw.saasus import ErrorKind, SaaSus, SaaSusError, Tenant
from saasus_mw.testing import SaaSusStandIn, User

from .conftest import API_KEY, SAAS_ID, SECRET, make_settings


def run_isolated(code: str, standin: SaaSusStandIn, **env: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter with SaaSus env set; it prints one JSON line."""
    environ = {
        **os.environ,
        "SAASUS_SAAS_ID": SAAS_ID,
        "SAASUS_API_KEY": API_KEY,
        "SAASUS_SECRET_KEY": SECRET,
        "SAASUS_BASE_URL": standin.base_url,
        "PYTHONWARNINGS": "ignore",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- 1. Signed clients send the query twice --------------------------------------------


def test_sdk_signed_client_sends_the_query_twice(standin: SaaSusStandIn, buyer: User) -> None:
    id_token = _id_token(standin, buyer)
    out = run_isolated(
        f"""
        import json
        from saasus_sdk_python.client.auth_client import SignedAuthApiClient
        from saasus_sdk_python.src.auth import UserInfoApi
        try:
            UserInfoApi(api_client=SignedAuthApiClient()).get_user_info(token={id_token!r})
            print(json.dumps({{"status": 200}}))
        except Exception as exc:
            print(json.dumps({{"status": getattr(exc, "status", None)}}))
        """,
        standin,
    )
    (call,) = [c for c in standin.calls if c.endpoint == "userinfo"]
    assert "?token=" in call.raw_query  # ?token=x?token=x: the defect
    assert out["status"] == 401  # so the signature cannot match


def test_our_signed_calls_send_the_query_once(standin: SaaSusStandIn, buyer: User) -> None:
    saasus = SaaSus(make_settings(standin))
    info = saasus.user_info(_id_token(standin, buyer))
    assert info.id == buyer.id and [t.name for t in info.tenants] == [t.name for t in buyer.tenants]
    (call,) = [c for c in standin.calls if c.endpoint == "userinfo"]
    assert call.raw_query.count("token=") == 1 and call.status == 200


# -- 2. A process-wide singleton reads SAASUS_* once; 3. load_dotenv() at import ----------


def test_sdk_client_is_a_singleton_frozen_at_first_use(standin: SaaSusStandIn) -> None:
    out = run_isolated(
        """
        import json, os
        import dotenv
        calls = []
        dotenv.load_dotenv = lambda *a, **k: calls.append(1)
        from saasus_sdk_python.client.client import Client
        first = Client().api_key
        os.environ["SAASUS_API_KEY"] = "changed"
        print(json.dumps({"same": Client() is Client(), "key": Client().api_key, "first": first,
                          "dotenv_at_import": len(calls)}))
        """,
        standin,
    )
    assert out == {"same": True, "key": API_KEY, "first": API_KEY, "dotenv_at_import": 1}


def test_we_never_import_the_sdk_helpers_nor_dotenv(standin: SaaSusStandIn) -> None:
    out = run_isolated(
        """
        import json, sys
        from saasus_mw import MarketplaceMiddleware, MarketplaceWSGIMiddleware
        from saasus_mw.saasus import SaaSus
        loaded = sorted(m for m in sys.modules if m.startswith(("saasus_sdk_python.client",
                        "saasus_sdk_python.callback", "saasus_sdk_python.middleware", "dotenv", "openapi_client")))
        print(json.dumps(loaded))
        """,
        standin,
    )
    assert out == []


def test_two_configurations_in_one_process(buyer: User, standin: SaaSusStandIn) -> None:
    with SaaSusStandIn(saas_id="other-saas", api_key="other-key", secret_key="other-secret") as second:
        other_user = second.add_user(email="someone@example.com", tenants=["Elsewhere"])
        ours = SaaSus(make_settings(standin))
        theirs = SaaSus(
            make_settings(
                second, saasus_saas_id="other-saas", saasus_api_key="other-key", saasus_secret_key="other-secret"
            )
        )
        assert ours.exchange_code(standin.issue_code(buyer)).id_token
        assert theirs.exchange_code(second.issue_code(other_user)).id_token


# -- 4. No HTTP timeout by default ----------------------------------------------------------


def test_every_call_has_a_timeout(standin: SaaSusStandIn, buyer: User) -> None:
    saasus = SaaSus(make_settings(standin, timeout=0.5))
    standin.inject("credentials", delay=5.0)
    started = time.monotonic()
    with pytest.raises(SaaSusError) as info:
        saasus.exchange_code(standin.issue_code(buyer))
    assert info.value.kind is ErrorKind.TIMEOUT
    assert time.monotonic() - started < 4  # gave up long before SaaSus answered


# -- 6. middleware.Authenticate catches another package's exceptions --------------------------


def test_sdk_authenticate_catches_unrelated_exception_classes() -> None:
    import openapi_client.exceptions
    from saasus_sdk_python.src.auth import exceptions

    assert not issubclass(exceptions.UnauthorizedException, openapi_client.exceptions.UnauthorizedException)


def test_rejections_carry_the_saasus_error_type(standin: SaaSusStandIn) -> None:
    saasus = SaaSus(make_settings(standin))
    with pytest.raises(SaaSusError) as info:
        saasus.user_info("not-a-token")
    assert (info.value.kind, info.value.status) == (ErrorKind.DENIED, 401)
    assert info.value.error_type and "not-a-token" not in repr(info.value)


# -- 7. Callback lets the 404 for a bad code escape ----------------------------------------------


def test_sdk_callback_lets_the_404_escape(standin: SaaSusStandIn) -> None:
    out = run_isolated(
        """
        import json
        from saasus_sdk_python.callback.callback import Callback
        try:
            result = Callback().callback_route_function("00000000-0000-4000-8000-000000000000")
            print(json.dumps({"raised": None}))
        except Exception as exc:
            print(json.dumps({"raised": type(exc).__name__}))
        """,
        standin,
    )
    assert out == {"raised": "NotFoundException"}


def test_a_bad_code_is_a_rejection_not_a_crash(standin: SaaSusStandIn) -> None:
    with pytest.raises(SaaSusError) as info:
        SaaSus(make_settings(standin)).exchange_code("00000000-0000-4000-8000-000000000000")
    assert (info.value.kind, info.value.status) == (ErrorKind.REJECTED, 404)


# -- connection reuse, and the REST layer's debug logging of token bodies ---------------------------


def test_connections_are_reused_across_calls_and_apis(
    standin: SaaSusStandIn, buyer: User, opened_connections: list[object]
) -> None:
    saasus = SaaSus(make_settings(standin))
    for _ in range(10):  # the SDK's pool (credentials) and the fan-out's (userinfo, verify, customers)
        credentials = saasus.exchange_code(standin.issue_code(buyer))
        saasus.look(credentials.id_token, standin.issue_registration_token(), [buyer.tenants[0].id])
        saasus.user_info(credentials.id_token)
    pool = saasus._auth.rest_client.pool_manager.connection_from_url(standin.base_url)
    assert pool.num_connections == 1 and pool.num_requests == 10
    # One for the SDK's pool, three for a look's three requests at once; each kept for the next.
    assert len(opened_connections) == 4
    saasus.close()


def test_token_bodies_are_not_logged(standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture) -> None:
    saasus = SaaSus(make_settings(standin))
    with caplog.at_level(logging.DEBUG):
        credentials = saasus.exchange_code(standin.issue_code(buyer))
        saasus.user_info(credentials.id_token)
    # The stand-in is SaaSus: it may see tokens. Everything on our side may not.
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("saasus_mw.testing"))
    assert credentials.access_token not in ours and credentials.id_token not in ours
    assert credentials.access_token not in repr(credentials)


def _id_token(standin: SaaSusStandIn, user: User) -> str:
    return SaaSus(make_settings(standin)).exchange_code(standin.issue_code(user)).id_token


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("{]", id="not-json"),
        pytest.param('{"id": "u", "email": "e"}', id="no-tenants"),
        pytest.param('{"id": "u", "email": "e", "tenants": [{"id": 1, "name": "n"}]}', id="tenant-id-not-a-string"),
        pytest.param(
            '{"id": "u", "email": "e", "tenants": [{"id": "t", "name": "n", "completed_sign_up": "yes", "envs": []}]}',
            id="flag-not-a-boolean",
        ),
        pytest.param('["not", "an", "object"]', id="array"),
        pytest.param(
            '{"id": "u", "email": "e", "tenants": [{"id": "t", "name": "n", "completed_sign_up": true, "plan_id": 7,'
            ' "envs": []}]}',
            id="plan-id-not-a-string",
        ),
        pytest.param(
            '{"id": "u", "email": "e", "tenants": [{"id": "t", "name": "n", "completed_sign_up": true,'
            ' "envs": [{"roles": [{"role_name": ["admin"]}]}]}]}',
            id="role-name-not-a-string",
        ),
        pytest.param('{"id": "u", "email": null, "tenants": []}', id="email-null"),
    ],
)
def test_userinfo_that_breaks_the_schema_is_a_bad_response(standin: SaaSusStandIn, body: str) -> None:
    standin.inject("userinfo", status=200, body=body)
    with pytest.raises(SaaSusError) as info:
        SaaSus(make_settings(standin)).user_info("token")
    assert info.value.kind is ErrorKind.BAD_RESPONSE


def test_the_hosts_urllib3_logging_is_kept_and_our_queries_redacted(
    standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    try:
        saasus = SaaSus(make_settings(standin))  # the SDK's Configuration would reset it to WARNING
        assert logging.getLogger("urllib3").level == logging.DEBUG
        with caplog.at_level(logging.DEBUG):
            credentials = saasus.exchange_code(standin.issue_code(buyer))
            saasus.user_info(credentials.id_token)
    finally:
        logging.getLogger("urllib3").setLevel(logging.NOTSET)
    records = [r for r in caplog.records if r.name.startswith("urllib3")]
    lines = [r.getMessage() for r in records]
    assert lines == [r.msg % r.args for r in records]  # what handlers that format by hand read
    assert any("/v1/auth/credentials" in line for line in lines)  # the SDK's calls (userinfo: the fan-out's)
    assert not any(credentials.id_token in line or "code=" in line for line in lines)


def test_every_logger_that_can_carry_our_urls_redacts() -> None:
    # A filter on "urllib3" does not see "urllib3.connectionpool"'s records: each
    # module that logs needs its own. Found in the installed sources, so a new
    # urllib3 module that logs fails here rather than leaking.
    import urllib3

    from saasus_mw.saasus import _Redact

    root = Path(urllib3.__file__).parent
    names = {
        ".".join(("urllib3", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for path in root.rglob("*.py")
        if "getLogger(__name__)" in path.read_text(encoding="utf-8")
    }
    assert {"urllib3", "urllib3.connectionpool", "urllib3.util.retry"} <= names
    names |= {"saasus_sdk_python.src.auth.rest", "saasus_sdk_python.src.awsmarketplace.rest"}
    unfiltered = [n for n in sorted(names) if not any(isinstance(f, _Redact) for f in logging.getLogger(n).filters)]
    assert unfiltered == []


def test_redaction_works_on_the_written_record_not_its_arguments() -> None:
    from saasus_mw.saasus import _REDACT

    def written(record: logging.LogRecord) -> str:
        assert _REDACT.filter(record)
        return logging.Formatter().format(record) + repr(record.__dict__)

    def record(msg: str, args: Any = None, exc_info: Any = None) -> logging.LogRecord:
        return logging.LogRecord("urllib3.connectionpool", logging.WARNING, "x.py", 1, msg, args, exc_info)

    secret = "eyJ0b2tlbi1zZWNyZXQtdmFsdWUtMTIzNDU2Nzg5"
    url = f"/v1/auth/userinfo?token={secret}"
    try:
        raise urllib3.exceptions.MaxRetryError(None, url)  # type: ignore[arg-type]
    except urllib3.exceptions.MaxRetryError:
        exc_info = sys.exc_info()
    records = [
        record("Retrying (%r) after connection broken by '%r': %s", ("Retry()", "Error()", url)),  # part of an arg
        record(f"already formatted: {url}"),
        record("failed", exc_info=exc_info),  # only in the exception's message
        record("%s %s", ("too", "few", "arguments", url)),  # a broken record still goes out redacted
        record('body: {"registration_token": "%s", "access_token": "%s"}', (secret, secret)),
        record("/v1/auth/credentials?code=%s&auth-flow=tempCodeAuth", (secret,)),
        record("https://example.com/cb?refresh-token=%s&registration_token=%s", (secret, secret)),
    ]
    texts = [written(r) for r in records]
    assert [t for t in texts if secret[:16] in t] == []
    assert "/v1/auth/userinfo?[redacted]" in texts[0] and "arguments dropped" in texts[3]
    assert "MaxRetryError" in written(record("failed", exc_info=exc_info))  # the traceback stays, redacted
    kept = record('"%s %s" %s', ("GET", "/v1/awsmarketplace/customers", 200))
    assert logging.Formatter().format(kept) == '"GET /v1/awsmarketplace/customers" 200'


# -- classification by what each endpoint's spec documents -----------------------------------

SPEC_DIR = Path(__file__).parent / "openapi"
_ALWAYS = {401: ErrorKind.DENIED, 403: ErrorKind.DENIED, 408: ErrorKind.SERVER_ERROR, 429: ErrorKind.SERVER_ERROR}
_PROSE = "If the Registration Token is not valid, an error is returned."


def test_refusals_follow_the_spec() -> None:
    import yaml  # openapi-core's own dependency

    from saasus_mw.saasus import _OPERATIONS

    operations: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, prefix in (
        ("authapi.yml", "/auth"),
        ("awsmarketplaceapi.yml", "/awsmarketplace"),
        ("pricingapi.yml", "/pricing"),
    ):
        spec = yaml.safe_load((SPEC_DIR / name).read_text(encoding="utf-8"))
        for path, methods in spec["paths"].items():
            for method, operation in methods.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    operations[operation["operationId"]] = (f"{method.upper()} {prefix}{path}", operation)
    for sdk_name, (endpoint, refused) in _OPERATIONS.items():
        operation_id = "".join(word.capitalize() for word in sdk_name.split("_"))
        documented_endpoint, operation = operations[operation_id]
        assert endpoint == documented_endpoint, sdk_name
        statuses = {int(s) for s in operation["responses"] if 400 <= int(s) < 500 and int(s) not in _ALWAYS}
        if not statuses and _PROSE in operation.get("description", ""):
            statuses = {400}  # an error is documented, its status is not: verify's 400 for the same token
        assert set(refused) == statuses, sdk_name


def _calls(saasus: SaaSus, standin: SaaSusStandIn, buyer: User) -> dict[str, Any]:
    """Each SaaSus call, by the stand-in's name for its endpoint."""
    return {
        "verify": lambda: saasus.registration_token_is_unused(standin.issue_registration_token()),
        "credentials": lambda: saasus.exchange_code(standin.issue_code(buyer)),
        "userinfo": lambda: saasus.user_info("token"),
        "customers": lambda: saasus.linked_tenants([buyer.tenants[0].id]),
        "link": lambda: saasus.link(buyer.tenants[0].id, "token", standin.issue_registration_token()),
    }


# What each call's spec documents as a refusal (see _OPERATIONS): REJECTED; other 4xx: UNEXPECTED_STATUS.
_REFUSED = {"verify": {400}, "credentials": {404}, "userinfo": set(), "customers": set(), "link": {400}}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 408, 409, 410, 418, 422, 429, 500, 503])
@pytest.mark.parametrize("endpoint", list(_REFUSED))
def test_statuses_are_classified_by_the_calls_spec(
    standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture, endpoint: str, status: int
) -> None:
    saasus = SaaSus(make_settings(standin))
    standin.inject(endpoint, status=status)
    if status in _ALWAYS:
        expected = _ALWAYS[status]
    elif status >= 500:
        expected = ErrorKind.SERVER_ERROR
    else:
        expected = ErrorKind.REJECTED if status in _REFUSED[endpoint] else ErrorKind.UNEXPECTED_STATUS
    with caplog.at_level(logging.DEBUG, logger="saasus_mw"):
        if endpoint == "verify" and expected is ErrorKind.REJECTED:
            assert _calls(saasus, standin, buyer)[endpoint]() is False  # "used or unknown"
        else:
            with pytest.raises(SaaSusError) as info:
                _calls(saasus, standin, buyer)[endpoint]()
            assert (info.value.kind, info.value.status) == (expected, status)
    errors = [r for r in caplog.records if r.name == "saasus_mw.saasus" and r.levelno >= logging.ERROR]
    assert len(errors) == (expected is ErrorKind.UNEXPECTED_STATUS)


def test_a_base_url_without_v1_is_unexpected_not_a_used_token(
    standin: SaaSusStandIn, buyer: User, caplog: pytest.LogCaptureFixture
) -> None:
    saasus = SaaSus(make_settings(standin, saasus_base_url=standin.url))  # no /v1: every route is a 404
    token = standin.issue_registration_token()
    with caplog.at_level(logging.DEBUG):
        for endpoint, call in _calls(saasus, standin, buyer).items():
            with pytest.raises(SaaSusError) as info:
                call()
            # A 404 is what the credentials spec documents for a bad code: that one call
            # cannot tell. The journey verifies the registration token first, which can.
            expected = ErrorKind.REJECTED if endpoint == "credentials" else ErrorKind.UNEXPECTED_STATUS
            assert (info.value.kind, info.value.status) == (expected, 404)
        with pytest.raises(SaaSusError):
            saasus.registration_token_is_unused(token)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.saasus_mw_saasus_endpoint for r in errors] == [  # type: ignore[attr-defined]
        "POST /awsmarketplace/registration-token/verify",
        "GET /auth/userinfo",
        "GET /awsmarketplace/customers",
        "PATCH /auth/aws-marketplace/link",
        "POST /awsmarketplace/registration-token/verify",
    ]
    message = errors[0].getMessage()
    assert "SAASUS_BASE_URL" in message and standin.url in message and "HTTP 404 (not_found)" in message
    assert token not in caplog.text


def test_a_redirect_is_unexpected(standin: SaaSusStandIn, caplog: pytest.LogCaptureFixture) -> None:
    # SAASUS_BASE_URL on http:// or at a web site: no SaaSus API redirects, and we follow none.
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(301)
            self.send_header("Location", "https://example.com/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        base_url = f"http://user:pass@127.0.0.1:{server.server_address[1]}/v1"
        with caplog.at_level(logging.ERROR), pytest.raises(SaaSusError) as info:
            SaaSus(make_settings(standin, saasus_base_url=base_url)).user_info("token")
    finally:
        server.shutdown()
        server.server_close()
    assert info.value.kind is ErrorKind.UNEXPECTED_STATUS
    (record,) = caplog.records
    assert "GET /auth/userinfo with a redirect" in record.getMessage() and "SAASUS_BASE_URL" in record.getMessage()
    assert record.saasus_mw_saasus_base_url == f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("tenant", "plan_id", "roles"),
    [
        pytest.param('"envs": []', None, (), id="no-environment-no-plan"),
        pytest.param(
            '"plan_id": null, "envs": [{"roles": [{"role_name": "admin"}]}]', None, ("admin",), id="null-plan"
        ),
        pytest.param(
            '"plan_id": "p", "envs": [{"roles": [{"role_name": "user"}, {"role_name": "admin"}]},'
            ' {"roles": [{"role_name": "admin"}]}]',
            "p",
            ("admin", "user"),
            id="roles-of-every-environment-once-sorted",
        ),
    ],
)
def test_userinfo_tenants_are_read_as_the_schema_has_them(
    standin: SaaSusStandIn, tenant: str, plan_id: str | None, roles: tuple[str, ...]
) -> None:
    tenants = f'[{{"id": "t", "name": "n", "completed_sign_up": false, {tenant}}}]'
    body = f'{{"id": "u", "email": "", "extra": {{}}, "tenants": {tenants}}}'
    standin.inject("userinfo", status=200, body=body)
    info = SaaSus(make_settings(standin)).user_info("token")
    assert (info.id, info.email) == ("u", "")
    assert info.tenants == (Tenant("t", "n", False, plan_id, roles),)


def test_tenants_are_built_with_the_fields_the_userinfo_reader_writes() -> None:
    # Tenants builds each Tenant from its columns with tuple.__new__ (no field count checked there):
    # a field added to Tenant must be added as a column, and to the userinfo reader, too.
    from saasus_mw.saasus import Tenant

    assert Tenant._fields == ("id", "name", "completed_sign_up", "plan_id", "roles")
