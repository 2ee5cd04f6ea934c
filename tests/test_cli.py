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
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from saasus_mw import check, cli
from saasus_mw.settings import CONFIG_FILE_VAR, FIELDS
from saasus_mw.state import EXPIRED_GRACE
from saasus_mw.testing import SaaSusStandIn

from .conftest import API_KEY, SAAS_ID, SECRET, parse_picker
from .servers import ROOT
from .test_examples import free_port, serving

GOOD = {
    "SAASUS_SAAS_ID": SAAS_ID,
    "SAASUS_API_KEY": API_KEY,
    "SAASUS_SECRET_KEY": SECRET,
    "SAASUS_MW_SUPPORT_URL": "mailto:support@example.com",
}
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


def not_info(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [finding for finding in report["findings"] if finding["level"] != "info"]


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
            {},
            1,
            {"SAASUS_SAAS_ID", "SAASUS_API_KEY", "SAASUS_SECRET_KEY"},
            {"SAASUS_MW_SUPPORT_URL"},
            id="every-missing-credential",
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
        pytest.param(
            {**GOOD, "SAASUS_BASE_URL": "https://saasus.例え.jp/v1"},
            1,
            {"SAASUS_BASE_URL"},
            set(),
            id="base-url-not-ascii",
        ),
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
            {"SAASUS_MW_COOKIE_SECURE", "SAASUS_MW_COOKIE_SAMESITE", "SAASUS_MW_SUPPORT_URL"},
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
        pytest.param(  # refused: never matched under WSGI, and it stands in Location headers (latin-1)
            {**GOOD, "SAASUS_MW_CALLBACK_PATH": "/café"}, 1, {"SAASUS_MW_CALLBACK_PATH"}, set(), id="path-non-ascii"
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
        assert set(finding) == {"level", "message", "variable", "section"}
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
    assert any(line.startswith("warning  SAASUS_MW_SUPPORT_URL is not set") for line in lines)
    assert lines[-1] == "FAILED: 2 error(s), 2 warning(s)"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["nonsense"], ["check", "--bogus"]):
        with pytest.raises(SystemExit) as raised:
            cli.main(argv)
        assert raised.value.code == 2
    capsys.readouterr()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param(
            "SAASUS_MW_CALBACK_PATH",
            "SAASUS_MW_CALBACK_PATH is set, but saasus_mw has no such setting, so it changes nothing - "
            "did you mean SAASUS_MW_CALLBACK_PATH?",
            id="typo",
        ),
        pytest.param("SAASUS_MW_SUCCES_URL", "did you mean SAASUS_MW_SUCCESS_URL?", id="typo-2"),
        pytest.param("saasus_mw_locale", "did you mean SAASUS_MW_LOCALE? (names are case-sensitive)", id="lower-case"),
        pytest.param("SAASUS_MW_QUANTUM", "see the configuration table in the README", id="nothing-close"),
    ],
)
def test_unknown_variables_are_named_with_their_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    code, report = run(monkeypatch, capsys, {**GOOD, name: "/x"})
    (finding,) = not_info(report)
    assert (code, finding["level"], finding["variable"]) == (0, "warning", name)
    assert message in finding["message"]


def test_variables_read_elsewhere_are_known(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from saasus_mw.entry import APP_VAR

    _, report = run(monkeypatch, capsys, {**GOOD, APP_VAR: "myapp:app", CONFIG_FILE_VAR: ""})
    assert not_info(report) == []


@pytest.mark.parametrize(
    ("base_url", "fixed"),
    [
        pytest.param("https://api.saasus.io", "https://api.saasus.io/v1", id="no-path"),
        pytest.param("https://api.saasus.io/", "https://api.saasus.io/v1", id="slash"),
        pytest.param("https://api.saasus.io/v2", "https://api.saasus.io/v1", id="other-version"),
        pytest.param("https://user:pw@proxy.example.com/saasus", "https://proxy.example.com/saasus/v1", id="userinfo"),
    ],
)
def test_a_base_url_without_v1_is_named_with_its_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], base_url: str, fixed: str
) -> None:
    code, report = run(monkeypatch, capsys, {**GOOD, "SAASUS_BASE_URL": base_url})
    (finding,) = not_info(report)
    assert (code, finding["level"], finding["variable"]) == (0, "warning", "SAASUS_BASE_URL")
    assert "without /v1 at the end" in finding["message"] and f"write SAASUS_BASE_URL={fixed} " in finding["message"]
    assert "pw" not in finding["message"]


