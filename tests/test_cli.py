"""saasus-mw check and demo: exit codes, messages naming variables, --json, --online against the stand-in."""

from __future__ import annotations

import contextlib
import dataclasses
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from saasus_mw import check, cli
from saasus_mw.settings import CONFIG_FILE_VAR, FIELDS
from saasus_mw.testing import SaaSusStandIn

from .conftest import API_KEY, SAAS_ID, SECRET, parse_picker
from .servers import ROOT
from .test_examples import free_port, serving

GOOD = {"SAASUS_SAAS_ID": SAAS_ID, "SAASUS_API_KEY": API_KEY, "SAASUS_SECRET_KEY": SECRET}
STRONG_KEY = "q3V9xL2mZp7RtK4wYb8NcJ6hFd1sGa5e"  # 32 characters, varied


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in (CONFIG_FILE_VAR, *(field.env for field in FIELDS.values())):
        monkeypatch.delenv(variable, raising=False)


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], env: dict[str, str], *args: str
) -> tuple[int, dict[str, Any]]:
    """``saasus-mw check --json *args`` in this process; returns (exit code, report)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["check", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def levels(report: dict[str, Any]) -> dict[str, set[str | None]]:
    """Which variables each level names."""
    found: dict[str, set[str | None]] = {"error": set(), "warning": set(), "info": set()}
    for finding in report["findings"]:
        found[finding["level"]].add(finding["variable"])
    return found


@pytest.mark.parametrize(
    ("env", "code", "errors", "warnings"),
    [
        pytest.param({**GOOD, "SAASUS_MW_SECRET_KEY": STRONG_KEY}, 0, set(), set(), id="good"),
        pytest.param(GOOD, 0, set(), set(), id="good-derived-key"),
        pytest.param(
            {}, 1, {"SAASUS_SAAS_ID", "SAASUS_API_KEY", "SAASUS_SECRET_KEY"}, set(), id="every-missing-credential"
        ),
        pytest.param(
            {
                **GOOD,
                "SAASUS_MW_STATE_TTL": "0",
                "SAASUS_MW_COOKIE_SECURE": "maybe",
                "SAASUS_MW_CALLBACK_PATH": "callback",
                "SAASUS_MW_TIMEOUT": "soon",
            },
            1,
            {"SAASUS_MW_STATE_TTL", "SAASUS_MW_COOKIE_SECURE", "SAASUS_MW_CALLBACK_PATH", "SAASUS_MW_TIMEOUT"},
            set(),
            id="every-malformed-value",
        ),
        pytest.param({"SAASUS_MW_ENABLED": "false"}, 0, set(), {"SAASUS_MW_ENABLED"}, id="disabled-needs-no-keys"),
        pytest.param({**GOOD, "SAASUS_BASE_URL": "ftp://saasus"}, 1, {"SAASUS_BASE_URL"}, set(), id="base-url"),
        # An error, and not also a warning about the same key.
        pytest.param(
            {**GOOD, "SAASUS_MW_SECRET_KEY": "abc"}, 1, {"SAASUS_MW_SECRET_KEY"}, set(), id="key-below-minimum"
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_SECRET_KEY": "q3V9xL2mZp7RtK4wYb8N"}, 0, set(), {"SAASUS_MW_SECRET_KEY"}, id="key-short"
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_SECRET_KEY": "abcd" * 10}, 0, set(), {"SAASUS_MW_SECRET_KEY"}, id="key-low-variety"
        ),
        pytest.param(
            {
                **GOOD,
                "SAASUS_MW_SECRET_KEY": STRONG_KEY,
                "SAASUS_MW_SECRET_KEY_FALLBACKS": f"{STRONG_KEY}x, password-password",
            },
            0,
            set(),
            {"SAASUS_MW_SECRET_KEY_FALLBACKS"},
            id="weak-fallback",
        ),
        # Fallback keys meet the primary key's rules: at least 16 characters.
        pytest.param(
            {**GOOD, "SAASUS_MW_SECRET_KEY": STRONG_KEY, "SAASUS_MW_SECRET_KEY_FALLBACKS": f"{STRONG_KEY}x, p"},
            1,
            {"SAASUS_MW_SECRET_KEY_FALLBACKS"},
            set(),
            id="short-fallback",
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_COOKIE_SECURE": "false"}, 0, set(), {"SAASUS_MW_COOKIE_SECURE"}, id="insecure"
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_COOKIE_SAMESITE": "none"}, 0, set(), {"SAASUS_MW_COOKIE_SAMESITE"}, id="samesite-none"
        ),
        pytest.param(
            {**GOOD, "SAASUS_BASE_URL": "http://api.saasus.io/v1"}, 0, set(), {"SAASUS_BASE_URL"}, id="http-saasus"
        ),
        pytest.param({**GOOD, "SAASUS_BASE_URL": "http://127.0.0.1:8790/v1"}, 0, set(), set(), id="http-loopback"),
        pytest.param({**GOOD, "SAASUS_BASE_URL": "http://localhost:8790/v1"}, 0, set(), set(), id="http-localhost"),
        pytest.param({**GOOD, "SAASUS_BASE_URL": "http://[::1]:8790/v1"}, 0, set(), set(), id="http-loopback-v6"),
        # Warnings still show while there are errors.
        pytest.param(
            {**GOOD, "SAASUS_MW_STATE_TTL": "abc", "SAASUS_MW_COOKIE_SAMESITE": "strict"},
            1,
            {"SAASUS_MW_STATE_TTL"},
            {"SAASUS_MW_COOKIE_SAMESITE"},
            id="warnings-with-errors",
        ),
        pytest.param(
            {"SAASUS_MW_COOKIE_SAMESITE": "none", "SAASUS_MW_COOKIE_SECURE": "false"},
            1,
            {"SAASUS_SAAS_ID", "SAASUS_API_KEY", "SAASUS_SECRET_KEY", "SAASUS_MW_COOKIE_SAMESITE"},
            {"SAASUS_MW_COOKIE_SECURE", "SAASUS_MW_COOKIE_SAMESITE"},
            id="rules-across-fields-with-errors",
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_COOKIE_SECURE": "false", "SAASUS_MW_SUCCESS_URL": "https://app.example.com/home"},
            0,
            set(),
            {"SAASUS_MW_COOKIE_SECURE"},
            id="insecure-cookie-https-site",
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_CALLBACK_PATH": "/", "SAASUS_MW_SUCCESS_URL": "/home"},
            0,
            set(),
            {"SAASUS_MW_CALLBACK_PATH"},
            id="path-root",
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_CALLBACK_PATH": "/caf%C3%A9"}, 0, set(), {"SAASUS_MW_CALLBACK_PATH"}, id="path-encoded"
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_CALLBACK_PATH": "/café"}, 0, set(), {"SAASUS_MW_CALLBACK_PATH"}, id="path-non-ascii"
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_CALLBACK_PATH": "/auth//callback"},
            0,
            set(),
            {"SAASUS_MW_CALLBACK_PATH"},
            id="path-not-normalised",
        ),
        pytest.param(
            {**GOOD, "SAASUS_MW_SUCCESS_URL": "https://app.example.com/callback?x=1"},
            0,
            set(),
            {"SAASUS_MW_SUCCESS_URL"},
            id="success-url-is-the-callback",
        ),
    ],
)
def test_check(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    code: int,
    errors: set[str],
    warnings: set[str],
) -> None:
    exit_code, report = run(monkeypatch, capsys, env)
    assert (exit_code, levels(report)["error"], levels(report)["warning"]) == (code, errors, warnings), report
    assert report["ok"] is (code == 0)
    assert (report["errors"], report["warnings"]) == (
        sum(f["level"] == "error" for f in report["findings"]),
        sum(f["level"] == "warning" for f in report["findings"]),
    )
    for finding in report["findings"]:
        assert set(finding) == {"level", "message", "variable"}
        assert finding["variable"] is None or finding["variable"] in finding["message"]
        for secret in (SECRET, "q3V9xL2mZp7RtK4wYb8N", "abcd" * 10, "password", "abc"):
            assert secret not in finding["message"]


def test_strict_fails_on_warnings(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**GOOD, "SAASUS_MW_CALLBACK_PATH": "/", "SAASUS_MW_SUCCESS_URL": "/home"}
    assert run(monkeypatch, capsys, env)[0] == 0
    code, report = run(monkeypatch, capsys, env, "--strict")
    assert code == 1 and report["ok"] is False and report["errors"] == 0


CREDENTIALS_TOML = '[saasus_mw]\nsaasus_saas_id = "s"\nsaasus_api_key = "k"\nsaasus_secret_key = "x"\n'


@pytest.mark.parametrize(
    ("toml", "env", "errors"),
    [
        pytest.param(
            '[saasus_mw]\nsaasus_saas_id = "s"\nsaasus_api_key = "k"\nsaasus_secret_key = "x"\n', {}, set(), id="good"
        ),
        pytest.param('[saasus_mw]\nstate_ttl = 0\nsaasus_saas_id = "s"\n', GOOD, {"SAASUS_MW_STATE_TTL"}, id="bad"),
        # The environment wins over the file, as in the middleware.
        pytest.param("[saasus_mw]\nstate_ttl = 0\n", {**GOOD, "SAASUS_MW_STATE_TTL": "60"}, set(), id="env-wins"),
        pytest.param("[saasus_mw]\ncolour = 'blue'\n", GOOD, {CONFIG_FILE_VAR}, id="unknown-key"),
        pytest.param("not toml", GOOD, {CONFIG_FILE_VAR}, id="not-toml"),
        pytest.param(None, GOOD, {CONFIG_FILE_VAR}, id="missing-file"),
        # One typo is one error: the file's other keys are not "required" on top.
        pytest.param(CREDENTIALS_TOML + 'calback_path = "/x"\n', {}, {CONFIG_FILE_VAR}, id="typo-in-a-key"),
        pytest.param(
            CREDENTIALS_TOML.replace("saasus_secret_key", "saasus_secret"), {}, {CONFIG_FILE_VAR}, id="typo-in-a-key-2"
        ),
        pytest.param(CREDENTIALS_TOML + "callback_path = /x\n", {}, {CONFIG_FILE_VAR}, id="typo-in-a-value"),
    ],
)
def test_check_reads_the_toml_file(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    toml: str | None,
    env: dict[str, str],
    errors: set[str],
) -> None:
    config = tmp_path / "saasus_mw.toml"
    if toml is not None:
        config.write_text(toml)
    code, report = run(monkeypatch, capsys, {**env, CONFIG_FILE_VAR: str(config)})
    assert (code, levels(report)["error"]) == (1 if errors else 0, errors), report
    assert report["errors"] == len(errors), report


@pytest.mark.parametrize(
    ("env", "toml", "message"),
    [
        pytest.param(
            {"SAASUS_MW_STATE_TTL": "abc"},
            None,
            "SAASUS_MW_STATE_TTL (environment variable) is not valid: expected a whole number above 0 "
            "(the default is 900)",
            id="env",
        ),
        pytest.param(
            {"SAASUS_MW_TIMEOUT": "soon"},
            None,
            "SAASUS_MW_TIMEOUT (environment variable) is not valid: expected a number of seconds above 0, "
            "such as 2.5 (the default is 10)",
            id="env-float",
        ),
        pytest.param(
            {},
            "state_ttl = 0",
            "state_ttl in [saasus_mw] of {file} (SAASUS_MW_STATE_TTL) is not valid: expected a whole number above 0 "
            "(the default is 900)",
            id="toml-file-and-key",
        ),
        pytest.param(
            {},
            'calback_path = "/x"',
            "SAASUS_MW_CONFIG={file}: [saasus_mw] has no key 'calback_path' - did you mean callback_path?",
            id="toml-typo",
        ),
        pytest.param(
            {"SAASUS_MW_SECRET_KEY_FALLBACKS": f"{STRONG_KEY}, abc, {STRONG_KEY}y, xyz"},
            None,
            "SAASUS_MW_SECRET_KEY_FALLBACKS (environment variable) is not valid: key 2, 4 (of 4, comma-separated) "
            "has fewer than 16 characters; fallback keys follow the rules of SAASUS_MW_SECRET_KEY - generate one "
            "with: python -c 'import secrets; print(secrets.token_urlsafe(32))'",
            id="fallback-key",
        ),
    ],
)
def test_messages_say_what_where_and_what_instead(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    env: dict[str, str],
    toml: str | None,
    message: str,
) -> None:
    config = tmp_path / "saasus_mw.toml"
    config.write_text(f"{CREDENTIALS_TOML}{toml or ''}\n")
    _, report = run(monkeypatch, capsys, {**env, CONFIG_FILE_VAR: str(config)})
    assert [f["message"] for f in report["findings"] if f["level"] == "error"] == [message.format(file=config)]


def test_human_output_and_the_module_entry_point() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "SAASUS_SAAS_ID": SAAS_ID,
        "SAASUS_MW_CALLBACK_PATH": "/",
        "SAASUS_MW_SUCCESS_URL": "/a",
    }
    done = subprocess.run(
        [sys.executable, "-m", "saasus_mw.cli", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert "error    SAASUS_API_KEY is required (set it in the environment or the TOML file)" in lines
    assert any(line.startswith("warning  SAASUS_MW_CALLBACK_PATH is /") for line in lines)
    assert lines[-1] == "FAILED: 2 error(s), 1 warning(s)"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["nonsense"], ["check", "--bogus"]):
        with pytest.raises(SystemExit) as raised:
            cli.main(argv)
        assert raised.value.code == 2
    capsys.readouterr()


# -- --online ---------------------------------------------------------------------


def online_env(standin: SaaSusStandIn, **changes: str) -> dict[str, str]:
    return {**GOOD, "SAASUS_BASE_URL": standin.base_url, "SAASUS_MW_TIMEOUT": "2", **changes}


def online(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings of --online: those after the configuration's own (which these environments have none of)."""
    return [f for f in report["findings"] if f["level"] != "info" or "SAASUS_MW_SECRET_KEY" not in f["message"]]


