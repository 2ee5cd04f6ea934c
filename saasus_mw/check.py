"""``saasus-mw check``: every problem with a deployment's configuration, at once.

It reads the configuration exactly as the middleware would (keyword arguments
aside: the environment, then the TOML file named by ``SAASUS_MW_CONFIG``), runs
the middleware's own rules, adds what suits a local test but not production,
and with ``online`` makes one signed, read-only call to SaaSus.
"""

from __future__ import annotations

import dataclasses
import email.utils
import re
import time
import warnings
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import urllib3

from .redact import without_userinfo
from .saasus import ErrorKind, SaaSus, SaaSusError
from .settings import CONFIG_FILE_VAR, FIELDS, KEY_HINT, ConfigError, Settings, _read_toml, parse_fields

__all__ = ["Finding", "check"]

Level = Literal["error", "warning", "info"]

# Below this a key is guessable in principle; 32 random URL-safe characters carry ~190 bits.
_STRONG_KEY_LENGTH = 32
_MIN_DISTINCT_CHARACTERS = 10
_VARIABLES = {CONFIG_FILE_VAR, *(field.env for field in FIELDS.values())}
_REQUIRED = ("saasus_saas_id", "saasus_api_key", "saasus_secret_key")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# SAASUSSIGV1 signs the minute, and SaaSus accepts about one minute either side.
_CLOCK_LIMIT = 60
_CLOCK_WARNING = 30


@dataclasses.dataclass(frozen=True)
class Finding:
    level: Level
    message: str  # never contains a secret value
    variable: str | None = None  # the setting to change, when there is one


def check(environ: Mapping[str, str], *, online: bool = False) -> list[Finding]:
    """Every problem with the configuration in ``environ``; ``online`` adds one signed SaaSus call."""
    settings, values, findings = _load(environ)
    findings += _secret_key_findings(values) + _path_findings(values) + _transport_findings(values)
    findings += _fingerprint_findings(settings)
    if values.get("enabled") is False:
        message = "SAASUS_MW_ENABLED is false: everything passes through, nothing is linked"
        findings.append(Finding("warning", message, "SAASUS_MW_ENABLED"))
    if online:
        if settings is None:
            findings.append(Finding("error", "--online: not attempted until the errors above are fixed"))
        elif not settings.saasus_saas_id:  # disabled and without credentials: nothing to prove
            findings.append(Finding("warning", "--online: skipped, no SaaSus credentials are configured"))
        else:
            findings += _online_findings(settings)
    return findings


def _load(environ: Mapping[str, str]) -> tuple[Settings | None, dict[str, Any], list[Finding]]:
    """Parse every field on its own (Settings.load stops at the first problem), then load as the middleware does."""
    values, problems = parse_fields(environ)
    reported = {str(p) for p in problems}
    findings = [Finding("error", str(p), _variable_in(str(p))) for p in problems]
    # The rules across fields live in Settings.load alone: ask it, so that
    # check and middleware can never disagree. Its warnings become findings.
    # Fields already reported are stood in for, so the other rules still speak.
    environ, overrides = (environ, {}) if not problems else _without_problems(environ, values)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            settings: Settings | None = Settings.load(environ, **overrides)
        except ConfigError as exc:
            settings = None
            if str(exc) not in reported:
                findings.append(Finding("error", str(exc), _variable_in(str(exc))))
    findings += [Finding("warning", str(w.message), _variable_in(str(w.message))) for w in caught]
    return (None if problems else settings), values, findings


