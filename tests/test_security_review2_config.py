"""Issue 18, the configuration and operator findings: non-ASCII URLs, SPA forwarding spellings,
key rotation, credentials in SAASUS_BASE_URL, and the host server's access log.

Journeys run on both adapters; the access log under real uvicorn, gunicorn and werkzeug servers.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from saasus_mw import ConfigError, Settings, cli
from saasus_mw.check import check
from saasus_mw.settings import FIELDS
from saasus_mw.testing import SaaSusStandIn, User

from .conftest import API_KEY, SAAS_ID, SECRET, Adapter, begin, make_settings, parse_picker, pick
from .servers import SERVERS, free_port, server_env, serving

# -- non-ASCII URLs: encoded at load, every header they reach is latin-1 -------------------

YOKOSO = "/%E3%82%88%E3%81%86%E3%81%93%E3%81%9D"  # /ようこそ
IDN = "https://xn--r8jz45g.jp"  # https://例え.jp


def _headers_are_latin1(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    for name, value in response.headers.raw:
        value.decode("ascii")  # what went out on the wire: ASCII, so latin-1 too
        name.decode("ascii")


class _Recorder:
    """Every response of a client, checked as it arrives."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    def __call__(self, response: httpx.Response) -> None:
        _headers_are_latin1(response)
        self.responses.append(response)


def _connect(adapter: Adapter, standin: SaaSusStandIn, **overrides: Any) -> tuple[httpx.Client, _Recorder]:
    client = adapter.connect(make_settings(standin, **overrides))
    recorder = _Recorder()
    client.event_hooks["response"].append(recorder)
    return client, recorder


@pytest.mark.parametrize(
    ("overrides", "after_link"),
    [
        pytest.param({"success_url": "/ようこそ"}, YOKOSO, id="success-path"),
        pytest.param(
            {"success_url": "https://例え.jp/ようこそ?x=日本"}, f"{IDN}{YOKOSO}?x=%E6%97%A5%E6%9C%AC", id="success-idn"
        ),
        pytest.param(
            {"success_url": "", "signin_url": "https://例え.jp/callback"}, f"{IDN}/callback?code=", id="signin-idn"
        ),
        pytest.param(
            {"success_url": "", "signin_url": "/サインイン"},
            "/%E3%82%B5%E3%82%A4%E3%83%B3%E3%82%A4%E3%83%B3?code=",
            id="signin-path",
        ),
    ],
)
def test_non_ascii_urls_reach_every_header_encoded(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, overrides: dict[str, str], after_link: str
) -> None:
    client, recorder = _connect(adapter, standin, **overrides)
    with client:
        _, picker_url = begin(client, standin, buyer)
        linked = pick(client, picker_url, buyer.tenants[0].id)
        assert linked.status_code == 303 and linked.headers["location"].startswith(after_link)
        again = client.get(picker_url)  # Back after linking: the done page, its continue link
        forwarded = client.get("/callback")  # an ordinary login: forwarded in SPA mode
    assert standin.links, "the purchase is linked"
    for response in recorder.responses:
        if "content-security-policy" in response.headers and "://" in after_link:
            assert f"form-action 'self' {IDN}" in response.headers["content-security-policy"]
    assert after_link.partition("?")[0] in again.text or again.status_code == 303
    if "signin_url" in overrides:
        assert forwarded.status_code == 303 and forwarded.headers["location"] == after_link.partition("?")[0]


def test_a_non_ascii_signup_url_is_linked_encoded(adapter: Adapter, standin: SaaSusStandIn) -> None:
    nobody = standin.add_user(email=f"new-{secrets.token_hex(4)}@example.com", tenants=[])
    client, _ = _connect(adapter, standin, signup_url="/登録", success_url="https://例え.jp/")
    with client:
        _, picker_url = begin(client, standin, nobody)
        page = client.get(picker_url)
    assert 'href="/%E7%99%BB%E9%8C%B2"' in page.text  # /登録


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("SAASUS_MW_SIGNIN_URL", "https://straße.de/callback", id="host-idna2003-changes"),
        pytest.param("SAASUS_MW_SUCCESS_URL", "https://\uff45xample.com/", id="host-full-width"),  # a full-width e
        pytest.param("SAASUS_MW_SIGNUP_URL", "https://a..例え.jp/", id="host-empty-label"),
        pytest.param("SAASUS_MW_CALLBACK_PATH", "/ようこそ", id="callback-path"),
    ],
)
def test_urls_that_cannot_be_encoded_faithfully_are_refused_at_load(variable: str, value: str) -> None:
    environ = {"SAASUS_SAAS_ID": SAAS_ID, "SAASUS_API_KEY": API_KEY, "SAASUS_SECRET_KEY": SECRET, variable: value}
    with pytest.raises(ConfigError, match=variable):
        Settings.load(environ)
    assert any(f.level == "error" and f.variable == variable for f in check(environ))


