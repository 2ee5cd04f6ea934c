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
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3

from saasus_mw.saasus import ErrorKind, SaaSus, SaaSusError
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


def test_one_pool_reused_across_calls_and_apis(standin: SaaSusStandIn, buyer: User) -> None:
    saasus = SaaSus(make_settings(standin))
    for _ in range(10):
        saasus.user_info(saasus.exchange_code(standin.issue_code(buyer)).id_token)
    pool = saasus._auth.rest_client.pool_manager.connection_from_url(standin.base_url)
    assert pool.num_connections == 1 and pool.num_requests == 20


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
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/v1/auth/userinfo" in line for line in lines)
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