def test_support_url_is_asked_for(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    without = {k: v for k, v in GOOD.items() if k != "SAASUS_MW_SUPPORT_URL"}
    code, report = run(monkeypatch, capsys, without)
    (finding,) = not_info(report)
    assert (code, finding["level"], finding["variable"]) == (0, "warning", "SAASUS_MW_SUPPORT_URL")
    assert "listing review requires a way to contact support" in finding["message"]
    assert "SAASUS_MW_SUPPORT_URL=mailto:support@example.com" in finding["message"]
    code, report = run(monkeypatch, capsys, {**without, "SAASUS_MW_SUPPORT_URL": "http://example.com/help"})
    assert (code, levels(report)["error"], levels(report)["warning"]) == (1, {"SAASUS_MW_SUPPORT_URL"}, set())


def test_every_problem_is_reported_once_in_the_same_words_as_the_middleware(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from saasus_mw import ConfigError, MarketplaceWSGIMiddleware

    env = {
        **GOOD,
        "SAASUS_MW_STATE_TTL": "0",
        "SAASUS_MW_SUPPORT_URL": "javascript:alert(1)",
        "SAASUS_MW_COOKIE_SAMESITE": "none",
        "SAASUS_MW_COOKIE_SECURE": "false",
    }
    _, report = run(monkeypatch, capsys, env)
    errors = [f["message"] for f in report["findings"] if f["level"] == "error"]
    with pytest.raises(ConfigError) as raised:
        MarketplaceWSGIMiddleware(lambda environ, start_response: [])
    assert [str(p) for p in raised.value.problems] == errors and len(errors) == 3


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
    accepted, clock = (f for f in report["findings"] if f["section"] == "connection")
    assert "accepted the signed call" in accepted["message"] and "within a second of" in clock["message"]
    (callback,) = (f for f in report["findings"] if f["variable"] == "SAASUS_MW_CALLBACK_PATH")
    assert callback["section"] == "listing"
    assert (code, callback["level"], callback["variable"]) == (int(level == "error"), level, "SAASUS_MW_CALLBACK_PATH")
    assert text in callback["message"]
    assert standin.calls[0].endpoint == "auth_info" and {call.method for call in standin.calls} == {"GET"}


def test_online_puts_the_fix_for_a_missing_v1_in_its_own_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, standin: SaaSusStandIn
) -> None:
    for name, value in {**GOOD, "SAASUS_BASE_URL": standin.url, "SAASUS_MW_TIMEOUT": "2"}.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["check", "--online"]) == 1
    out, err = capsys.readouterr()
    assert (
        f"answered HTTP 404 (not_found): SAASUS_BASE_URL lacks /v1 at the end - write SAASUS_BASE_URL={standin.url}/v1"
        in out
    )
    assert err == ""  # no stray log line after the report: the line above says it all


LISTING = ("notice", "self sign-up", "callback", "marketplace settings", "listing status", "visibility", "support")


