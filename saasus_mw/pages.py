"""Rendering: the pages the middleware serves, in English or Japanese, the headers they all carry,
and how they travel (gzip when the browser takes it; HEAD without a body)."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import itertools
import json
import secrets
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import jinja2

from .choices import Choice, Choices, eligible, row_pieces
from .csrf import mask
from .errors import ErrorCode
from .hooks import Failure
from .settings import Settings, origin_of

__all__ = ["CONSOLE_URL", "LANGUAGES", "Choice", "Choices", "Offer", "Pages", "Response", "delivered"]

LANGUAGES = ("en", "ja")
# Where a buyer's AWS Marketplace subscriptions are listed, each with "Set up your account":
# the way back in whenever this journey cannot go on (AWS Marketplace Buyer Guide, SaaS subscriptions).
CONSOLE_URL = "https://console.aws.amazon.com/marketplace/home#/subscriptions"
# Below one packet, compression saves no round trip; every page we render is above it.
GZIP_MIN = 1400
# Measured on a 1,000-tenant picker: level 4 sends 197 KB as 36 KB in ~1.5 ms of CPU; levels
# 1-3 send 39 KB (too close to the 40 KB budget) in ~1 ms; 6 saves 0.2 KB for 30 % more CPU,
# and 3 times level 4's CPU on text that hardly compresses (random kanji names: 5.4 vs 15 ms).
GZIP_LEVEL = 4


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    failure: Failure | None = None  # set on error pages: for the log line and on_error
    log: dict[str, str] = dataclasses.field(default_factory=dict)  # extra log fields of this step
    wait: float = 0.0  # not an answer yet: wait this long (outside any worker thread), then ask again


@dataclasses.dataclass(frozen=True)
class Offer:
    """What an error page offers: only the ways on that can work from where the buyer is.

    ``retry`` and ``back`` both GET the page's own address (``href=""``), which after
    the arrival is always the picker: "Try again" where a SaaSus call failed (a lost
    purchase attempt is then confirmed, never repeated), "Back to the list" where the
    choice or the form was refused. Never at the arrival, whose code is single-use:
    there ``console`` leads back through AWS Marketplace ("Set up your account").
    """

    retry: bool = False
    back: bool = False
    console: bool = False
    signup_url: str = ""  # create an account first (no tenant can take the purchase)
    reason: str = ""  # why no tenant can take it, in the page's language (replaces the code's message)
    home_url: str = ""  # the product's home page
    support_url: str = ""  # SAASUS_MW_SUPPORT_URL
    reference: str = ""  # what support finds the purchase by: its journey id, else the error code

    @property
    def next_step(self) -> str:
        """The catalogue key of the sentence saying what helps now."""
        if self.signup_url:
            return "next_signup"
        if self.retry:
            return "next_retry"
        if self.back:
            return "next_back"
        return "next_console" if self.console else "next_support"


STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.CODE_REJECTED: 400,
    ErrorCode.REGISTRATION_INVALID: 400,
    ErrorCode.STATE_MISSING: 400,
    ErrorCode.STATE_EXPIRED: 400,
    ErrorCode.STATE_INVALID: 400,
    ErrorCode.STATE_TOO_LARGE: 502,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.TENANT_NOT_ALLOWED: 403,
    ErrorCode.TENANT_ALREADY_LINKED: 409,
    ErrorCode.NO_TENANTS: 403,
    ErrorCode.LINK_REJECTED: 409,
    ErrorCode.IN_PROGRESS: 409,
    ErrorCode.SAASUS_TIMEOUT: 504,
    ErrorCode.SAASUS_UNAVAILABLE: 502,
    ErrorCode.INTERNAL: 500,
}


def _catalogue(language: str) -> dict[str, Any]:
    text = resources.files("saasus_mw").joinpath(f"locales/{language}.json").read_text("utf-8")
    catalogue: dict[str, Any] = json.loads(text)
    return catalogue


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


class Pages:
    """Renders pages with the security headers they all share; built once per middleware."""

    def __init__(self, settings: Settings) -> None:
        package = jinja2.PackageLoader("saasus_mw", "templates")
        # Operators may replace any page; what they do not replace comes from us.
        loader: jinja2.BaseLoader = (
            jinja2.ChoiceLoader([jinja2.FileSystemLoader(settings.template_dir), package])
            if settings.template_dir
            else package
        )
        self._env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
        self._catalogues = {language: _catalogue(language) for language in LANGUAGES}
        self._brand = {"product_name": settings.product_name, "logo_url": settings.logo_url}
        self.support_url = settings.support_url
        templates = resources.files("saasus_mw").joinpath("templates")
        # Where the rows of our own picker go (_render). Escaped text can never hold it (its "<"
        # is written &lt;), nor, being random, anything an operator's base.html writes as it is.
        self._mark = f"<!--rows {secrets.token_hex(16)}-->"
        self._own_picker = package.get_source(self._env, "picker.html")[1]
        self._style = templates.joinpath("style.css").read_text("utf-8").replace("ACCENT", settings.accent_color)
        self._script = templates.joinpath("filter.js").read_text("utf-8")
        # Browsers check form-action on the redirect that follows the POST too, so
        # the success and sign-in URLs' origins must be allowed when on another site.
        origins = dict.fromkeys(origin_of(url) for url in (settings.success_url, settings.signin_url))
        form_action = " ".join(["'self'", *(o for o in origins if o)])
        policy = [
            "default-src 'none'",
            f"style-src {_csp_hash(self._style)}",
            f"script-src {_csp_hash(self._script)}",
            f"form-action {form_action}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
        if settings.logo_url:
            policy.append("img-src 'self'")
        # no-referrer wherever a token could be in the address; the picker's has none,
        # and under same-origin browsers send its real Origin with the form.
        self._headers = [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
            ("content-security-policy", "; ".join(policy)),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
        ]

    def text(self, language: str) -> dict[str, Any]:
        return self._catalogues[language]

    def picker(
        self,
        *,
        email: str,
        choices: Sequence[Choice],
        csrf_token: str,
        language: str,
        preselect: str = "",
        new_tenant: bool = False,
        new_tenant_name: str = "",
        who: str = "",
        problem: str = "",
        head: bool = False,
    ) -> Response:
        """The picker; with ``problem`` (a catalogue key) the new-account name to fix, as a 400."""
        t = self._catalogues[language]
        can = eligible(choices)
        # One eligible tenant, or the one of an attempt to confirm, is preselected;
        # with none, the new account (when offered) is; a name to fix keeps it chosen.
        selected = preselect if preselect in can else (can[0] if len(can) == 1 else "")
        new_selected = new_tenant and (bool(new_tenant_name) or not can or bool(problem))
        return self._render(
            400 if problem else 200,
            "picker.html",
            language,
            head,
            referrer="same-origin",
            title=t["name_title"] if problem else t["select_title"],
            email=email,
            who=who or email,
            choices=choices,
            rows=row_pieces(choices, "" if new_selected else selected),
            selected="" if new_selected else selected,
            eligible=len(can),
            new_tenant=new_tenant,
            new_selected=new_selected,
            new_tenant_name=new_tenant_name,
            problem=t[problem] if problem else "",
            # Masked afresh on every page: the page is compressed and reflects text others chose.
            csrf_token=mask(csrf_token),
            script=self._script,
        )

    def name_problem(self, *, csrf_token: str, language: str, name: str, problem: str, who: str = "") -> Response:
        """The new-account form alone, with the buyer's input and what to fix (400): when the
        picker's list cannot be had again. It offers no list, so it never sends one back to it."""
        return self.picker(
            email="",
            who=who,
            choices=[],
            csrf_token=csrf_token,  # the picker masks it
            language=language,
            new_tenant=True,
            new_tenant_name=name,
            problem=problem,
        )

    def error(self, code: ErrorCode, offer: Offer, *, language: str, head: bool = False) -> Response:
        """The failure page for ``code``, offering what ``offer`` says can work from there."""
        t = self._catalogues[language]
        title, message = t["errors"][code.value][:2]
        return self._render(
            STATUS[code],
            "error.html",
            language,
            head,
            title=title,
            message=offer.reason or message,  # no tenant can take it: why
            next_step=t[offer.next_step],
            offer=offer,
            console_url=CONSOLE_URL,
            code=code.value,
        )

    def home_label(self, language: str) -> str:
        """ "Go to <product>", or to the home page when the product has no name configured."""
        t, name = self._catalogues[language], self._brand["product_name"]
        return str(t["home_named"].format(product=name) if name else t["home_link"])

    def linked(self, continue_url: str, *, language: str, head: bool = False) -> Response:
        """This browser already completed the purchase (Back, reload, a resubmitted form)."""
        text = self._catalogues[language]["linked_text"]
        return self._done(continue_url, language, head, "linked_title", text, "continue")

    def handoff_failed(self, continue_url: str, *, language: str) -> Response:
        """Linked, but the sign-in hand-off failed: a success page (200) with a way on."""
        text = self._catalogues[language]["handoff_text"]
        return self._done(continue_url, language, False, "handoff_title", text, "sign_in")

    def notice(self, title: str, text: str, *, language: str, head: bool = False, **context: str) -> Response:
        """A purchase whose registration is spent, told as it is (200): ``title`` a catalogue key, ``text`` said.

        ``context``: ``next_step``, and ``continue_url`` (the button links there) or
        ``csrf_token`` (the button posts it back to this page's own URL).
        """
        context = {"continue_url": "", "csrf_token": "", "next_step": "", "support_url": "", **context}
        if context["csrf_token"]:  # masked afresh, as on the picker: this page is compressed too
            context["csrf_token"] = mask(context["csrf_token"])
        # The form posts back here: under same-origin browsers send its real Origin.
        context["referrer"] = "same-origin" if context["csrf_token"] else "no-referrer"
        url = context.pop("continue_url")
        return self._done(url, language, head, title, text, "continue", template="notice.html", **context)

    def _done(
        self, url: str, language: str, head: bool, title: str, text: str, action: str, **context: str
    ) -> Response:
        """A page that ends the journey with a way on: ``title`` and ``action`` catalogue keys, ``text`` said."""
        t = self._catalogues[language]
        template = context.pop("template", "linked.html")
        context.update(title=t[title], text=text, continue_url=url, action=t[action])
        return self._render(200, template, language, head, **context)

    def redirect(self, location: str, cookies: Sequence[str] = ()) -> Response:
        # The last line against an off-site Location: "//host" and "/\\host" are other sites.
        if location.startswith("/") and location[1:2] in ("/", "\\"):
            location = "/" + location.lstrip("/\\")
        headers = [*self._headers, ("location", location), ("content-length", "0")]
        headers += [("set-cookie", cookie) for cookie in cookies]
        return Response(303, headers)

    def empty(self, status: int = 200) -> Response:
        """Headers only: for HEAD, which must never trigger a SaaSus call."""
        return Response(status, [*self._headers, ("content-length", "0")])

    def _render(self, status: int, template: str, language: str, head: bool, **context: Any) -> Response:
        context.setdefault("script", "")
        context.setdefault("home_label", self.home_label(language))
        referrer = context.setdefault("referrer", "no-referrer")
        page = self._env.get_template(template)
        # The picker's rows: UTF-8 HTML in pieces (choices.row_pieces); no other page has them.
        pieces: Iterable[bytes] | None = context.get("rows")
        own = pieces is not None and page.filename == self._own_picker
        if own:
            # Our picker writes the rows where a mark stands, and the page is joined once from
            # its text and the rows' pieces: Jinja's copies of 1,000 rows, the encoding of the
            # whole page, and a copy of the rows joined apart cost more than the rows themselves.
            context["rows"] = self._mark
        elif pieces is not None:  # an operator's own picker: the rows as a str, the choices as a list
            context["rows"] = b"".join(pieces).decode()
            if isinstance(context.get("choices"), Choices):  # which filters such as tojson take
                context["choices"] = list(context["choices"])
        text = page.render(t=self._catalogues[language], brand=self._brand, style=self._style, **context)
        body = _spliced(text, self._mark, pieces) if pieces is not None and own else text.encode()
        headers = [*self._headers, ("content-length", str(len(body)))]
        if referrer != "no-referrer":
            headers = [("referrer-policy", referrer) if name == "referrer-policy" else (name, v) for name, v in headers]
        # The body even for HEAD: the router drops it after compressing (delivered), so that
        # HEAD carries GET's Content-Encoding and Content-Length. ``head`` says no more than that.
        del head
        return Response(status, headers, body)