def _without_problems(environ: Mapping[str, str], values: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """The environment and keyword arguments for Settings.load with every reported problem stood in for.

    The TOML file's known keys become keyword arguments (so a typo in it is not
    raised again), unless the environment sets them; broken fields take their defaults.
    """
    try:
        file_values = _read_toml(environ.get(CONFIG_FILE_VAR, ""))
    except ConfigError:
        file_values = {}
    overrides = {k: v for k, v in file_values.items() if k in FIELDS and FIELDS[k].env not in environ}
    for name, field in FIELDS.items():
        if name not in values:
            overrides[name] = field.default
    for name in _REQUIRED:  # str() of an empty SecretStr is "" too
        if not str(overrides.get(name) or values.get(name) or ""):
            overrides[name] = "stand-in"
    return {k: v for k, v in environ.items() if k != CONFIG_FILE_VAR}, overrides


def _secret_key_findings(values: Mapping[str, Any]) -> list[Finding]:
    if "secret_key" not in values:
        return []
    findings: list[Finding] = []
    keys = [("SAASUS_MW_SECRET_KEY", "SAASUS_MW_SECRET_KEY", values["secret_key"])]
    for number, fallback in enumerate(values.get("secret_key_fallbacks", ()), 1):
        keys.append(("SAASUS_MW_SECRET_KEY_FALLBACKS", f"SAASUS_MW_SECRET_KEY_FALLBACKS (key {number})", fallback))
    for variable, label, secret in keys:
        key = secret.get_secret_value()
        if not key:
            message = f"{variable} is not set: the cookie key is derived from SAASUS_SECRET_KEY"
            findings.append(Finding("info", message, variable))
        elif len(key) < _STRONG_KEY_LENGTH:
            message = f"{label} has {len(key)} characters; use at least {_STRONG_KEY_LENGTH} random ones - {KEY_HINT}"
            findings.append(Finding("warning", message, variable))
        elif len(set(key)) < _MIN_DISTINCT_CHARACTERS or _is_repetition(key):
            message = f"{label} has little variety (typed or repeated, not random) - {KEY_HINT}"
            findings.append(Finding("warning", message, variable))
    return findings


def _fingerprint_findings(settings: Settings | None) -> list[Finding]:
    """Which keys seal and open states, by fingerprint (never the keys): every worker must print the same."""
    if settings is None or not settings.enabled:
        return []
    from .state import key_fingerprint  # noqa: PLC0415 - loads the cipher

    (label, key), *older = settings.state_keys
    findings = [Finding("info", f"state key {key_fingerprint(key)}: {label}, seals new states")]
    findings += [Finding("info", f"state key {key_fingerprint(key)}: {label}") for label, key in older]
    if any(fallback.get_secret_value() == key for fallback in settings.secret_key_fallbacks):
        message = "SAASUS_MW_SECRET_KEY_FALLBACKS lists the current SAASUS_MW_SECRET_KEY: list only older keys"
        findings.append(Finding("warning", message, "SAASUS_MW_SECRET_KEY_FALLBACKS"))
    return findings


def _is_repetition(text: str) -> bool:
    """True for "abcabcabc…": a string that is its own rotation is a repeated unit."""
    return text in (text + text)[1:-1]


def _path_findings(values: Mapping[str, Any]) -> list[Finding]:
    if "callback_path" not in values:
        return []
    path: str = values["callback_path"]
    variable = "SAASUS_MW_CALLBACK_PATH"
    findings: list[Finding] = []
    if path == "/":
        message = f"{variable} is /: the site's home page doubles as the SaaSus callback"
        findings.append(Finding("warning", message, variable))
    if "%" in path:
        message = f"{variable} contains %: servers compare the decoded path, so write it decoded"
        findings.append(Finding("warning", message, variable))
    if "//" in path or any(segment in (".", "..") for segment in path.split("/")):
        message = f"{variable} is not normalised (// or . or ..): servers and proxies may rewrite it before it arrives"
        findings.append(Finding("warning", message, variable))
    success = values.get("success_url", "")
    success_path = re.sub(r"^https?://[^/]*", "", success).split("?")[0].split("#")[0]
    if success_path == path:
        message = f"SAASUS_MW_SUCCESS_URL leads back to {variable}: after linking the buyer lands on the callback again"
        findings.append(Finding("warning", message, "SAASUS_MW_SUCCESS_URL"))
    return findings


def _transport_findings(values: Mapping[str, Any]) -> list[Finding]:
    """Settings that are right for a local test and wrong in production."""
    findings: list[Finding] = []
    # With an https success (or sign-in) URL Settings.load already warns about an insecure cookie: once is enough.
    https = any(str(values.get(name, "")).startswith("https://") for name in ("success_url", "signin_url"))
    if values.get("cookie_secure") is False and not https:
        message = (
            "SAASUS_MW_COOKIE_SECURE is false: browsers also send the state cookie, which holds the buyer's "
            "access and ID tokens, over plain http; write true (the default) anywhere but a local test"
        )
        findings.append(Finding("warning", message, "SAASUS_MW_COOKIE_SECURE"))
    if values.get("cookie_samesite") == "None":
        message = (
            "SAASUS_MW_COOKIE_SAMESITE is none: browsers send the state cookie along with requests from any "
            "site; write lax (the default), which is all the redirect from the SaaSus login needs"
        )
        findings.append(Finding("warning", message, "SAASUS_MW_COOKIE_SAMESITE"))
    base_url: str = values.get("saasus_base_url", "")
    if base_url.startswith("http://") and urlsplit(base_url).hostname not in _LOOPBACK:
        message = (
            f"SAASUS_BASE_URL is {without_userinfo(base_url)}, plain http: the signed calls and the buyers' tokens "
            f"would travel unencrypted; the SaaSus API is {FIELDS['saasus_base_url'].default}"
        )
        findings.append(Finding("warning", message, "SAASUS_BASE_URL"))
    return findings


def _online_findings(settings: Settings) -> list[Finding]:
    """One signed, read-only call, ``GET /auth/auth-info``.

    A 200 proves the SaaS ID, API key, secret and this machine's clock; its
    ``callback_url`` is where SaaSus really sends buyers after they sign in.
    """
    saasus = SaaSus(settings)
    sent = time.time()
    try:
        info = saasus.auth_info()
    except SaaSusError as exc:
        return [_diagnose(exc, settings)]
    finally:
        saasus.close()
    skew = None if info.server_time is None else info.server_time - (sent + time.time()) / 2
    where = without_userinfo(settings.saasus_base_url)
    message = (
        f"SaaSus at {where} accepted the signed call: SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY are right"
    )
    return [Finding("info", message), _clock_finding(skew), _callback_finding(info.callback_url, settings)]


def _clock_finding(skew: float | None) -> Finding:
    """How far this machine's clock is from SaaSus's (its Date header): SAASUSSIGV1 signs the minute."""
    if skew is None:
        return Finding("info", "SaaSus sent no Date header: the clock difference is not known")
    if abs(skew) < _CLOCK_WARNING:
        return Finding("info", f"this machine's clock is {_clock_text(skew)} SaaSus's: fine")
    message = (
        f"this machine's clock is {_clock_text(skew)} SaaSus's, and signed calls are refused from about "
        f"{_CLOCK_LIMIT} s: synchronise it (NTP) before it drifts further"
    )
    return Finding("warning", message)


def _clock_text(skew: float) -> str:
    seconds = round(abs(skew))
    if seconds < 2:
        return "within a second of"
    # The Date header counts whole seconds: minutes are as precise as it gets above two.
    amount = f"about {round(seconds / 60)} min" if seconds >= 120 else f"{seconds} s"
    return f"{amount} {'behind' if skew > 0 else 'ahead of'}"


def _callback_finding(registered: str, settings: Settings) -> Finding:
    """Whether SaaSus's registered callback URL reaches the middleware's callback path."""
    path, variable = settings.callback_path, "SAASUS_MW_CALLBACK_PATH"
    signin_url: str = getattr(settings, "signin_url", "")  # SPA + API mode, where the setting exists
    spa = (
        f" SAASUS_MW_SIGNIN_URL is set (SPA + API mode): the URL registered in the SaaSus console must still be "
        f"the API's callback URL, whose path is {path} and where the middleware runs, not the SPA's page "
        f"{signin_url}."
        if signin_url
        else ""
    )
    # Servers compare the decoded path, so compare that; the query SaaSus keeps and the middleware ignores.
    parts = urlsplit(registered)
    registered_path = unquote(parts.path) or "/"
    if not registered.startswith(("https://", "http://")):
        message = (
            f"SaaSus has no usable callback URL registered ({registered!r}): register this app's callback URL, "
            f"whose path is {variable} ({path}), in the SaaSus console.{spa}"
        )
        return Finding("error", message, variable)
    if registered_path == path:
        return Finding("info", f"SaaSus sends buyers to {registered}: its path is {variable} ({path}).{spa}", variable)
    if path != "/" and registered_path.endswith(path):
        # A mount prefix, or a mismatch: only the server's configuration knows.
        prefix = registered_path[: -len(path)]
        message = (
            f"SaaSus sends buyers to {registered}: that reaches {variable} ({path}) only if this app is mounted "
            f"under {prefix} (root_path / SCRIPT_NAME); if it is not, the middleware would never see a buyer: "
            f"set {variable}={registered_path}.{spa}"
        )
        return Finding("warning", message, variable)
    suggested = parts._replace(path=path, query="", fragment="").geturl()
    instead = (
        f"register the API's callback URL (path {path}) in the SaaSus console."
        if signin_url
        else f"register {suggested} in the SaaSus console, or set {variable}={registered_path}."
    )
    message = (
        f"SaaSus sends buyers to {registered} (the callback URL registered in the SaaSus console), but "
        f"{variable} is {path}: the middleware would never see a buyer. To fix, {instead}{spa}"
    )
    return Finding("error", message, variable)


def _saasus_clock(settings: Settings) -> float | None:
    """How far SaaSus's clock is ahead of ours, from the Date of an unsigned (so refused) request."""
    pool = urllib3.PoolManager(timeout=settings.timeout, retries=False)
    try:
        sent = time.time()
        response = pool.request("GET", settings.saasus_base_url + "/auth/auth-info")
        received = time.time()
        return email.utils.parsedate_to_datetime(response.headers.get("Date", "")).timestamp() - (sent + received) / 2
    except (urllib3.exceptions.HTTPError, TypeError, ValueError):
        return None
    finally:
        pool.clear()


def _diagnose(exc: SaaSusError, settings: Settings) -> Finding:
    where = without_userinfo(settings.saasus_base_url)
    if exc.kind is ErrorKind.DENIED:  # auth-info takes no token: only the signature can be refused
        skew = _saasus_clock(settings)
        if skew is not None and abs(skew) >= _CLOCK_LIMIT:
            message = (
                f"SaaSus at {where} refused the signature: this machine's clock is {_clock_text(skew)} SaaSus's, "
                f"and SAASUSSIGV1 tolerates about a minute: synchronise the clock (NTP)"
            )
            return Finding("error", message)
        clock = "" if skew is None else f" (this machine's clock is {_clock_text(skew)} SaaSus's)"
        message = (
            f"SaaSus at {where} refused the signature: check SAASUS_SAAS_ID, SAASUS_API_KEY and "
            f"SAASUS_SECRET_KEY against the SaaSus console{clock}"
        )
        return Finding("error", message, "SAASUS_SECRET_KEY")
    if exc.kind is ErrorKind.TIMEOUT:
        message = f"SaaSus at {where} did not answer within SAASUS_MW_TIMEOUT ({settings.timeout:g}s)"
        return Finding("error", message, "SAASUS_BASE_URL")
    if exc.kind is ErrorKind.UNREACHABLE:
        return Finding("error", f"cannot reach SaaSus at {where}: is SAASUS_BASE_URL right?", "SAASUS_BASE_URL")
    if exc.kind is ErrorKind.BAD_RESPONSE:
        message = f"{where}/auth/auth-info answered, but not as the SaaSus API does: is SAASUS_BASE_URL the SaaSus API?"
        return Finding("error", message, "SAASUS_BASE_URL")
    hint = "is SAASUS_BASE_URL the SaaSus API?" if exc.status == 404 else "cannot tell whether the keys are right"
    message = f"SaaSus at {where} answered HTTP {exc.status or '-'} ({exc.error_type or exc.kind.value}): {hint}"
    return Finding("error", message, "SAASUS_BASE_URL")


def _variable_in(message: str) -> str | None:
    """The first setting a Settings.load message names (they all start with it)."""
    return next((word for word in re.findall(r"[A-Z][A-Z0-9_]+", message) if word in _VARIABLES), None)