def test_check_strict_accepts_what_the_middleware_can_emit() -> None:
    environ = {
        "SAASUS_SAAS_ID": SAAS_ID,
        "SAASUS_API_KEY": API_KEY,
        "SAASUS_SECRET_KEY": SECRET,
        "SAASUS_MW_SUCCESS_URL": "/ようこそ",
        "SAASUS_MW_SIGNIN_URL": "https://例え.jp/callback",
        "SAASUS_MW_SUPPORT_URL": "https://例え.jp/サポート",  # else check asks for one (the listing review does)
    }
    assert [f for f in check(environ) if f.level != "info"] == []
    settings = Settings.load(environ)
    assert (settings.success_url, settings.signin_url) == (YOKOSO, f"{IDN}/callback")


# -- SPA forwarding: another spelling of the callback is the callback --------------------


@pytest.mark.parametrize(
    "signin_url",
    [
        pytest.param("/callback/", id="trailing-slash"),
        pytest.param("/%63allback", id="percent-encoded"),
        pytest.param("/spa/../callback", id="dot-segment"),
        pytest.param("https://testserver/%63allback", id="absolute-encoded"),
        pytest.param("https://TestServer:443/callback/", id="absolute-case-port-slash"),
    ],
)
def test_the_callback_by_another_spelling_is_not_forwarded_to(
    adapter: Adapter, standin: SaaSusStandIn, signin_url: str
) -> None:
    with adapter.connect(make_settings(standin, signin_url=signin_url, success_url="")) as client:
        response = client.get("/callback")
    # The host's own page answers; a redirect to the same page would loop (the app slash-redirecting back).
    assert response.status_code == 200 and response.headers.get("x-host") == "1", response.headers


def test_a_real_spa_page_is_still_forwarded_to(adapter: Adapter, standin: SaaSusStandIn) -> None:
    with adapter.connect(make_settings(standin, signin_url="/callback-spa/", success_url="")) as client:
        response = client.get("/callback", params={"code": "x"})
    assert response.status_code == 303 and response.headers["location"] == "/callback-spa/?code=x"


# -- key rotation: a state minted before it opens after it, for its lifetime --------------

K1, K2 = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
NEW_SECRET = "secret-rotated-9876543210"


@pytest.mark.parametrize(
    ("before", "after", "saasus_secret"),
    [
        pytest.param(
            {},
            {"saasus_secret_key": NEW_SECRET, "secret_key_fallbacks": SECRET},
            NEW_SECRET,
            id="saasus-secret-rotated",
        ),
        pytest.param({}, {"secret_key": K1, "secret_key_fallbacks": SECRET}, SECRET, id="explicit-key-introduced"),
        pytest.param(
            {"secret_key": K1}, {"secret_key": K2, "secret_key_fallbacks": K1}, SECRET, id="explicit-key-rotated"
        ),
        pytest.param({"secret_key": K1}, {"secret_key_fallbacks": K1}, SECRET, id="back-to-derived"),
    ],
)
def test_a_state_minted_before_a_rotation_opens_after_it(
    adapter: Adapter,
    standin: SaaSusStandIn,
    buyer: User,
    before: dict[str, str],
    after: dict[str, str],
    saasus_secret: str,
) -> None:
    with adapter.connect(make_settings(standin, **before)) as old:
        _, picker_url = begin(old, standin, buyer)
        jar = list(old.cookies.jar)
    try:
        standin.secret_key = saasus_secret  # SaaSus knows only the new secret once it is rotated
        with adapter.connect(make_settings(standin, **after)) as new:
            for cookie in jar:
                new.cookies.jar.set_cookie(cookie)
            page = new.get(picker_url)
            assert page.status_code == 200, page.text
            assert len(parse_picker(page.text).options) == len(buyer.tenants)
            linked = pick(new, picker_url, buyer.tenants[1].id)
        assert linked.status_code == 303 and linked.headers["location"] == "/welcome"
    finally:
        standin.secret_key = SECRET


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param({"secret_key": K1}, {"secret_key": K2}, id="explicit-key-rotated"),
        # The derived key is not accepted for ever once an explicit key is set: only while listed.
        pytest.param({}, {"secret_key": K1}, id="explicit-key-introduced"),
    ],
)
def test_without_the_fallback_the_old_state_is_refused(
    adapter: Adapter, standin: SaaSusStandIn, buyer: User, before: dict[str, str], after: dict[str, str]
) -> None:
    with adapter.connect(make_settings(standin, **before)) as old:
        _, picker_url = begin(old, standin, buyer)
        jar = list(old.cookies.jar)
    with adapter.connect(make_settings(standin, **after)) as new:
        for cookie in jar:
            new.cookies.jar.set_cookie(cookie)
        assert new.get(picker_url).status_code != 200