def listing(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The listing readiness section, which says these, in this order."""
    found = [f for f in report["findings"] if f["section"] == "listing"]
    assert len(found) == len(LISTING), found
    return dict(zip(LISTING, found, strict=True))


def test_listing_readiness_when_ready(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], standin: SaaSusStandIn
) -> None:
    code, report = run(monkeypatch, capsys, online_env(standin), "--online", "--strict")
    assert code == 0, report
    section = listing(report)
    assert all(f["level"] == "info" for f in section.values()), section
    notice = section["notice"]["message"]
    assert "SaaSus suspended new listings through its AWS Marketplace integration" in notice
    assert "AWS states that existing integrations continue unchanged" in notice
    assert "self sign-up is enabled" in section["self sign-up"]["message"]
    assert "product code standin0product0code0001" in section["marketplace settings"]["message"]
    assert "standin-external-id" not in json.dumps(report)  # a shared secret: never shown
    assert "the listing status is limited: Only" in section["listing status"]["message"].replace(
        "Limited: only", "Only"
    )
    assert "integration test" in section["listing status"]["message"]
    assert "on AWS Marketplace the product is Limited" in section["visibility"]["message"]
    assert "mailto:support@example.com" in section["support"]["message"]
    endpoints = [c.endpoint for c in standin.calls]
    assert endpoints[0] == "auth_info" and sorted(endpoints[1:]) == sorted(
        ["sign_in_settings", "marketplace_settings", "listing_status", "visibility"]
    )
    assert {c.method for c in standin.calls} == {"GET"}  # read-only


@pytest.mark.parametrize(
    ("listing_changes", "fault", "key", "text"),
    [
        pytest.param({"self_sign_up": False}, None, "self sign-up", "enable self sign-up", id="no-self-sign-up"),
        pytest.param(
            {"product_code": ""}, None, "marketplace settings", "no AWS Marketplace product code", id="no-product"
        ),
        pytest.param({"listing_status": "no_listing"}, None, "listing status", "start the listing", id="no-listing"),
        pytest.param(
            {},
            ("listing_status", 500),
            "listing status",
            "could not tell the listing status (HTTP 500, injected_fault): try again later",
            id="saasus-fails",
        ),
        pytest.param(
            {},
            ("visibility", 403),
            "visibility",
            "refused to tell the product's visibility on AWS Marketplace (HTTP 403, injected_fault): give the API key",
            id="not-allowed",
        ),
        pytest.param(
            {},
            ("sign_in_settings", 200),
            "self sign-up",
            "answered about whether self sign-up is enabled, but not as its API spec describes",
            id="not-the-spec",
        ),
    ],
)
def test_listing_readiness_says_what_is_missing_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    standin: SaaSusStandIn,
    listing_changes: dict[str, Any],
    fault: tuple[str, int] | None,
    key: str,
    text: str,
) -> None:
    monkeypatch.setattr(standin, "listing", dataclasses.replace(standin.listing, **listing_changes))
    if fault:
        standin.inject(fault[0], status=fault[1], body='{"unexpected": true}' if fault[1] == 200 else None)
    code, report = run(monkeypatch, capsys, online_env(standin, SAASUS_MW_CALLBACK_PATH="/callback"), "--online")
    section = listing(report)
    assert (code, section[key]["level"]) == (0, "warning")
    assert text in section[key]["message"], section[key]["message"]
    others = [f for k, f in section.items() if k not in (key, "callback")]
    assert [f for f in others if f["level"] != "info"] == []  # one answer missing or wrong, the others still reported


@pytest.mark.parametrize("status", ["first_step_working", "second_step_plan_created", "restricted", "public"])
def test_every_listing_status_is_explained(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], standin: SaaSusStandIn, status: str
) -> None:
    monkeypatch.setattr(standin, "listing", dataclasses.replace(standin.listing, listing_status=status))
    _, report = run(monkeypatch, capsys, online_env(standin), "--online")
    message = listing(report)["listing status"]["message"]
    assert message == f"the listing status is {status}: {check.LISTING_STATUSES[status]}"


def test_every_status_of_the_spec_has_a_meaning() -> None:
    yaml = pytest.importorskip("yaml")  # openapi-core's own: not in make test-lowest's venv

    spec = yaml.safe_load((ROOT / "tests" / "openapi" / "awsmarketplaceapi.yml").read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    assert list(check.LISTING_STATUSES) == schemas["ListingStatus"]["enum"]
    assert set(check.VISIBILITIES) == set(schemas["VisibilityStatus"]["enum"])


def test_listing_readiness_in_the_human_report(standin: SaaSusStandIn) -> None:
    env = {"PATH": "/usr/bin:/bin", **online_env(standin)}
    done = subprocess.run(
        [sys.executable, "-m", "saasus_mw.cli", "check", "--online"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and done.stderr == "", done.stderr
    heading = lines.index("-- listing readiness (--online) --")
    assert lines.index("-- SaaSus connection (--online) --") < heading
    assert lines[heading + 1].startswith("info     On 2026-06-23 SaaSus suspended new listings")


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
    log: Any  # everything it printed so far: read with output()

    def output(self) -> str:
        return _read(self.log).decode()


@contextlib.contextmanager
def running_demo(**env: str) -> Iterator[Demo]:
    """``python -m saasus_mw.cli demo`` running on free ports with ``env``, until the block ends."""
    app_port, saasus_port = free_port(), free_port()
    command = [sys.executable, "-m", "saasus_mw.cli", "demo", "--app-port", str(app_port)]
    command += ["--saasus-port", str(saasus_port)]
    with serving(command, {"PATH": "/usr/bin:/bin", **env}, app_port) as log:
        deadline = time.monotonic() + 10
        while not (match := re.search(rb"http://localhost:\d+/login\?\S+", _read(log))):
            assert time.monotonic() < deadline, _read(log)
            time.sleep(0.05)
        yield Demo(f"http://127.0.0.1:{app_port}", match.group().decode(), log)


@pytest.fixture
def demo() -> Iterator[Demo]:
    with running_demo() as running:
        yield running


def buy(demo: Demo, email: str, tenant: str | None = None, new_name: str = "") -> tuple[httpx.Response, httpx.Response]:
    """The buyer's journey in the demo: (the picker, the page after choosing ``tenant`` or a new account)."""
    with httpx.Client(timeout=10, follow_redirects=True) as browser:
        picker = browser.get(demo.login + "&email=" + email.replace("@", "%40"))
        form = parse_picker(picker.text)
        chosen = next((tenant_id for tenant_id, name in form.options if name == tenant), "")
        data = {"csrf_token": form.inputs["csrf_token"], "tenant_id": chosen}
        if new_name:
            data["new_tenant_name"] = new_name
        return picker, browser.post(picker.url, data=data)


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


def test_demo_shows_the_step_logs_and_one_host_name_per_site(demo: Demo) -> None:
    _, done = buy(demo, "buyer@example.com", "Globex Japan")
    assert done.status_code == 200 and "purchase went to <strong>Globex Japan</strong>" in done.text
    deadline = time.monotonic() + 5
    while "saasus_mw: link" not in demo.output():
        assert time.monotonic() < deadline, demo.output()
        time.sleep(0.05)
    lines = demo.output().splitlines()
    steps = [line for line in lines if " saasus_mw: " in line]
    assert [line.split(" saasus_mw: ")[1].split("  ")[0] for line in steps] == ["start ok", "picker ok", "link linked"]
    link = steps[-1]
    assert all(f" {field}=" in link for field in ("step", "status", "duration_ms", "journey", "tenant_id")), link
    assert "step=link status=303" in link and "registration_token" not in demo.output()
    # The stand-in is always localhost (another site, as SaaSus is), the product always 127.0.0.1.
    saasus_port = urlsplit(demo.login).port
    app_port = urlsplit(demo.product).port
    urls = re.findall(r"https?://[^\s/]+", demo.output() + unquote(demo.login))
    hosts: dict[int | None, set[str | None]] = {}
    for url in urls:
        hosts.setdefault(urlsplit(url).port, set()).add(urlsplit(url).hostname)
    assert hosts == {saasus_port: {"localhost"}, app_port: {"127.0.0.1"}}


def test_demo_reads_the_environment() -> None:
    env = {
        "SAASUS_MW_LOCALE": "ja",
        "SAASUS_MW_PRODUCT_NAME": "Acme Cloud",
        "SAASUS_MW_ALLOW_NEW_TENANT": "false",
        "SAASUS_MW_CALLBACK_PATH": "/auth/callback",
        "SAASUS_MW_STATE_TTL": "60",
    }
    with running_demo(**env) as demo:
        assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in demo.login and "%2Fauth%2Fcallback" in demo.login
        picker, done = buy(demo, "buyer@example.com", "Acme Corporation")
        assert picker.status_code == 200 and 'lang="ja"' in picker.text and "Acme Cloud" in picker.text
        assert 'id="t-new"' not in picker.text  # the environment said no new accounts
        # The state lives 60 s; the browser keeps its cookie a day longer, to say "expired".
        assert f"Max-Age={60 + EXPIRED_GRACE}" in " ".join(r.headers.get("set-cookie", "") for r in picker.history)
        assert done.url.path == "/" and "<h1>Acme Cloud</h1>" in done.text  # signed in through /auth/callback
        assert "(Acme Cloud)" in demo.output()


def test_demo_with_a_broken_environment_says_what_is_wrong() -> None:
    ports = ["--app-port", str(free_port()), "--saasus-port", str(free_port())]
    done = subprocess.run(
        [sys.executable, "-m", "saasus_mw.cli", "demo", *ports],
        env={"PATH": "/usr/bin:/bin", "SAASUS_MW_STATE_TTL": "soon", "SAASUS_MW_LOCALE": "fr"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "SAASUS_MW_STATE_TTL" in done.stderr and "SAASUS_MW_LOCALE" in done.stderr  # both at once


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
