"""``saasus-mw check``: every problem with a deployment's configuration, at once.

It reads the configuration exactly as the middleware would (keyword arguments
aside: the environment, then the TOML file named by ``SAASUS_MW_CONFIG``), runs
the middleware's own rules, adds what suits a local test but not production
(and typos in variable names), and with ``online`` makes signed, read-only calls
to SaaSus: the connection (keys, clock), then the listing readiness - what the
SaaSus API tells about the listing review's criteria and the integration test.
Every line says what to do; nothing else is printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import email.utils
import logging
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import urllib3

from .redact import without_userinfo
from .saasus import ErrorKind, SaaSus, SaaSusError
from .settings import CONFIG_FILE_VAR, FIELDS, KEY_HINT, ConfigError, Settings, cautions, parse_fields

__all__ = ["Finding", "check"]

Level = Literal["error", "warning", "info"]

# Below this a key is guessable in principle; 32 random URL-safe characters carry ~190 bits.
_STRONG_KEY_LENGTH = 32
_MIN_DISTINCT_CHARACTERS = 10
_VARIABLES = {CONFIG_FILE_VAR, *(field.env for field in FIELDS.values())}
_OTHER_VARIABLES = {"SAASUS_MW_APP"}  # entry.APP_VAR: read by the zero-code entry points, not by Settings
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# SAASUSSIGV1 signs the minute, and SaaSus accepts about one minute either side.
_CLOCK_LIMIT = 60
_CLOCK_WARNING = 30


@dataclasses.dataclass(frozen=True)
class Finding:
    level: Level
    message: str  # never contains a secret value
    variable: str | None = None  # the setting to change, when there is one
    section: str = "configuration"  # or "connection" (--online), "listing" (--online: listing readiness)


def check(environ: Mapping[str, str], *, online: bool = False) -> list[Finding]:
    """Every problem with the configuration in ``environ``; ``online`` adds signed, read-only SaaSus calls:
    the connection (keys, clock) and the listing readiness (what SaaSus knows of the listing)."""
    settings, values, findings = _load(environ)
    findings += _unknown_variable_findings(environ)
    findings += _secret_key_findings(values) + _path_findings(values) + _transport_findings(values)
    findings += _fingerprint_findings(settings)
    findings += _base_url_findings(values)
    support = _support_finding(values)
    if values.get("enabled") is False:
        message = "SAASUS_MW_ENABLED is false: everything passes through, nothing is linked"
        findings.append(Finding("warning", message, "SAASUS_MW_ENABLED"))
    if online:
        if settings is None:
            findings.append(Finding("error", "--online: not attempted until the errors above are fixed"))
        elif not settings.saasus_saas_id:  # disabled and without credentials: nothing to prove
            findings.append(Finding("warning", "--online: skipped, no SaaSus credentials are configured"))
        else:
            # The support URL is one of the listing's criteria: reported there.
            return findings + _online_findings(settings, support)
    if support is not None and support.level != "info":
        findings.append(dataclasses.replace(support, section="configuration"))
    return findings


def _load(environ: Mapping[str, str]) -> tuple[Settings | None, dict[str, Any], list[Finding]]:
    """Every problem and caution the middleware's own rules find (settings.parse_fields and cautions), then
    Settings.load itself, for whatever rule only it applies: check and middleware can never disagree."""
    values, problems = parse_fields(environ)
    findings = [Finding("error", str(p), _variable_in(str(p))) for p in problems]
    cautions_ = cautions(values)
    findings += [Finding("warning", c, _variable_in(c)) for c in cautions_]
    if problems:
        return None, values, findings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            settings: Settings | None = Settings.load(environ)
        except ConfigError as exc:
            settings = None
            findings += [Finding("error", str(p), _variable_in(str(p))) for p in exc.problems]
    findings += [Finding("warning", m, _variable_in(m)) for w in caught if (m := str(w.message)) not in cautions_]
    return settings, values, findings


def _unknown_variable_findings(environ: Mapping[str, str]) -> list[Finding]:
    """``SAASUS_MW_*`` variables that are no setting: a typo leaves the setting it meant at its default."""
    prefix = "SAASUS_MW_"
    known = sorted(_VARIABLES | _OTHER_VARIABLES)
    # The names after the prefix are compared: the shared prefix would make any two names look alike.
    suffixes = [name[len(prefix) :] for name in known if name.startswith(prefix)]
    findings: list[Finding] = []
    for name in sorted(n for n in environ if n.upper().startswith(prefix) and n not in known):
        close = difflib.get_close_matches(name[len(prefix) :].upper(), suffixes, n=1)
        if close:
            meant = prefix + close[0]
            case = " (names are case-sensitive)" if meant == name.upper() else ""
            hint = f"did you mean {meant}?{case}"
        else:
            hint = "see the configuration table in the README for the names"
        message = f"{name} is set, but saasus_mw has no such setting, so it changes nothing - {hint}"
        findings.append(Finding("warning", message, name))
    return findings


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


def _base_url_findings(values: Mapping[str, Any]) -> list[Finding]:
    """A base URL without the API's version: every call would answer 404 (the README names that mistake)."""
    base_url: str = values.get("saasus_base_url", "")
    fixed = _with_v1(base_url)
    if fixed is None:
        return []
    message = (
        f"SAASUS_BASE_URL is {without_userinfo(base_url)}, without /v1 at the end: the SaaSus API's paths start "
        f"there, so every call would answer 404 - write SAASUS_BASE_URL={fixed} "
        f"(the SaaSus API is {FIELDS['saasus_base_url'].default})"
    )
    return [Finding("warning", message, "SAASUS_BASE_URL")]