@pytest.mark.parametrize(
    ("changes", "fault", "variable", "text"),
    [
        pytest.param(
            {"SAASUS_SECRET_KEY": "wrong-secret-0123456789"},
            None,
            "SAASUS_SECRET_KEY",
            "refused the signature: check SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY",
            id="wrong-secret",
        ),
        pytest.param(
            {"SAASUS_API_KEY": "wrong-key"}, None, "SAASUS_SECRET_KEY", "within a second of", id="wrong-api-key"
        ),
        pytest.param({}, {"status": 503}, "SAASUS_BASE_URL", "answered HTTP 503", id="saasus-down"),
        pytest.param(
            {}, {"delay": 3.0}, "SAASUS_BASE_URL", "did not answer within SAASUS_MW_TIMEOUT (2s)", id="saasus-slow"
        ),
        pytest.param(
            {},
            {"status": 200, "body": '{"callback": "https://x"}'},
            "SAASUS_BASE_URL",
            "answered, but not as the SaaSus API does",
            id="not-saasus",
        ),
    ],
)
def test_online_failures(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    standin: SaaSusStandIn,
    changes: dict[str, str],
    fault: dict[str, Any] | None,
    variable: str,
    text: str,
) -> None:
    if fault:
        standin.inject("auth_info", **fault)
    code, report = run(monkeypatch, capsys, online_env(standin, **changes), "--online")
    (finding,) = online(report)
    assert (code, finding["level"], finding["variable"]) == (1, "error", variable)
    assert text in finding["message"] and standin.base_url in finding["message"]
    assert all(call.endpoint == "auth_info" for call in standin.calls)  # read-only
    assert "wrong-secret" not in json.dumps(report)


