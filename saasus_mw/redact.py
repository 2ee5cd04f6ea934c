"""Secrets kept out of what is written: log records, and URLs that are printed.

Two filters, two audiences:

- :class:`RedactRecords`, on the SDK's and urllib3's loggers (``saasus.py`` installs
  it): our calls to SaaSus carry the ID token, the code or the refresh token in their
  URLs, in many shapes.
- :class:`RedactAccessLog`, on the host servers' access loggers (the middleware
  installs it, once per process, unless ``SAASUS_MW_REDACT_ACCESS_LOGS=false``): the
  buyer arrives at the callback with ``?code=…&registration_token=…``, and uvicorn,
  gunicorn, hypercorn, werkzeug's and Django's development servers write that request
  line to their access logs.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import MutableMapping
from urllib.parse import unquote_plus

__all__ = [
    "ACCESS_LOGGERS",
    "REDACTED",
    "RedactAccessLog",
    "RedactRecords",
    "install_access_log_redaction",
    "redact_secrets",
    "without_userinfo",
]

REDACTED = "[redacted]"

# -- our calls to SaaSus -------------------------------------------------------------

# The whole query of a request to a SaaSus API path (?token=, ?code=, ?refresh-token=),
# wherever the path appears: a request line, a retry warning, an exception message.
_SAASUS_QUERY = re.compile(r"(/(?:auth|awsmarketplace)/[^\s?#'\"]*)\?[^\s#'\"]+")
# A code or token anywhere else: as a query parameter (token=x) or a JSON or repr field ("token": "x").
_PARAMETER_NAMES = r"(?:(?:id|access|refresh|registration)_token|refresh-token|token|code)"
_SECRET_PARAMETER = re.compile(rf"(?<![\w-])({_PARAMETER_NAMES}=)[^\s&#'\"]+", re.IGNORECASE)
_SECRET_FIELD = re.compile(rf"""(["']{_PARAMETER_NAMES}["']\s*:\s*)(["'])[^"'\s]*\2""", re.IGNORECASE)


def redact_secrets(text: str) -> str:
    """``text`` without the query of any SaaSus API URL and without any code or token value."""
    text = _SAASUS_QUERY.sub(rf"\1?{REDACTED}", text)
    text = _SECRET_PARAMETER.sub(rf"\1{REDACTED}", text)
    return _SECRET_FIELD.sub(rf"\1\2{REDACTED}\2", text)


def _store_rendered(record: logging.LogRecord, message: str) -> None:
    """Stores an already rendered ``message`` so that ``record.msg % record.args`` still gives it.

    Not ``args = None``: formatters call ``getMessage()``, but handlers and test suites
    (uvicorn's own) read ``record.msg % record.args``, and ``"..." % None`` raises.
    """
    record.msg, record.args = "%s", (message,)