def _with_v1(base_url: str) -> str | None:
    """The base URL as it should be, ending in /v1; None when it does (or is unset)."""
    if not base_url or urlsplit(base_url).path.endswith("/v1"):
        return None
    return without_userinfo(re.sub(r"/v\d+$", "", base_url) + "/v1")


def _support_finding(values: Mapping[str, Any]) -> Finding | None:
    """Whether buyers have a way to reach support: SaaSus's listing review requires one."""
    variable = "SAASUS_MW_SUPPORT_URL"
    url = values.get("support_url")
    if url is None or values.get("enabled") is False:  # malformed (an error above), or no page is shown
        return None
    if url:
        return Finding("info", f"{variable} is {url}: the pages point buyers there", variable, "listing")
    message = (
        f"{variable} is not set: the listing review requires a way to contact support, and a buyer whose purchase "
        f"cannot be completed has nowhere to turn - set an https URL or a mailto: address, such as "
        f"{variable}=mailto:support@example.com"
    )
    return Finding("warning", message, variable, "listing")


def _online_findings(settings: Settings, support: Finding | None) -> list[Finding]:
    """Signed, read-only calls: ``GET /auth/auth-info`` first, then the listing readiness, all at once.

    A 200 from auth-info proves the SaaS ID, API key, secret and this machine's
    clock; its ``callback_url`` is where SaaSus really sends buyers after they sign in.
    """
    saasus = SaaSus(settings)
    sent = time.time()
    try:
        with _reported_here():
            try:
                info = saasus.auth_info()
            except SaaSusError as exc:
                return [dataclasses.replace(_diagnose(exc, settings), section="connection")]
            skew = None if info.server_time is None else info.server_time - (sent + time.time()) / 2
            listing = _listing_findings(saasus, settings, info.callback_url, support)
    finally:
        saasus.close()
    where = without_userinfo(settings.saasus_base_url)
    message = (
        f"SaaSus at {where} accepted the signed call: SAASUS_SAAS_ID, SAASUS_API_KEY and SAASUS_SECRET_KEY are right"
    )
    connection = [Finding("info", message), _clock_finding(skew)]
    return [dataclasses.replace(f, section="connection") for f in connection] + listing


@contextlib.contextmanager
def _reported_here() -> Iterator[None]:
    """Keeps saasus.py's ERROR line for an undocumented answer (meant for a running app's log) out of the
    report: each finding names that answer, and what to do, itself."""
    unexpected = _Unexpected()
    logger = logging.getLogger("saasus_mw.saasus")
    logger.addFilter(unexpected)
    try:
        yield
    finally:
        logger.removeFilter(unexpected)


