"""Rendering: the pages the middleware serves and the headers every answer carries."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Sequence
from importlib import resources
from urllib.parse import urlsplit

import jinja2

from .errors import ErrorCode
from .saasus import Tenant

__all__ = ["Pages", "Response"]


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


# (status, title, what happened, what to do next)
_ERRORS: dict[ErrorCode, tuple[int, str, str, str]] = {
    ErrorCode.BAD_REQUEST: (
        400,
        "This link is not valid",
        "The address or the form did not contain what we expected.",
        "Start again from the AWS Marketplace console: choose “Set up your account”.",
    ),
    ErrorCode.METHOD_NOT_ALLOWED: (
        405,
        "This page cannot be used that way",
        "The request method is not supported here.",
        "Start again from the AWS Marketplace console: choose “Set up your account”.",
    ),
    ErrorCode.BODY_TOO_LARGE: (
        413,
        "The form was too large",
        "The submitted form was larger than this page accepts.",
        "Go back to the account list and submit it again.",
    ),
    ErrorCode.CODE_REJECTED: (
        400,
        "Your sign-in has expired",
        "The sign-in link was already used or is too old.",
        "Start again from the AWS Marketplace console: choose “Set up your account”.",
    ),
    ErrorCode.STATE_MISSING: (
        400,
        "We could not find your sign-in",
        "Your browser did not send back the cookie this page needs. It may block cookies, "
        "or the page was opened in another browser.",
        "Allow cookies for this site, then start again from the AWS Marketplace console.",
    ),
    ErrorCode.STATE_EXPIRED: (
        400,
        "Your session has expired",
        "Too much time passed since you signed in.",
        "Start again from the AWS Marketplace console: choose “Set up your account”.",
    ),
    ErrorCode.STATE_INVALID: (
        400,
        "Your session is not valid",
        "The information stored in your browser could not be verified.",
        "Start again from the AWS Marketplace console: choose “Set up your account”.",
    ),
    ErrorCode.STATE_TOO_LARGE: (
        502,
        "We could not keep your sign-in",
        "The sign-in information from SaaSus is too large to store in your browser.",
        "Contact the support team of this service.",
    ),
    ErrorCode.CSRF_FAILED: (
        403,
        "This form has expired",
        "The form was not sent from this page, or it was opened in an older tab.",
        "Go back to the account list and submit it again.",
    ),
    ErrorCode.TENANT_NOT_ALLOWED: (
        403,
        "That account cannot be chosen",
        "The account you chose is not one of yours, or can no longer take this purchase.",
        "Go back to the account list and choose another account.",
    ),
    ErrorCode.TENANT_ALREADY_LINKED: (
        409,
        "That account already has a subscription",
        "The account you chose is already linked to another AWS Marketplace purchase.",
        "Go back to the account list and choose another account.",
    ),
    ErrorCode.NO_TENANTS: (
        403,
        "No account can take this purchase",
        "Your user does not belong to any account (tenant) of this service yet.",
        "Sign up for an account first, then start again from the AWS Marketplace console.",
    ),
    ErrorCode.LINK_REJECTED: (
        409,
        "The purchase could not be linked",
        "SaaSus refused to link this purchase. The registration may already have been used.",
        "Start again from the AWS Marketplace console: choose “Set up your account”.",
    ),
    ErrorCode.SAASUS_TIMEOUT: (
        504,
        "SaaSus did not answer in time",
        "The sign-in service took too long to answer. Your purchase is not lost.",
        "Wait a moment, then try again.",
    ),
    ErrorCode.SAASUS_UNAVAILABLE: (
        502,
        "SaaSus is not available",
        "The sign-in service could not be reached or gave an unexpected answer. Your purchase is not lost.",
        "Wait a moment, then try again.",
    ),
    ErrorCode.INTERNAL: (
        500,
        "Something went wrong",
        "An unexpected error occurred on our side. Your purchase is not lost.",
        "Wait a moment, then try again. If it happens again, contact the support team of this service.",
    ),
}


class Pages:
    """Renders pages with the security headers they all share; built once per middleware."""

    def __init__(self, success_url: str) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("saasus_mw", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self._style = resources.files("saasus_mw").joinpath("templates/style.css").read_text("utf-8")
        style_hash = base64.b64encode(hashlib.sha256(self._style.encode()).digest()).decode()
        # Browsers check form-action on the redirect that follows the POST too,
        # so the success URL's origin must be allowed when it is another site.
        form_action = "'self'"
        if success_url.startswith(("https://", "http://")):
            parts = urlsplit(success_url)
            form_action += f" {parts.scheme}://{parts.netloc}"
        self._headers = [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("referrer-policy", "no-referrer"),
            (
                "content-security-policy",
                f"default-src 'none'; style-src 'sha256-{style_hash}'; form-action {form_action}; "
                "frame-ancestors 'none'; base-uri 'none'",
            ),
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
        ]

    def picker(self, *, email: str, tenants: Sequence[Tenant], csrf_token: str, head: bool = False) -> Response:
        selected = tenants[0].id if len(tenants) == 1 else ""
        return self._render(
            200,
            "picker.html",
            head,
            title="Select Account",
            email=email,
            tenants=tenants,
            selected=selected,
            csrf_token=csrf_token,
        )

    def error(self, code: ErrorCode, *, retry: bool = False, head: bool = False) -> Response:
        status, title, message, next_step = _ERRORS[code]
        return self._render(
            status,
            "error.html",
            head,
            title=title,
            message=message,
            next_step=next_step,
            retry=retry,
            code=code.value,
        )

    def linked(self, success_url: str, *, head: bool = False) -> Response:
        return self._render(200, "linked.html", head, title="Your purchase is linked", success_url=success_url)

    def redirect(self, location: str, cookies: Sequence[str] = ()) -> Response:
        headers = [*self._headers, ("location", location), ("content-length", "0")]
        headers += [("set-cookie", cookie) for cookie in cookies]
        return Response(303, headers)

    def empty(self, status: int = 200) -> Response:
        """Headers only: for HEAD, which must never trigger a SaaSus call."""
        return Response(status, [*self._headers, ("content-length", "0")])

    def _render(self, status: int, template: str, head: bool, **context: object) -> Response:
        body = self._env.get_template(template).render(style=self._style, lang="en", **context).encode()
        headers = [*self._headers, ("content-length", str(len(body)))]
        return Response(status, headers, b"" if head else body)
