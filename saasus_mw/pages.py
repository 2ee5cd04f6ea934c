"""Rendering: the pages the middleware serves, in English or Japanese, and the headers they all carry."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Sequence
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import jinja2

from .errors import ErrorCode
from .settings import Settings

__all__ = ["LANGUAGES", "Choice", "Failure", "Pages", "Response"]

LANGUAGES = ("en", "ja")


@dataclasses.dataclass(frozen=True)
class Failure:
    """What ``on_error`` receives: a stable code, the status shown, and what SaaSus said (if it did)."""

    code: ErrorCode
    status: int
    step: str  # "start" | "picker" | "link" | "not_allowed"
    saasus_error: str = ""  # "kind:status:type", e.g. "rejected:400:invalid_registration_token"


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    failure: Failure | None = None  # set on error pages: for the log line and on_error
    log: dict[str, str] = dataclasses.field(default_factory=dict)  # extra log fields of this step


@dataclasses.dataclass(frozen=True)
class Choice:
    """A tenant as the picker shows it; ``reason`` is empty when it can take the purchase."""

    id: str
    name: str
    plan_id: str | None
    roles: tuple[str, ...]
    detail: str = ""  # plan and role, as shown
    reason: str = ""


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
        templates = resources.files("saasus_mw").joinpath("templates")
        self._style = templates.joinpath("style.css").read_text("utf-8").replace("ACCENT", settings.accent_color)
        self._script = templates.joinpath("filter.js").read_text("utf-8")
        # Browsers check form-action on the redirect that follows the POST too,
        # so the success URL's origin must be allowed when it is another site.
        form_action = "'self'"
        if settings.success_url.startswith(("https://", "http://")):
            parts = urlsplit(settings.success_url)
            form_action += f" {parts.scheme}://{parts.netloc}"
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
        head: bool = False,
    ) -> Response:
        eligible = [c.id for c in choices if not c.reason]
        # One eligible tenant, or the one of a link attempt to confirm, is preselected.
        selected = preselect if preselect in eligible else (eligible[0] if len(eligible) == 1 else "")
        return self._render(
            200,
            "picker.html",
            language,
            head,
            title=self._catalogues[language]["select_title"],
            email=email,
            choices=choices,
            selected=selected,
            csrf_token=csrf_token,
            script=self._script if len(choices) > 1 else "",
        )

    def error(
        self, code: ErrorCode, *, language: str, retry: bool = False, signup_url: str = "", head: bool = False
    ) -> Response:
        t = self._catalogues[language]
        title, message, next_step = t["errors"][code.value]
        return self._render(
            STATUS[code],
            "error.html",
            language,
            head,
            title=title,
            message=message,
            next_step=t[next_step],
            retry=retry,
            signup_url=signup_url,
            code=code.value,
        )

    def linked(self, success_url: str, *, language: str, head: bool = False) -> Response:
        title = self._catalogues[language]["linked_title"]
        return self._render(200, "linked.html", language, head, title=title, success_url=success_url)

    def redirect(self, location: str, cookies: Sequence[str] = ()) -> Response:
        headers = [*self._headers, ("location", location), ("content-length", "0")]
        headers += [("set-cookie", cookie) for cookie in cookies]
        return Response(303, headers)

    def empty(self, status: int = 200) -> Response:
        """Headers only: for HEAD, which must never trigger a SaaSus call."""
        return Response(status, [*self._headers, ("content-length", "0")])

    def _render(self, status: int, template: str, language: str, head: bool, **context: object) -> Response:
        context.setdefault("script", "")
        body = (
            self._env.get_template(template)
            .render(t=self._catalogues[language], brand=self._brand, style=self._style, **context)
            .encode()
        )
        headers = [*self._headers, ("content-length", str(len(body)))]
        return Response(status, headers, b"" if head else body)
