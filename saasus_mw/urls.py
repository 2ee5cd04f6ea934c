"""Every URL the middleware builds or checks, in one place.

The callback (also the state cookie's Path), the picker, the sign-in hand-off, the
"Continue" link, the sign-up link, the mount prefix, joins of queries, forwarded
queries, and the checks of where a redirect may go. Light: no third-party import.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote, urlsplit

from .settings import Settings, origin_of, redirect_target

__all__ = [
    "STEP_PARAM",
    "STEP_VALUE",
    "Urls",
    "join",
    "loopback",
    "mount_prefix",
    "normal_host",
    "normal_path",
    "safe_query",
    "same_origin",
]

STEP_PARAM = "saasus_mw"
STEP_VALUE = "select"
_PRINTABLE_ASCII = re.compile(r"\A[!-~]*\Z")
# Kept as is when a query string is forwarded; anything else is percent-encoded.
_QUERY_SAFE = "!$&'()*+,/:;=?@[]~%-._"


class Urls:
    """The middleware's URLs for one request, from the settings and the request's mount prefix."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # SPA + API: the sign-in page is elsewhere, so ordinary logins on the callback go there.
        signin = urlsplit(settings.signin_url)
        # Compared as the pages they name, not as spelled: "/callback/" or "/%63allback" would loop.
        elsewhere = normal_path(signin.path) != normal_path(settings.callback_path)
        self.forwarding = bool(settings.signin_url) and (bool(signin.netloc) or elsewhere)
        self._signin_at = (normal_host(signin.netloc), normal_path(signin.path))
        self._origins = {origin_of(u) for u in (settings.success_url, settings.signin_url)} - {""}

    def callback(self, root_path: str) -> str:
        """The callback path as the browser sees it: also the state cookie's Path."""
        return root_path + self._settings.callback_path

    def picker(self, root_path: str) -> str:
        return f"{self.callback(root_path)}?{STEP_PARAM}={STEP_VALUE}"

    def signin(self, root_path: str) -> str:
        signin = self._settings.signin_url
        return in_app(root_path, signin) if signin else self.callback(root_path)

    def is_signin(self, root_path: str, request_host: str | None) -> bool:
        """Whether an absolute sign-in URL names this very callback: forwarding there would loop."""
        signin_host, path = self._signin_at
        here = normal_host(request_host or "")
        return bool(signin_host) and signin_host == here and path == normal_path(self.callback(root_path))

    def continue_(self, root_path: str) -> str:
        """Where "Continue" goes once there is nothing left to hand off: never back to a code-less callback."""
        if self._settings.success_url:
            return in_app(root_path, self._settings.success_url)
        if self.forwarding:
            return self.signin(root_path)
        return root_path + "/"

    def success(self, root_path: str) -> str:
        return in_app(root_path, self._settings.success_url) if self._settings.success_url else ""

    def signup(self, root_path: str) -> str:
        return in_app(root_path, self._settings.signup_url) if self._settings.signup_url else ""

    def hook_target(self, root_path: str, chosen: str) -> str:
        """on_linked's URL, checked as configured URLs are; raises ValueError if we may not go there."""
        url = redirect_target(chosen)
        if origin_of(url) and origin_of(url) not in self._origins:
            raise ValueError("an absolute URL must be on the success URL's or the sign-in URL's origin")
        url = in_app(root_path, url)
        # Percent-encoded ASCII only: a Location is latin-1 on the wire, but browsers read its
        # bytes as UTF-8, so even "/café" would land on another page.
        url.encode("ascii")
        return url


def mount_prefix(root_path: str) -> str:
    """The mount prefix as a path on this site, whatever a proxy header put there.

    "X-Forwarded-Prefix: //evil.example" (through ProxyFix) must never make a Location
    protocol-relative, nor "http:/evil.example" a scheme: only "/" followed by printable
    ASCII stands; leading slashes and backslashes fold into one, anything else is dropped.
    """
    if not root_path:
        return ""
    if root_path[0] not in "/\\":
        return ""
    prefix = "/" + root_path.replace("\\", "/").lstrip("/")
    return prefix.rstrip("/") if _PRINTABLE_ASCII.match(prefix) else ""


def in_app(root_path: str, url: str) -> str:
    """A configured path is inside the app's mount point; an absolute URL is used as is."""
    return root_path + url if url.startswith("/") else url


def join(url: str, query: str) -> str:
    """``url`` with ``query`` appended, after ``&`` if it has a query already."""
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


def safe_query(query: str) -> str:
    """The query string unchanged, except what may not stand in a Location header."""
    # The query arrived as bytes decoded as latin-1: percent-encode those bytes, not their UTF-8.
    return quote(query.encode("latin-1", "replace"), safe=_QUERY_SAFE)


def normal_host(netloc: str) -> str:
    """``host[:port]`` as browsers compare it: lower case, without user info or the scheme's default port."""
    return netloc.rpartition("@")[2].lower().removesuffix(":443").removesuffix(":80")


def normal_path(path: str) -> str:
    """``path`` as servers hand it to the app, and browsers request it after a redirect.

    Percent-decoded (servers decode the path: ``/%63allback`` is ``/callback``), dot
    segments resolved and slashes merged (browsers and most routers do), without a
    trailing slash (routers redirect between ``/callback/`` and ``/callback``).
    Two spellings with the same normal path are one page: redirecting from one to
    the other can loop.
    """
    segments: list[str] = []
    for segment in unquote(path).split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return "/" + "/".join(segments)


def loopback(request_host: str | None) -> bool:
    name = urlsplit(f"//{request_host or ''}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def same_origin(origin: str | None, request_host: str | None) -> bool:
    """False when the browser says the POST came from another origin.

    The picker is served with ``Referrer-Policy: same-origin``, so browsers send its
    real origin with the form; "null" (what a page under no-referrer, a sandboxed
    frame or a data: URL sends) is not ours. The scheme is not compared: behind a
    TLS-terminating proxy the app sees http while the browser says https.
    """
    if origin is None or request_host is None:
        return True  # no browser claim to check (old browsers, other clients): the CSRF token stands
    parts = urlsplit(origin)
    default_port = {"https": ":443", "http": ":80"}.get(parts.scheme, "")
    return bool(parts.netloc) and (
        parts.netloc.lower().removesuffix(default_port) == request_host.lower().removesuffix(default_port)
    )