@pytest.mark.parametrize(
    ("registered", "callback_path", "level", "text"),
    [
        pytest.param(
            "https://app.example.com/callback", None, "info", "its path is SAASUS_MW_CALLBACK_PATH", id="same"
        ),
        pytest.param(
            "https://app.example.com/auth/callback?from=saasus",
            "/auth/callback",
            "info",
            "its path is SAASUS_MW_CALLBACK_PATH (/auth/callback)",
            id="same-with-query",
        ),
        pytest.param(
            "https://app.example.com/app/callback",
            None,
            "warning",
            "only if this app is mounted under /app (root_path / SCRIPT_NAME); if it is not, the middleware would "
            "never see a buyer: set SAASUS_MW_CALLBACK_PATH=/app/callback.",
            id="mounted-or-not",
        ),
        pytest.param(
            "https://app.example.com/auth/done",
            None,
            "error",
            "SaaSus sends buyers to https://app.example.com/auth/done (the callback URL registered in the SaaSus "
            "console), but SAASUS_MW_CALLBACK_PATH is /callback: the middleware would never see a buyer. To fix, "
            "register https://app.example.com/callback in the SaaSus console, or set "
            "SAASUS_MW_CALLBACK_PATH=/auth/done.",
            id="other-path",
        ),
        pytest.param("https://app.example.com/callback/", None, "error", "never see a buyer", id="trailing-slash"),
        pytest.param("", None, "error", "SaaSus has no usable callback URL registered ('')", id="none-registered"),
    ],
)
def test_online_compares_the_registered_callback_url(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    registered: str,
    callback_path: str | None,
    level: str,
    text: str,
) -> None:
    changes = {"SAASUS_MW_CALLBACK_PATH": callback_path} if callback_path else {}
    with SaaSusStandIn(SAAS_ID, API_KEY, SECRET) as standin:
        standin.callback_url = registered  # as set in the SaaSus console
        code, report = run(monkeypatch, capsys, online_env(standin, **changes), "--online")
    accepted, clock, callback = online(report)
    assert "accepted the signed call" in accepted["message"] and "within a second of" in clock["message"]
    assert (code, callback["level"], callback["variable"]) == (int(level == "error"), level, "SAASUS_MW_CALLBACK_PATH")
    assert text in callback["message"]
    assert [call.endpoint for call in standin.calls] == ["auth_info"]  # one signed, read-only call


