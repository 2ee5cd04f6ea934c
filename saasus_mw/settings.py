"""Configuration: keyword arguments > environment > TOML file, validated once.

Every setting has one keyword name, which is also its key in the ``[saasus_mw]``
table of the TOML file named by ``SAASUS_MW_CONFIG``, and one environment
variable. SaaSus credentials keep the SDK's own variable names so an existing
deployment needs nothing new.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import hmac
import os
import re
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from pydantic import SecretStr

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = [
    "FIELDS",
    "ConfigError",
    "Settings",
    "cautions",
    "header_safe_url",
    "origin_of",
    "parse_fields",
    "redirect_target",
    "support_url",
]

CONFIG_FILE_VAR = "SAASUS_MW_CONFIG"
TOML_TABLE = "saasus_mw"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names where it came from.

    Building the middleware reports every problem at once: ``problems`` holds each
    one (a single problem is raised as itself), and the message lists them all.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.problems: tuple[ConfigError, ...] = (self,)

    @classmethod
    def every(cls, problems: Sequence[ConfigError]) -> ConfigError:
        """One error for all of ``problems``, in the order found."""
        if len(problems) == 1:
            return problems[0]
        listed = "".join(f"\n  - {problem}" for problem in problems)
        error = cls(f"{len(problems)} configuration problems (saasus-mw check reports the same):{listed}")
        error.problems = tuple(problems)
        return error


class WrappedTwiceWarning(UserWarning):
    """An app that a saasus_mw middleware already wraps was wrapped again."""


def warn_wrapped_twice(outer: type, inner: type) -> None:
    # Point at the code that wrapped the app: the first caller outside this package.
    level, frame = 2, sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "saasus_mw":
        level, frame = level + 1, frame.f_back
    warnings.warn(
        f"{outer.__name__} wraps an app that {inner.__name__} already wraps (in code, or the zero-code entry "
        "around an already wrapped app): the outer one answers every marketplace request, the inner one never "
        "sees one. Wrap the app once.",
        WrappedTwiceWarning,
        stacklevel=level,
    )


def _str(value: str) -> str:
    return value.strip()


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _positive_int(value: str) -> int:
    # int()'s own message ("invalid literal for int() with base 10") tells a user nothing.
    if not value.strip().isdecimal() or int(value) <= 0:
        raise ValueError("expected a whole number above 0")
    return int(value)


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0  # float()'s own message repeats the value and says nothing more
    if not number > 0 or number == float("inf"):
        raise ValueError("expected a number of seconds above 0, such as 2.5")
    return number


def _hidden(value: str) -> SecretStr:
    # pydantic takes ~100 ms to import: paid when settings are loaded, not by `import saasus_mw`.
    from pydantic import SecretStr  # noqa: PLC0415

    return SecretStr(value)


def _secret(value: str) -> SecretStr:
    return _hidden(value.strip())


def _secret_list(value: str) -> tuple[SecretStr, ...]:
    return tuple(_hidden(part.strip()) for part in value.split(",") if part.strip())


def _cookie_key(value: str) -> SecretStr:
    key = _secret(value)
    if key.get_secret_value() and len(key.get_secret_value()) < MIN_KEY_LENGTH:
        raise ValueError(
            f"a key needs at least {MIN_KEY_LENGTH} characters (or leave it empty: derived from "
            f"SAASUS_SECRET_KEY) - {KEY_HINT}"
        )
    return key


def _fallback_keys(value: str) -> tuple[SecretStr, ...]:
    # An old key signs nothing new, but it still accepts states: a weak one is as guessable as a weak current key.
    keys = _secret_list(value)
    short = [str(number) for number, key in enumerate(keys, 1) if len(key.get_secret_value()) < MIN_KEY_LENGTH]
    if short:
        raise ValueError(
            f"key {', '.join(short)} (of {len(keys)}, comma-separated) has fewer than {MIN_KEY_LENGTH} characters; "
            f"fallback keys follow the rules of SAASUS_MW_SECRET_KEY - {KEY_HINT}"
        )
    return keys


def _base_url(value: str) -> str:
    value = value.strip()
    if not value.startswith(("https://", "http://")):
        raise ValueError("expected an http(s) URL such as https://api.saasus.io/v1")
    if not (value.isascii() and value.isprintable()):  # every SaaSus request's Host and target
        raise ValueError("expected an ASCII URL such as https://api.saasus.io/v1 (IDNA-encode a host)")
    return value.rstrip("/")


def _path(value: str) -> str:
    value = value.strip()
    absolute = value.startswith("/") and not value.startswith("//") and value.isprintable()
    if absolute and not value.isascii():
        # WSGI servers pass PATH_INFO as latin-1 (it never matches), and the path stands in Location headers.
        raise ValueError("expected an ASCII path such as /callback: register an ASCII callback URL in SaaSus")
    if absolute and not any(c in value for c in "?#\\ ") and (value == "/" or not value.endswith("/")):
        return value
    raise ValueError("expected an absolute path such as /callback, without query or trailing slash")


def redirect_target(value: str) -> str:
    r"""A path within this app, or an absolute http(s) URL; raises ValueError for anything else.

    Never "//host", "/\host" or "javascript:", which browsers would follow somewhere
    unintended, and never a control character: CR or LF would end the Location
    header early, and browsers strip TAB and newlines from URLs, so "/\t/host" is "//host".
    """
    value = value.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or " " in value or "\\" in value:
        raise ValueError("a URL may not contain spaces, backslashes or control characters")
    if value.startswith("/") and not value.startswith("//"):
        return value
    parts = urlsplit(value)
    if parts.scheme in ("https", "http") and parts.netloc and value.startswith(f"{parts.scheme}://"):
        return value
    raise ValueError("expected a path starting with / or an absolute http(s) URL")


def header_safe_url(url: str) -> str:
    """``url`` as it can stand in a Location or CSP header, which are latin-1: raises ValueError if it cannot.

    An ASCII URL is returned as it is. Otherwise the host is IDNA-encoded (``xn--``)
    and the rest percent-encoded as UTF-8, keeping what is already %XX (werkzeug's
    ``iri_to_uri``), as browsers do with what is typed in the address bar.
    A host that IDNA 2003 (the codec Python has) would change beyond its case, such
    as ``straße`` (``strasse``, where browsers keep ß), is refused: it would lead elsewhere.
    """
    if url.isascii():
        return url
    from werkzeug.urls import iri_to_uri  # noqa: PLC0415 - only for a non-ASCII URL

    try:
        encoded = iri_to_uri(url)
        host, back = urlsplit(url).hostname or "", urlsplit(encoded).hostname or ""
        back = back.encode("ascii").decode("idna")
    except UnicodeError:  # an empty or over-long label, or a character IDNA does not allow
        raise ValueError("its host name cannot be IDNA-encoded: check the spelling") from None
    if back != host:
        raise ValueError("its host name changes when IDNA-encoded: write the host in its xn-- form (punycode)")
    return encoded


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, lower-cased; "" for a path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme else ""


def _samesite(value: str) -> str:
    value = value.strip().capitalize()
    if value not in ("Lax", "Strict", "None"):
        raise ValueError("expected lax, strict or none")
    return value


def _optional_redirect_target(value: str) -> str:
    # Encoded once, here: the URL goes into Location and CSP headers, and a 500 after the link is a lost buyer.
    return header_safe_url(redirect_target(value)) if value.strip() else ""


def _signin_url(value: str) -> str:
    url = _optional_redirect_target(value)
    if "#" in url:  # the code is appended as a query: after a fragment no page could read it
        raise ValueError("expected a URL without a fragment (#): the sign-in code is added to its query")
    return url


def support_url(value: str) -> str:
    """An https URL or a ``mailto:`` address where buyers reach support, as ASCII; raises ValueError otherwise.

    Pages put it in a link: non-ASCII text is percent-encoded and a host name
    IDNA-encoded here, once (werkzeug's ``iri_to_uri``), so that every page can
    carry it; a control character, a space, a backslash, credentials in the URL or
    any other scheme (``http:``, ``javascript:``) is refused.
    """
    value = value.strip()
    if not value:
        return ""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or " " in value or "\\" in value:
        raise ValueError("a support URL may not contain spaces, backslashes or control characters")
    from werkzeug.urls import iri_to_uri  # noqa: PLC0415 - werkzeug is a dependency; loaded only when set

    scheme = value.partition(":")[0].lower()
    try:
        if scheme == "mailto":
            return _mailto(value[len("mailto:") :], iri_to_uri)
        parts = urlsplit(value)
        if scheme != "https" or not value[6:].startswith("//") or not parts.hostname:
            raise ValueError("expected an https:// URL or a mailto: address, such as https://example.com/support")
        if "@" in parts.netloc:  # https://support.example.com@elsewhere.example goes elsewhere
            raise ValueError("a support URL may not carry a user name or password (@)")
        return iri_to_uri(value)
    except UnicodeError:  # IDNA refuses the host name: an empty or over-long label
        raise ValueError("its host name cannot be encoded (IDNA): check the spelling") from None


def _mailto(rest: str, iri_to_uri: Callable[[str], str]) -> str:
    address, question, query = rest.partition("?")
    local, at, domain = address.rpartition("@")
    if not at or not local or "@" in local or "." not in domain.strip(".") or "," in address or "/" in domain:
        raise ValueError("expected one address after mailto:, such as mailto:support@example.com")
    domain = domain.encode("idna").decode("ascii")
    return iri_to_uri(f"mailto:{local}@{domain}{question}{query}")


def _roles(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def _locale(value: str) -> str:
    value = value.strip().lower()
    if value not in ("", "en", "ja"):
        raise ValueError("expected en or ja (or empty: from the browser's Accept-Language)")
    return value


def _local_path(value: str) -> str:
    value = value.strip()
    # Same-origin only: the CSP forbids third-party assets, and a third-party
    # image would leak the callback page's visit.
    if value and (not value.startswith("/") or value.startswith("//") or any(c in value for c in "\\\"'<> ")):
        raise ValueError("expected a path on this site such as /static/logo.svg")
    return value


def _color(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError("expected a colour such as #0b5cad")
    return value


def _directory(value: str) -> str:
    value = value.strip()
    if value and not os.path.isdir(value):
        raise ValueError("expected an existing directory")
    return value


def _cookie_name(value: str) -> str:
    value = value.strip()
    if not value or not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
        raise ValueError("expected letters, digits, - or _")
    return value


@dataclasses.dataclass(frozen=True)
class _Field:
    env: str
    parse: Callable[[str], Any]
    default: str | None  # None: required
    doc: str


# The single definition of every setting; the README table is checked against it.
FIELDS: dict[str, _Field] = {
    "saasus_saas_id": _Field("SAASUS_SAAS_ID", _str, None, "SaaSus SaaS ID (the SDK's own name)"),
    "saasus_api_key": _Field("SAASUS_API_KEY", _str, None, "SaaSus API key (the SDK's own name)"),
    "saasus_secret_key": _Field("SAASUS_SECRET_KEY", _secret, None, "SaaSus client secret (the SDK's own name)"),
    "saasus_base_url": _Field(
        "SAASUS_BASE_URL", _base_url, "https://api.saasus.io/v1", "SaaSus API base URL (the SDK's own name)"
    ),
    "enabled": _Field("SAASUS_MW_ENABLED", _bool, "true", "`false`: pure pass-through, nothing intercepted"),
    "callback_path": _Field("SAASUS_MW_CALLBACK_PATH", _path, "/callback", "the path SaaSus redirects to"),
    "secret_key": _Field(
        "SAASUS_MW_SECRET_KEY",
        _cookie_key,
        "",
        "encrypts the state cookie; default: derived from SAASUS_SECRET_KEY (every worker agrees)",
    ),
    "secret_key_fallbacks": _Field(
        "SAASUS_MW_SECRET_KEY_FALLBACKS",
        _fallback_keys,
        "",
        "comma-separated older keys still accepted (rotation): former SAASUS_MW_SECRET_KEY or SAASUS_SECRET_KEY values",
    ),
    "signin_url": _Field(
        "SAASUS_MW_SIGNIN_URL",
        _signin_url,
        "",
        "where sign-in codes go: a path or an http(s) URL (an SPA's callback page); empty: the callback path itself",
    ),
    "success_url": _Field(
        "SAASUS_MW_SUCCESS_URL",
        _optional_redirect_target,
        "",
        "where the buyer goes after linking, not signed in; empty: signed in through the sign-in URL",
    ),
    "allow_new_tenant": _Field(
        "SAASUS_MW_ALLOW_NEW_TENANT", _bool, "false", "`true`: the picker also offers a new account for the purchase"
    ),
    "cookie_secure": _Field("SAASUS_MW_COOKIE_SECURE", _bool, "true", "`false` only for plain-http local use"),
    "cookie_samesite": _Field(
        "SAASUS_MW_COOKIE_SAMESITE", _samesite, "lax", "`lax`; `strict` breaks the redirect from the SaaSus login"
    ),
    "cookie_name": _Field("SAASUS_MW_COOKIE_NAME", _cookie_name, "saasus_mw_state", "name of the state cookie"),
    "state_ttl": _Field("SAASUS_MW_STATE_TTL", _positive_int, "900", "seconds the picker state stays valid"),
    "required_roles": _Field(
        "SAASUS_MW_REQUIRED_ROLES", _roles, "", "comma-separated roles, one of which the user needs in a tenant"
    ),
    "signup_url": _Field(
        "SAASUS_MW_SIGNUP_URL", _optional_redirect_target, "", "where users without an eligible tenant can create one"
    ),
    "support_url": _Field(
        "SAASUS_MW_SUPPORT_URL",
        support_url,
        "",
        "how buyers reach your support: an https URL or mailto: (the listing review asks for one)",
    ),
    "locale": _Field("SAASUS_MW_LOCALE", _locale, "", "`en` or `ja`; empty: chosen from Accept-Language"),
    "product_name": _Field("SAASUS_MW_PRODUCT_NAME", _str, "", "product name shown on every page"),
    "logo_url": _Field("SAASUS_MW_LOGO_URL", _local_path, "", "logo, a path on this site (no third-party assets)"),
    "accent_color": _Field("SAASUS_MW_ACCENT_COLOR", _color, "#0b5cad", "buttons and focus accents"),
    "template_dir": _Field(
        "SAASUS_MW_TEMPLATE_DIR", _directory, "", "directory of Jinja2 templates replacing the built-in pages"
    ),
    "timeout": _Field("SAASUS_MW_TIMEOUT", _positive_float, "10", "seconds each SaaSus call may take"),
    "max_threads": _Field(
        "SAASUS_MW_MAX_THREADS", _positive_int, "10", "ASGI: SaaSus calls running at once (own thread limit)"
    ),
    "redact_access_logs": _Field(
        "SAASUS_MW_REDACT_ACCESS_LOGS",
        _bool,
        "true",
        "`false`: leave the sign-in code and registration token in the server's access log lines",
    ),
}

# Derivation label: the cookie key is never the SaaSus secret itself.
_KEY_PURPOSE = b"saasus_mw state cookie signing key v1"
MIN_KEY_LENGTH = 16
KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :meth:`load`; secrets print as ``**********``."""

    saasus_saas_id: str
    saasus_api_key: str = dataclasses.field(repr=False)  # travels in headers, but no need to print it
    saasus_secret_key: SecretStr
    saasus_base_url: str
    enabled: bool
    callback_path: str
    secret_key: SecretStr
    secret_key_fallbacks: tuple[SecretStr, ...]
    signin_url: str
    success_url: str
    allow_new_tenant: bool
    cookie_secure: bool
    cookie_samesite: str
    cookie_name: str
    state_ttl: int
    required_roles: frozenset[str]
    signup_url: str
    support_url: str
    locale: str
    product_name: str
    logo_url: str
    accent_color: str
    template_dir: str
    timeout: float
    max_threads: int
    redact_access_logs: bool

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read kwargs > ``environ`` (default ``os.environ``) > TOML file.

        Raises :class:`ConfigError` naming every missing or malformed setting (``problems``: each one).
        """
        environ = os.environ if environ is None else environ
        unknown = set(overrides) - set(FIELDS)
        if unknown:
            raise TypeError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        values, problems = parse_fields(environ, overrides)
        if problems:
            raise ConfigError.every(problems)
        if not values["secret_key"].get_secret_value():
            values["secret_key"] = _derive_key(values["saasus_secret_key"])
        for caution in cautions(values):
            warnings.warn(caution, stacklevel=2)
        return cls(**values)

    @property
    def signing_keys(self) -> list[str]:
        """The state keys, oldest first: the newest (last) encrypts and signs, all of them are tried."""
        # Each key once, at its newest place: a current key also listed as a fallback still seals.
        return list(dict.fromkeys(key for _, key in self.state_keys))[::-1]

    @property
    def state_keys(self) -> list[tuple[str, str]]:
        """(what it is, key) of every key that opens a state, newest first: the first seals new states.

        A state minted before a rotation stays valid for its lifetime (SAASUS_MW_STATE_TTL)
        while the old key is among the fallbacks: each fallback is tried both as a former
        SAASUS_MW_SECRET_KEY and as a former SAASUS_SECRET_KEY (through the same derivation
        as the current one), so moving from the derived key to an explicit one means
        putting the SaaSus secret in the fallbacks, and taking it out after the TTL.
        """
        current = self.secret_key.get_secret_value()
        derived = current == _derive_key(self.saasus_secret_key).get_secret_value()
        keys = [("SAASUS_MW_SECRET_KEY" + (", derived from SAASUS_SECRET_KEY" if derived else ""), current)]
        for number, fallback in enumerate(self.secret_key_fallbacks, 1):
            label = f"SAASUS_MW_SECRET_KEY_FALLBACKS key {number}"
            keys.append((f"{label} (accepted)", fallback.get_secret_value()))
            keys.append((f"{label} as a former SAASUS_SECRET_KEY (accepted)", _derive_key(fallback).get_secret_value()))
        return keys


def parse_fields(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[ConfigError]]:
    """Every field parsed on its own (kwargs > environ > TOML file > default): problems collected, not raised.

    :meth:`Settings.load` raises them all as one ConfigError; ``saasus-mw check`` reports each.
    Rules across fields (:func:`_across_fields`) are among them.
    """
    overrides = overrides or {}
    problems: list[ConfigError] = []
    path = environ.get(CONFIG_FILE_VAR, "")
    file_values: dict[str, Any] | None
    try:
        file_values = _read_toml(path)
    except ConfigError as exc:
        problems.append(exc)
        file_values = None
    meant: set[str] = set()  # keys a typo was probably meant to be
    for key in sorted(set(file_values or ()) - set(FIELDS)):
        # One typo is one problem: the file's other keys still count.
        close = difflib.get_close_matches(key, FIELDS, n=1)
        meant.update(close)
        hint = f"did you mean {close[0]}?" if close else "the keys are the keyword names of the settings"
        problems.append(ConfigError(f"{CONFIG_FILE_VAR}={path}: [{TOML_TABLE}] has no key {key!r} - {hint}"))
    values: dict[str, Any] = {}
    for name, field in FIELDS.items():
        if name in overrides:
            raw, origin = overrides[name], f"keyword argument {name}= ({field.env})"
        elif field.env in environ:
            raw, origin = environ[field.env], f"{field.env} (environment variable)"
        elif file_values and name in file_values:
            raw, origin = file_values[name], f"{name} in [{TOML_TABLE}] of {path} ({field.env})"
        else:
            raw, origin = field.default, f"the default of {field.env}"
        try:
            values[name] = _parse(field, raw, origin)
        except ConfigError as exc:
            problems.append(exc)
    # Only required when the middleware will act: a disabled middleware must
    # start even on a host that has no SaaSus credentials (the 3 a.m. switch).
    # Nor while the file cannot be read: they may well be in it.
    if values.get("enabled", True) and file_values is not None:
        for name in ("saasus_saas_id", "saasus_api_key", "saasus_secret_key"):
            if name in values and name not in meant and not _reveal(values[name]):
                env = FIELDS[name].env
                problems.append(ConfigError(f"{env} is required (set it in the environment or the TOML file)"))
    return values, problems + _across_fields(values)


def _across_fields(values: Mapping[str, Any]) -> list[ConfigError]:
    """Rules that take two settings; a setting that did not parse is already reported, so it is left out."""
    problems: list[ConfigError] = []
    if values.get("cookie_samesite") == "None" and values.get("cookie_secure") is False:
        problems.append(
            ConfigError("SAASUS_MW_COOKIE_SAMESITE=none needs SAASUS_MW_COOKIE_SECURE=true (browsers drop it)")
        )
    return problems


def cautions(values: Mapping[str, Any]) -> list[str]:
    """What is allowed but probably wrong: :meth:`Settings.load` warns each, ``saasus-mw check`` reports each."""
    found: list[str] = []
    if values.get("cookie_samesite") == "Strict":
        found.append(
            "SAASUS_MW_COOKIE_SAMESITE=strict: browsers drop Strict cookies along the redirect from the "
            "SaaSus login (another site), so every buyer would see 'we could not find your sign-in'. Use lax."
        )
    https = any(str(values.get(k, "")).startswith("https://") for k in ("success_url", "signin_url"))
    if values.get("cookie_secure") is False and https:
        found.append(
            "SAASUS_MW_COOKIE_SECURE is false while the app is reached over https: "
            "the state cookie would travel without TLS"
        )
    return found


def _parse(field: _Field, raw: Any, origin: str) -> Any:
    if isinstance(raw, bool | int | float) and not isinstance(raw, str):
        raw = str(raw).lower() if isinstance(raw, bool) else str(raw)
    elif isinstance(raw, list | tuple):
        raw = ",".join(str(item) for item in raw)
    elif hasattr(raw, "get_secret_value"):  # a SecretStr
        raw = raw.get_secret_value()
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise ConfigError(f"{origin} is not valid: expected a string, got {type(raw).__name__}")
    try:
        return field.parse(raw)
    except ValueError as exc:
        # Never echo the value: it may be a secret.
        reason = str(exc)
        if field.default and field.default not in reason:
            reason += f" (the default is {field.default})"
        raise ConfigError(f"{origin} is not valid: {reason}") from None


def _reveal(value: Any) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def _derive_key(saasus_secret: SecretStr) -> SecretStr:
    digest = hmac.new(saasus_secret.get_secret_value().encode(), _KEY_PURPOSE, hashlib.sha256).hexdigest()
    return _hidden(digest)


def _read_toml(path: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            document = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{CONFIG_FILE_VAR}={path}: cannot read the file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{CONFIG_FILE_VAR}={path}: not valid TOML ({exc})") from None
    table = document.get(TOML_TABLE, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{CONFIG_FILE_VAR}={path}: [{TOML_TABLE}] must be a table")
    return table