class _Unexpected(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not hasattr(record, "saasus_mw_saasus_endpoint")


# -- listing readiness (--online) -------------------------------------------------------

LISTING_NOTICE = (
    "On 2026-06-23 SaaSus suspended new listings through its AWS Marketplace integration (AWS's June 2026 "
    "changes for concurrent agreements); AWS states that existing integrations continue unchanged. "
    "What the SaaSus API tells about this SaaS's listing and its integration test follows."
)
_MARKETPLACE_SETTINGS = (
    "product_code",
    "role_arn",
    "role_external_id",
    "sns_topic_arn",
    "cas_bucket_name",
    "cas_sns_topic_arn",
    "seller_sns_topic_arn",
    "redirect_sign_up_page_function_url",
    "sqs_arn",
)
_CONSOLE = "in the SaaSus console (SaaS Development Console, AWS Marketplace)"
_STEP = "step {n} of 3 of the listing in the SaaSus console is {state}: continue there " + _CONSOLE[3:]
# ListingStatus of awsmarketplaceapi.yml: what each means, and what to do.
LISTING_STATUSES = {
    "no_listing": (
        "no buyer can subscribe yet, so the middleware will never see one - start the listing in the SaaSus "
        "console (but see above: SaaSus suspended new listings on 2026-06-23)"
    ),
    "first_step_working": _STEP.format(n=1, state="in progress"),
    "first_step_completed": _STEP.format(n=1, state="done"),
    "second_step_working": _STEP.format(n=2, state="in progress"),
    "second_step_plan_created": _STEP.format(n=2, state="in progress, its plan created"),
    "second_step_completed": _STEP.format(n=2, state="done"),
    "third_step_working": _STEP.format(n=3, state="in progress"),
    "third_step_completed": (
        "the listing's three steps in the SaaSus console are done: AWS reviews the product and makes it Limited, "
        "ready for the integration test"
    ),
    "limited": (
        "Limited: only your own and allow-listed AWS accounts see the product - the integration test: subscribe "
        "with a test account, sign in and link a tenant through this middleware, then ask AWS to make it Public"
    ),
    "restricted": "Restricted: buyers who subscribed keep the product, but no new buyer can subscribe",
    "public": "Public: anyone on AWS Marketplace can subscribe",
}
# VisibilityStatus of awsmarketplaceapi.yml: the product's visibility in the AWS Marketplace catalog.
VISIBILITIES = {
    "Limited": "only your own and allow-listed AWS accounts see it (the state for the integration test)",
    "Restricted": "buyers who subscribed keep it, no new buyer can subscribe",
    "Public": "anyone on AWS Marketplace can find and subscribe to it",
}


def _listing_findings(saasus: SaaSus, settings: Settings, callback_url: str, support: Finding | None) -> list[Finding]:
    """What the SaaSus API can tell about the listing review's criteria and the integration test (read at once)."""
    sign_up, marketplace, status, visibility = saasus.settle(
        lambda: saasus.read("get_sign_in_settings", lambda data: _flag(data["self_regist"]["enable"])),
        lambda: saasus.read("get_settings", lambda data: {k: _text(data[k]) for k in _MARKETPLACE_SETTINGS}),
        lambda: saasus.read("get_listing_status", lambda data: _text(data["listing_status"])),
        lambda: saasus.read("get_catalog_entity_visibility", lambda data: _text(data["visibility"])),
    )
    findings = [
        Finding("info", LISTING_NOTICE),
        _unreadable("whether self sign-up is enabled", sign_up) or _sign_up_finding(sign_up),
        _callback_finding(callback_url, settings),
        _unreadable("its AWS Marketplace settings", marketplace) or _marketplace_finding(marketplace),
        _unreadable("the listing status", status) or _status_finding(status),
        _unreadable("the product's visibility on AWS Marketplace", visibility) or _visibility_finding(visibility),
    ]
    if support is not None:
        findings.append(support)
    return [dataclasses.replace(f, section="listing") for f in findings]


def _sign_up_finding(enabled: bool) -> Finding:
    if enabled:
        return Finding("info", "self sign-up is enabled in SaaSus: a buyer without an account can create one")
    message = (
        "self sign-up is disabled in SaaSus (GET /auth/sign-in-settings: self_regist.enable is false): a buyer "
        "without an account cannot create one after subscribing, which the listing review checks - enable self "
        "sign-up in the SaaSus console's authentication settings"
    )
    return Finding("warning", message)


def _marketplace_finding(values: dict[str, str]) -> Finding:
    # Only the product code is shown: the role's external ID is a shared secret.
    missing = [name for name in _MARKETPLACE_SETTINGS if not values[name].strip()]
    if values["product_code"].strip() and not missing:
        return Finding("info", f"SaaSus holds AWS Marketplace settings for product code {values['product_code']}")
    if not values["product_code"].strip():
        message = (
            "SaaSus has no AWS Marketplace product code (GET /awsmarketplace/settings): this SaaS is connected to "
            f"no AWS Marketplace product, so no purchase can reach it - enter the AWS Marketplace settings {_CONSOLE}"
        )
    else:
        message = (
            f"SaaSus's AWS Marketplace settings for product code {values['product_code']} lack "
            f"{', '.join(missing)} (GET /awsmarketplace/settings) - complete them {_CONSOLE}"
        )
    return Finding("warning", message)


def _status_finding(status: str) -> Finding:
    meaning = LISTING_STATUSES.get(status)
    if meaning is None:
        return Finding("warning", f"the listing status is {status!r}, which the SaaSus API spec does not list")
    return Finding("warning" if status == "no_listing" else "info", f"the listing status is {status}: {meaning}")


def _visibility_finding(visibility: str) -> Finding:
    meaning = VISIBILITIES.get(visibility)
    if meaning is None:
        return Finding(
            "warning", f"AWS Marketplace reports the visibility {visibility!r}, which the spec does not list"
        )
    return Finding("info", f"on AWS Marketplace the product is {visibility}: {meaning}")


def _unreadable(what: str, result: object) -> Finding | None:
    """None for an answer; for a SaaSusError, a warning saying what it means and what to do."""
    if not isinstance(result, SaaSusError):
        return None
    answer = f"HTTP {result.status}, {result.error_type or 'no error type'}"
    if result.kind is ErrorKind.DENIED:
        message = f"SaaSus refused to tell {what} ({answer}): give the API key the permission to read it"
    elif result.kind is ErrorKind.TIMEOUT:
        message = f"SaaSus did not tell {what} within SAASUS_MW_TIMEOUT: try again"
    elif result.kind is ErrorKind.BAD_RESPONSE:
        message = f"SaaSus answered about {what}, but not as its API spec describes: cannot tell"
    elif result.kind is ErrorKind.UNREACHABLE:
        message = f"SaaSus could not be reached for {what}: try again"
    else:
        message = f"SaaSus could not tell {what} ({answer}): try again later; if it persists, ask SaaSus support"
    return Finding("warning", message)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


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
    fixed = _with_v1(settings.saasus_base_url)
    if exc.status == 404 and fixed:
        hint = f"SAASUS_BASE_URL lacks /v1 at the end - write SAASUS_BASE_URL={fixed}"
    elif exc.status == 404:
        hint = f"is SAASUS_BASE_URL the SaaSus API ({FIELDS['saasus_base_url'].default})?"
    else:
        hint = "cannot tell whether the keys are right"
    message = f"SaaSus at {where} answered HTTP {exc.status or '-'} ({exc.error_type or exc.kind.value}): {hint}"
    return Finding("error", message, "SAASUS_BASE_URL")


def _variable_in(message: str) -> str | None:
    """The first setting a Settings.load message names (they all start with it)."""
    return next((word for word in re.findall(r"[A-Z][A-Z0-9_]+", message) if word in _VARIABLES), None)