def test_online_explains_spa_and_api_mode() -> None:
    # SPA + API mode: SAASUS_MW_SIGNIN_URL names the SPA's page; SaaSus must still send buyers to the API.
    settings = SimpleNamespace(callback_path="/api/callback", signin_url="https://spa.example.com/callback")
    finding = check._callback_finding("https://spa.example.com/callback", settings)  # type: ignore[arg-type]
    assert finding.level == "error" and "https://spa.example.com/callback" in finding.message
    assert "SAASUS_MW_CALLBACK_PATH is /api/callback" in finding.message
    assert "register the API's callback URL (path /api/callback)" in finding.message
    assert "not the SPA's page https://spa.example.com/callback" in finding.message
    finding = check._callback_finding("https://api.example.com/api/callback", settings)  # type: ignore[arg-type]
    assert finding.level == "info" and "SPA + API mode" in finding.message


@pytest.mark.parametrize(
    ("offset", "code", "level", "variable", "text"),
    [
        pytest.param(40, 0, "warning", None, r"this machine's clock is \d+ s behind SaaSus's", id="drifting"),
        pytest.param(-40, 0, "warning", None, r"this machine's clock is \d+ s ahead of SaaSus's", id="drifting-ahead"),
        pytest.param(
            300,
            1,
            "error",
            None,
            r"refused the signature: this machine's clock is about 5 min behind SaaSus's, .* synchronise the clock",
            id="off",
        ),
    ],
)
def test_online_reports_the_clock_difference(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    offset: float,
    code: int,
    level: str,
    variable: str | None,
    text: str,
) -> None:
    with SaaSusStandIn(SAAS_ID, API_KEY, SECRET, clock_offset=offset) as standin:
        exit_code, report = run(monkeypatch, capsys, online_env(standin), "--online")
    finding = next(f for f in online(report) if "clock" in f["message"])
    assert (exit_code, finding["level"], finding["variable"]) == (code, level, variable), report
    assert re.search(text, finding["message"]), finding["message"]