def test_check_prints_key_fingerprints_never_keys() -> None:
    from saasus_mw.state import key_fingerprint

    environ = {
        "SAASUS_SAAS_ID": SAAS_ID,
        "SAASUS_API_KEY": API_KEY,
        "SAASUS_SECRET_KEY": SECRET,
        "SAASUS_MW_SECRET_KEY": K2,
        "SAASUS_MW_SECRET_KEY_FALLBACKS": K1,
    }
    lines = [f.message for f in check(environ) if f.message.startswith("state key ")]
    settings = Settings.load(environ)
    assert lines[0] == f"state key {key_fingerprint(K2)}: SAASUS_MW_SECRET_KEY, seals new states"
    assert f"state key {key_fingerprint(K1)}: SAASUS_MW_SECRET_KEY_FALLBACKS key 1 (accepted)" in lines
    assert len(lines) == len(settings.state_keys) == 3
    text = "\n".join(f.message for f in check(environ))
    for _, key in settings.state_keys:
        assert key not in text and key[:8] not in text
    # Every worker with the same configuration prints the same fingerprints.
    assert lines == [f.message for f in check(dict(environ)) if f.message.startswith("state key ")]


def test_a_current_key_also_listed_as_fallback_still_seals_new_states() -> None:
    from saasus_mw.state import StateCodec

    environ = {"SAASUS_SAAS_ID": SAAS_ID, "SAASUS_API_KEY": API_KEY, "SAASUS_SECRET_KEY": SECRET}
    mistaken = Settings.load({**environ, "SAASUS_MW_SECRET_KEY": K1, "SAASUS_MW_SECRET_KEY_FALLBACKS": f"{K2},{K1}"})
    assert mistaken.signing_keys[-1] == K1
    codec = {"max_age": 900, "cookie_name": "saasus_mw_state", "secure": True}
    minted = StateCodec(mistaken.signing_keys, **codec).encode(_state(), "/callback")
    cookie = "; ".join(c.split(";")[0] for c in minted)
    assert StateCodec([K1], **codec).decode(cookie).registration_token == "tok"
    warned = [f for f in check({**environ, "SAASUS_MW_SECRET_KEY": K1, "SAASUS_MW_SECRET_KEY_FALLBACKS": K1})]
    assert any(f.level == "warning" and "lists the current" in f.message for f in warned)


def _state() -> Any:
    from saasus_mw.state import State

    return State(registration_token="tok", access_token="a" * 40, id_token="i" * 40)


# -- credentials in SAASUS_BASE_URL are never printed ------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for field in FIELDS.values():
        monkeypatch.delenv(field.env, raising=False)
    monkeypatch.delenv("SAASUS_MW_CONFIG", raising=False)
    yield monkeypatch