def _spliced(text: str, mark: str, rows: Iterable[bytes]) -> bytes:
    """``text`` encoded, with the rows' pieces where ``mark`` stands: joined once, in the usual case
    of one mark (an operator's base.html may show the content block twice, or not at all)."""
    before, found, after = text.partition(mark)
    if found and mark not in after:
        return b"".join(itertools.chain((before.encode(),), rows, (after.encode(),)))
    return b"".join(rows).join([part.encode() for part in text.split(mark)])


def delivered(response: Response, *, gzip_ok: bool, head: bool) -> Response:
    """The response as it goes on the wire: gzip when the browser takes it, no body for HEAD.

    Every page large enough to compress says ``Vary: Accept-Encoding``, compressed or not;
    Content-Length is the length of what is sent, or for HEAD of what GET would send.
    Safe to compress: no page carries a secret as itself (:mod:`saasus_mw.csrf`).
    """
    body = response.body
    if len(body) < GZIP_MIN:
        return dataclasses.replace(response, body=b"") if head and body else response
    headers = [*response.headers, ("vary", "accept-encoding")]
    if gzip_ok:
        body = gzip.compress(body, GZIP_LEVEL, mtime=0)
        length = str(len(body))
        headers = [(n, length if n == "content-length" else v) for n, v in headers]
        headers.append(("content-encoding", "gzip"))
    return dataclasses.replace(response, headers=headers, body=b"" if head else body)
