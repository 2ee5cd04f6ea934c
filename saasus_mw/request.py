"""The bounded request both adapters build, and its parsing: the core's only input.

Every limit lives here, so hostile input costs no more than a small request: the
query and the form are parsed once, at most ``MAX_QUERY`` characters and
``MAX_FIELDS`` fields; the body is at most ``MAX_BODY`` bytes (the adapters stop
reading there); Accept-Language and Accept-Encoding are cut at ``MAX_ACCEPT_LANGUAGE``
characters.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from urllib.parse import parse_qs

from werkzeug.datastructures import Accept, LanguageAccept
from werkzeug.http import parse_accept_header

from .urls import mount_prefix

__all__ = ["MAX_BODY", "Request"]

MAX_BODY = 4096  # the picker form is well under 600 bytes
# Our own query strings are short (a 1,024-character registration token at most):
# anything longer is not ours to parse, so hostile input costs no more than a small one.
MAX_QUERY = 4096
MAX_FIELDS = 16
MAX_ACCEPT_LANGUAGE = 256
_FORM_TYPE = "application/x-www-form-urlencoded"


@dataclasses.dataclass(frozen=True)
class Request:
    """What the core needs of a request, already bounded by the adapter."""

    method: str
    root_path: str  # mount prefix: ASGI root_path, WSGI SCRIPT_NAME
    # The query carries the code and registration token, the cookie the state:
    # neither may reach a log line through a repr.
    query_string: str = dataclasses.field(repr=False)
    cookie: str | None = dataclasses.field(default=None, repr=False)
    content_type: str | None = None
    host: str | None = None
    origin: str | None = None
    sec_fetch_site: str | None = None
    accept_language: str | None = None
    accept_encoding: str | None = None
    scheme: str = "https"
    body: bytes = dataclasses.field(default=b"", repr=False)

    @classmethod
    def build(
        cls, method: str, root_path: str, query_string: str, scheme: str, header: Callable[[str], str | None]
    ) -> Request:
        """The one construction both adapters use; ``header(name)`` reads a request header."""
        return cls(
            method=method,
            root_path=mount_prefix(root_path),
            query_string=query_string,
            cookie=header("cookie"),
            content_type=header("content-type"),
            host=header("host"),
            origin=header("origin"),
            sec_fetch_site=header("sec-fetch-site"),
            accept_language=header("accept-language"),
            accept_encoding=header("accept-encoding"),
            scheme=scheme,
        )

    @property
    def head(self) -> bool:
        return self.method == "HEAD"

    @property
    def accepts_gzip(self) -> bool:
        """Whether the browser takes a gzip-encoded page (``gzip``, or ``*``, with a quality above 0)."""
        if not self.accept_encoding or ("gzip" not in self.accept_encoding and "*" not in self.accept_encoding):
            return False
        return parse_accept_header(self.accept_encoding[:MAX_ACCEPT_LANGUAGE], Accept).quality("gzip") > 0

    @functools.cached_property
    def query(self) -> dict[str, list[str]]:
        """The query, parsed once; empty when it is too long to be one of ours."""
        return _parse(self.query_string)

    @functools.cached_property
    def form(self) -> dict[str, list[str]]:
        return _parse(self.body.decode("latin-1"))

    def one(self, name: str, *, form: bool = False) -> str:
        """The value of a query (or form) field given exactly once, else ""."""
        values = (self.form if form else self.query).get(name, [])
        return values[0] if len(values) == 1 else ""

    @property
    def is_form(self) -> bool:
        """Whether the body is an HTML form's (the only kind the link step reads)."""
        return (self.content_type or "").split(";")[0].strip().lower() == _FORM_TYPE

    def language(self, offered: Sequence[str], fixed: str = "") -> str:
        """``fixed`` if configured, else the browser's best match among ``offered`` (else the first)."""
        if fixed:
            return fixed
        accepted = parse_accept_header((self.accept_language or "")[:MAX_ACCEPT_LANGUAGE], LanguageAccept)
        return accepted.best_match(offered, default=offered[0]) or offered[0]


def _parse(query: str) -> dict[str, list[str]]:
    """Never raises: undecodable bytes become U+FFFD and fail validation later; too much is nothing."""
    if len(query) > MAX_QUERY:
        return {}
    try:
        return parse_qs(query, keep_blank_values=True, encoding="utf-8", errors="replace", max_num_fields=MAX_FIELDS)
    except ValueError:  # more than MAX_FIELDS fields
        return {}