@pytest.mark.parametrize(
    ("where", "online"),
    [
        pytest.param("plain-http", False, id="plain-http-warning"),
        pytest.param("unreachable", True, id="online-unreachable"),
        pytest.param("standin", True, id="online-answered"),
    ],
)
def test_check_never_prints_credentials_in_the_base_url(
    clean_environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    standin: SaaSusStandIn,
    where: str,
    online: bool,
) -> None:
    url = {
        "plain-http": "http://saasus.example.test/v1",
        "unreachable": f"https://127.0.0.1:{free_port()}/v1",
        "standin": standin.base_url,
    }[where].replace("://", "://mw-user:hunter2-pass@")
    env = {"SAASUS_SAAS_ID": SAAS_ID, "SAASUS_API_KEY": API_KEY, "SAASUS_SECRET_KEY": SECRET, "SAASUS_BASE_URL": url}
    for name, value in {**env, "SAASUS_MW_TIMEOUT": "2"}.items():
        clean_environment.setenv(name, value)
    for arguments in (["check", "--json"], ["check"]):
        cli.main(arguments + (["--online"] if online else []))
        out = capsys.readouterr()
        assert url.replace("mw-user:hunter2-pass@", "") in out.out  # the URL is shown, without its credentials
        assert "hunter2" not in out.out + out.err and "mw-user" not in out.out + out.err


@pytest.mark.parametrize(
    "url",
    [
        "http://admin:s3cr/et@api.example.com/v1",
        "http://admin:s3cr#et@api.example.com/v1",
        "https://admin:p@ss@api.example.com/v1",
    ],
)
def test_a_password_a_url_parser_misreads_is_still_never_printed(url: str) -> None:
    from saasus_mw.redact import without_userinfo

    assert without_userinfo(url).endswith("://api.example.com/v1")
    text = "\n".join(
        f.message
        for f in check(
            {"SAASUS_SAAS_ID": SAAS_ID, "SAASUS_API_KEY": API_KEY, "SAASUS_SECRET_KEY": SECRET, "SAASUS_BASE_URL": url}
        )
    )
    assert "s3cr" not in text and "p@ss" not in text and "admin" not in text


# -- the host server's access log: no code, no registration token -------------------------

WERKZEUG_SERVER = [
    sys.executable,
    "-c",
    "import sys; from werkzeug.serving import run_simple; from examples.wsgi_app import app; "
    "run_simple('127.0.0.1', int(sys.argv[1]), app)",
    "{port}",
]


def _journey_over_http(base_url: str, standin: SaaSusStandIn, buyer: User) -> tuple[str, str]:
    """A whole journey; returns the registration token and the code it arrived with."""
    token = standin.issue_registration_token()
    code = standin.issue_code(buyer)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        arrival = client.get("/callback", params={"code": code, "registration_token": token})
        assert arrival.status_code == 303, arrival.text
        done = pick(client, arrival.headers["location"], buyer.tenants[0].id)
        assert done.status_code == 303 and done.headers["location"] == "/welcome"
    return token, code


def _assert_redacted(log: str, token: str, code: str) -> None:
    assert "/callback?" in log, log  # the access log is on, and shows the arrival
    assert "registration_token=[redacted]" in log and "code=[redacted]" in log, log
    for secret in (token, code):  # as sent, and as the server may print it: percent-encoded or decoded
        for shown in (secret, quote(secret, safe=""), quote(secret)):
            assert shown[:12] not in log


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_the_access_log_of_a_real_server_carries_no_token(
    server: str, standin: SaaSusStandIn, buyer: User, tmp_path: Path
) -> None:
    port = free_port()
    access_log = tmp_path / "access.log"
    options = ["--access-log"] if server == "uvicorn" else ["--access-logfile", str(access_log)]
    command = [part.format(port=port) for part in SERVERS[server]] + options
    with serving(command, server_env(standin), port) as output:
        token, code = _journey_over_http(f"http://127.0.0.1:{port}", standin, buyer)
        output.seek(0)
        log = output.read().decode("utf-8", "replace")
    if server == "gunicorn":  # the workers have stopped: everything is written
        log = access_log.read_text("utf-8")
    _assert_redacted(log, token, code)


def test_the_werkzeug_dev_server_log_carries_no_token(standin: SaaSusStandIn, buyer: User) -> None:
    port = free_port()
    command = [part.format(port=port) for part in WERKZEUG_SERVER]
    with serving(command, server_env(standin), port) as output:
        token, code = _journey_over_http(f"http://127.0.0.1:{port}", standin, buyer)
        output.seek(0)
        log = output.read().decode("utf-8", "replace")
    _assert_redacted(log, token, code)


def test_redaction_can_be_turned_off(standin: SaaSusStandIn, buyer: User) -> None:
    port = free_port()
    command = [part.format(port=port) for part in WERKZEUG_SERVER]
    env = server_env(standin, SAASUS_MW_REDACT_ACCESS_LOGS="false")
    with serving(command, env, port) as output:
        _journey_over_http(f"http://127.0.0.1:{port}", standin, buyer)
        output.seek(0)
        log = output.read().decode("utf-8", "replace")
    # werkzeug logs the query as it came: the filter was what removed it.
    assert "registration_token=" in log and "registration_token=[redacted]" not in log