def test_online_unreachable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**GOOD, "SAASUS_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "SAASUS_MW_TIMEOUT": "2"}
    code, report = run(monkeypatch, capsys, env, "--online")
    assert code == 1 and report["findings"][-1]["variable"] == "SAASUS_BASE_URL"
    assert "cannot reach SaaSus" in report["findings"][-1]["message"]


def test_online_is_not_attempted_with_a_broken_configuration(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], standin: SaaSusStandIn
) -> None:
    code, report = run(monkeypatch, capsys, online_env(standin, SAASUS_MW_STATE_TTL="0"), "--online")
    assert code == 1 and "not attempted" in report["findings"][-1]["message"]
    assert standin.calls == []


# -- demo -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Demo:
    product: str  # http://127.0.0.1:port, no trailing slash
    login: str  # the hosted login (on localhost) it prints: buying on AWS Marketplace


@contextlib.contextmanager
def running_demo() -> Iterator[Demo]:
    """``python -m saasus_mw.cli demo`` running on free ports, until the block ends."""
    app_port, saasus_port = free_port(), free_port()
    command = [sys.executable, "-m", "saasus_mw.cli", "demo", "--app-port", str(app_port)]
    command += ["--saasus-port", str(saasus_port)]
    with serving(command, {"PATH": "/usr/bin:/bin"}, app_port) as log:
        deadline = time.monotonic() + 10
        while not (match := re.search(rb"http://localhost:\d+/login\?\S+", _read(log))):
            assert time.monotonic() < deadline, _read(log)
            time.sleep(0.05)
        yield Demo(f"http://127.0.0.1:{app_port}", match.group().decode())


@pytest.fixture
def demo() -> Iterator[Demo]:
    with running_demo() as running:
        yield running


def _read(log: Any) -> bytes:
    log.seek(0)
    return bytes(log.read())