class RedactRecords(logging.Filter):
    """Redacts a record as it will finally be written: message, exception text and stack.

    Our request URLs carry the ID token or the code, and libraries put them in
    records in many shapes: an argument, part of an argument (urllib3's retry
    warning), an exception's message. So the message is rendered here, redacted,
    and stored back rendered; the exception becomes redacted text, and the live
    exception (whose attributes and frames still hold the URL) leaves the record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a handler would fail too, and print the arguments with its traceback
            message = f"{record.msg} (arguments dropped: they did not format)"
        _store_rendered(record, redact_secrets(message))
        if record.exc_info:
            record.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info)
        return True


def without_userinfo(url: str) -> str:
    """``url`` without a user name or password (``https://user:pass@host``): those are credentials.

    A password may hold a raw "/" or "#" that URL parsers take for the path: everything up
    to the last "@" before the query goes, wherever a parser would end the host.
    """
    scheme, sep, rest = url.partition("://")
    query = rest.find("?")
    at = rest.rfind("@", 0, query if query >= 0 else len(rest))
    return f"{scheme}{sep}{rest[at + 1 :]}" if sep and at >= 0 else url


# -- the host server's access log --------------------------------------------------------

# Where each server writes its request lines. Each logs on exactly this logger, so a
# filter on it sees every line before any handler (its own or an ancestor's) writes it.
ACCESS_LOGGERS = (
    "uvicorn.access",  # args: (client, method, path?query, http version, status); its formatter unpacks them
    "uvicorn.asgi",  # --log-level trace: the whole scope (query string, cookies) as a repr
    "gunicorn.access",  # args: one dict of atoms ("r": the request line, "q": the query, "{header}i")
    "hypercorn.access",  # args: one dict of atoms, as gunicorn's
    "werkzeug",  # args: ("METHOD path?query HTTP/x", status, size), the path percent-decoded
    "django.server",  # runserver; args: ("METHOD path?query HTTP/x", status, size)
)
# What the callback's query carries: the sign-in code (also on the sign-in URL of an SPA)
# and the purchase's registration token. Names are compared percent-decoded, as parse_qs
# reads them ("%63ode" is "code"); a value runs to the next "&" (parse_qs splits on "&" only).
_QUERY_PARAMETER = re.compile(r"(?<![\w%.~+-])([\w%.~+-]+)=([^\s&#'\"]*)")
_SENSITIVE = frozenset({"code", "registration_token"})


def _redact_parameter(match: re.Match[str]) -> str:
    return f"{match.group(1)}={REDACTED}" if unquote_plus(match.group(1)) in _SENSITIVE else match.group(0)


class RedactAccessLog(logging.Filter):
    """Replaces the values of ``code`` and ``registration_token`` in every line these loggers write.

    In every request line, not only the callback's: a host's own ``?code=`` (an
    OAuth callback's) is a one-time credential too, and matching the callback path
    in a log line would miss a mounted prefix or another spelling of the path. The
    state cookie's values are redacted too (``uvicorn --log-level trace`` logs cookies).

    The arguments keep their shape, since formatters read them (uvicorn's unpacks its
    tuple, JSON access-log recipes read gunicorn's atoms): only their string values are
    redacted, never the format string (a "%s" in it must stay). Arguments of another
    shape (objects whose repr holds the query) are rendered and redacted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cookie_names: tuple[str, ...] = ()
        self._cookies: re.Pattern[str] | None = None

    def add_cookie_name(self, name: str) -> None:
        """Also redact the values of this state cookie name (its ``_0``, ``_1`` and ``_done`` cookies)."""
        self.cookie_names = tuple(sorted({*self.cookie_names, name}))
        names = "|".join(re.escape(n) for n in self.cookie_names)
        self._cookies = re.compile(rf"(?<![\w-])((?:{names})_(?:\d|done)=)[^\s;,'\"]*")

    def redact(self, text: str) -> str:
        text = _QUERY_PARAMETER.sub(_redact_parameter, text)
        return self._cookies.sub(rf"\1{REDACTED}", text) if self._cookies else text

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not args:
            record.msg = self.redact(str(record.msg))
        elif isinstance(args, tuple) and all(isinstance(a, str | int | float) for a in args):
            record.args = tuple(self.redact(a) if isinstance(a, str) else a for a in args)
        elif isinstance(args, MutableMapping) and all(isinstance(v, str | int | float) for v in args.values()):
            for key, value in args.items():  # in place: gunicorn's atoms are a dict subclass with defaults
                if isinstance(value, str):
                    args[key] = self.redact(value)
        else:  # a mapping of atoms (gunicorn, hypercorn) or objects (a repr holds the query): rendered here
            try:
                message = record.getMessage()
            except Exception:  # a handler would fail too, and print the arguments with its traceback
                message = f"{record.msg} (arguments dropped: they did not format)"
            _store_rendered(record, self.redact(message))
        return True


_ACCESS_FILTER = RedactAccessLog()
_INSTALL_LOCK = threading.Lock()


def install_access_log_redaction(cookie_name: str) -> RedactAccessLog:
    """Put the one :class:`RedactAccessLog` on every logger of :data:`ACCESS_LOGGERS`; idempotent.

    Filters on a logger survive the servers' own logging set-up (``dictConfig``
    replaces handlers, not filters), and are inherited by forked workers.
    """
    with _INSTALL_LOCK:
        if cookie_name not in _ACCESS_FILTER.cookie_names:
            _ACCESS_FILTER.add_cookie_name(cookie_name)
        for name in ACCESS_LOGGERS:
            logger = logging.getLogger(name)
            if _ACCESS_FILTER not in logger.filters:
                logger.addFilter(_ACCESS_FILTER)
    return _ACCESS_FILTER