@pytest.mark.parametrize(
    ("logger", "message", "args"),
    [
        pytest.param(
            "django.server",
            '"%s" %s %s',
            ("GET /callback?code=C0DE&registration_token=T0KEN HTTP/1.1", "303", "0"),
            id="django-runserver",
        ),
        pytest.param(
            "hypercorn.access",
            "%(h)s %(r)s %(s)s",
            ({"h": "127.0.0.1", "r": "GET /callback?registration_token=T0KEN&code=C0DE HTTP/1.1", "s": 303},),
            id="hypercorn",
        ),
        pytest.param(
            "uvicorn.asgi",
            "%s [%d] Started scope=%s",
            (
                "ASGI",
                1,
                {
                    "query_string": b"code=C0DE&registration_token=T0KEN",
                    "headers": [(b"cookie", b"saasus_mw_state_0=ST4TE")],
                },
            ),
            id="uvicorn-trace",
        ),
    ],
)
def test_every_access_logger_is_redacted(
    adapter: Adapter,
    standin: SaaSusStandIn,
    logger: str,
    message: str,
    args: tuple[Any, ...],
    caplog: pytest.LogCaptureFixture,
) -> None:
    adapter.wrap(make_settings(standin))  # building the middleware installs the filter
    with caplog.at_level(1, logger=logger):
        logging.getLogger(logger).log(logging.INFO, message, *args)
    record = caplog.records[-1]
    written = record.getMessage()
    assert "C0DE" not in written and "T0KEN" not in written and "ST4TE" not in written
    assert "[redacted]" in written
    # What handlers and test suites that format by hand read (uvicorn's own, under test-peers).
    assert record.msg % record.args == written


@pytest.mark.parametrize(
    ("message", "args", "expected", "absent"),
    [
        # A format string that names the parameter keeps its "%s" (redacting it would break the
        # record); the bare argument is not a query, so it is the host's own to keep out of logs.
        pytest.param("saw code=%s", ("C0DE",), "saw code=C0DE", "", id="format-string-untouched"),
        pytest.param("%s", ("GET /cb?%63ode=C0DE HTTP/1.1",), "%63ode=[redacted]", "C0DE", id="percent-encoded-name"),
        pytest.param("%s", ("GET /cb?registration_token=T0;KEN HTTP/1.1",), "=[redacted] ", "KEN", id="semicolon"),
        pytest.param(
            "%s", ("GET /cb?authcode=KEEP&x=1 HTTP/1.1",), "authcode=KEEP&x=1", "[redacted]", id="others-kept"
        ),
    ],
)
def test_redaction_reads_names_as_the_server_would_and_keeps_formats(
    message: str, args: Any, expected: str, absent: str
) -> None:
    from saasus_mw.redact import RedactAccessLog

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, message, args, None)
    RedactAccessLog().filter(record)
    written = record.getMessage()
    assert expected in written
    assert not absent or absent not in written


def test_gunicorn_atoms_keep_their_shape_for_json_formatters() -> None:
    from gunicorn.glogging import SafeAtoms

    from saasus_mw.redact import RedactAccessLog

    atoms = SafeAtoms({"r": "GET /callback?code=C0DE HTTP/1.1", "q": "code=C0DE", "s": "303", "{cookie}i": "x"})
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, "%(r)s %(s)s", (atoms,), None)
    RedactAccessLog().filter(record)
    assert isinstance(record.args, SafeAtoms)
    assert record.args["q"] == "code=[redacted]" and record.args["s"] == "303" and record.args["missing"] == "-"
    assert record.getMessage() == "GET /callback?code=[redacted] HTTP/1.1 303"


def test_the_filter_is_installed_once_per_process(adapter: Adapter, standin: SaaSusStandIn) -> None:
    from saasus_mw.redact import ACCESS_LOGGERS, RedactAccessLog

    for _ in range(3):
        adapter.wrap(make_settings(standin))
    for name in ACCESS_LOGGERS:
        assert sum(isinstance(f, RedactAccessLog) for f in logging.getLogger(name).filters) == 1