def _link(page: httpx.Response, text: str) -> str:
    match = re.search(rf'<a href="([^"]+)">{re.escape(text)}</a>', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


def test_demo_runs_the_whole_journey(demo: Demo) -> None:
    with httpx.Client(timeout=10, follow_redirects=True) as browser:
        # Before anything: not signed in, and no word of a purchase.
        home = browser.get(demo.product + "/")
        assert home.status_code == 200 and "You are not signed in" in home.text
        assert "linked" not in home.text.lower() and "purchase went" not in home.text

        # An ordinary sign-in (no registration token): signed in, still no purchase.
        signed_in = browser.get(_link(home, "Sign in") + "&email=buyer%40example.com")
        assert (
            signed_in.url == demo.product + "/" and "Signed in as <strong>buyer@example.com</strong>" in signed_in.text
        )
        assert "linked" not in signed_in.text.lower() and "purchase went" not in signed_in.text
        assert "No AWS Marketplace purchase for you yet" in signed_in.text

        # The stand-in's hosted login, as the buyer: it redirects to the product's
        # callback with a code and a registration token, then on to the picker.
        picker = browser.get(demo.login + "&email=buyer%40example.com")
        assert picker.status_code == 200 and "Acme Corporation" in picker.text
        assert 'id="t-new"' in picker.text  # the demo offers a new account too
        form = parse_picker(picker.text)
        acme = next(tenant_id for tenant_id, name in form.options if name == "Acme Corporation")
        done = browser.post(picker.url, data={"csrf_token": form.inputs["csrf_token"], "tenant_id": acme})
    # The default hand-off: a fresh code to the product's own callback, which
    # exchanges it (the buyer is signed in) and sends them home.
    handoff = [r for r in done.history if r.url.path == "/callback" and "code=" in str(r.url.query)]
    assert [r.status_code for r in handoff] == [303] and handoff[0].headers["location"] == "/"
    assert "registration_token" not in str(handoff[0].url)
    assert done.status_code == 200 and done.url == demo.product + "/"
    assert "Signed in as <strong>buyer@example.com</strong>" in done.text
    assert "purchase went to <strong>Acme Corporation</strong> (an account you chose" in done.text
    assert "<li>Acme Corporation (plan Basic) - has your purchase</li>" in done.text

    # The code was the product's to use once: presented again, it signs nobody in.
    with httpx.Client(timeout=10, follow_redirects=True) as other:
        again = other.get(str(handoff[0].url))
        assert again.status_code == 400 and "Sign-in failed" in again.text
        assert "went to" not in other.get(demo.product + "/").text


def test_demo_newcomer_gets_a_new_account(demo: Demo) -> None:
    name = "Newcomer & <Co> 株式会社"
    with httpx.Client(timeout=10, follow_redirects=True) as browser:
        picker = browser.get(demo.login + "&email=newcomer%40example.com")
        form = parse_picker(picker.text)
        assert picker.status_code == 200 and [tenant_id for tenant_id, _ in form.options] == [""]
        assert form.selected == ""  # the only choice, preselected
        data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": "", "new_tenant_name": name}
        done = browser.post(picker.url, data=data)
    assert done.status_code == 200 and done.url == demo.product + "/"
    assert "Signed in as <strong>newcomer@example.com</strong>" in done.text
    escaped = html.escape(name)
    assert f"purchase went to <strong>{escaped}</strong> (a new account created for it" in done.text
    assert f"<li>{escaped} - has your purchase</li>" in done.text and name not in done.text


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_takes_the_ports() -> None:
    # -n: the command make would run, without running it. Not an outer make's
    # variables either (make test-all runs this suite with VENV=.venv-3.x).
    command = ["make", "-n", "--no-print-directory", "demo", "PORT=8001", "SAASUS_PORT=8791"]
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    assert ".venv/bin/saasus-mw demo --app-port 8001 --saasus-port 8791" in done.stdout.splitlines()


@pytest.mark.parametrize("busy", ["--app-port", "--saasus-port"])
def test_demo_on_a_busy_port_says_so(busy: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = {"--app-port": str(free_port()), "--saasus-port": str(free_port())}
        ports[busy] = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "saasus_mw.cli", "demo", *(part for pair in ports.items() for part in pair)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1 and "in use" in done.stderr and "Traceback" not in done.stderr
    assert busy in done.stderr or "different port" in done.stderr  # ours names the option, werkzeug says so
