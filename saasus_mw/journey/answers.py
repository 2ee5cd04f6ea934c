"""The pages the steps answer with, in the request's language, with the Failure a hook receives."""

from __future__ import annotations

import dataclasses

from ..errors import ErrorCode
from ..hooks import Failure
from ..pages import LANGUAGES, Offer, Pages, Response
from ..request import Request
from ..saasus import ErrorKind, SaaSusError
from ..settings import Settings
from ..state import LINKED
from ..trace import current as current_trace
from ..urls import Urls

__all__ = ["OFFERS", "Answers", "describe", "where"]

# Where a failure happens decides what can work from there.
ARRIVAL, PICKER, LINK = "arrival", "picker", "link"
_RETRY, _BACK, _CONSOLE, _SUPPORT = Offer(retry=True), Offer(back=True), Offer(console=True), Offer()

# Every ErrorCode, by where it happens (absent: the console). At the arrival the
# sign-in code is single-use and spent (or refused): nothing there can be retried, a
# new code only comes from AWS Marketplace's "Set up your account". On the picker's
# address (a GET, or the POST's answer) "Try again" reloads the picker, and after a
# failed POST confirms the lost attempt; a refused choice or form goes back to the list.
OFFERS: dict[ErrorCode, dict[str, Offer]] = {
    ErrorCode.BAD_REQUEST: {LINK: _BACK},  # a malformed form; at the arrival a malformed address
    ErrorCode.METHOD_NOT_ALLOWED: {PICKER: _BACK, LINK: _BACK},
    ErrorCode.BODY_TOO_LARGE: {LINK: _BACK},
    ErrorCode.CODE_REJECTED: {},  # used or too old: only a new sign-in has a new one
    ErrorCode.REGISTRATION_INVALID: {},
    ErrorCode.STATE_MISSING: {},  # cookies blocked, another browser: nothing here holds the sign-in
    ErrorCode.STATE_EXPIRED: {},
    ErrorCode.STATE_INVALID: {},
    # The sign-in does not fit in the browser: starting again would end the same way.
    ErrorCode.STATE_TOO_LARGE: {ARRIVAL: _SUPPORT, PICKER: _SUPPORT, LINK: _SUPPORT},
    ErrorCode.CSRF_FAILED: {LINK: _BACK},  # the picker again carries this state's own form
    ErrorCode.TENANT_NOT_ALLOWED: {LINK: _BACK},
    ErrorCode.TENANT_ALREADY_LINKED: {LINK: _BACK},
    # Retried, the picker would say the same: an account first (signup_url), or support.
    ErrorCode.NO_TENANTS: {PICKER: _SUPPORT},
    ErrorCode.LINK_REJECTED: {},
    ErrorCode.IN_PROGRESS: {LINK: _RETRY},
    ErrorCode.SAASUS_TIMEOUT: {PICKER: _RETRY, LINK: _RETRY},
    ErrorCode.SAASUS_UNAVAILABLE: {PICKER: _RETRY, LINK: _RETRY},
    ErrorCode.INTERNAL: {PICKER: _RETRY, LINK: _RETRY},
}


def where(request: Request) -> str:
    """Which address the failure is answered at: the arrival's, or the picker's by GET or POST."""
    if "registration_token" in request.query:
        return ARRIVAL
    return PICKER if request.method in ("GET", "HEAD") else LINK


class Answers:
    """:class:`Pages` for one request: its language, failures described.

    Pages come whole, HEAD or not: the router drops the body of a HEAD after compressing
    (:func:`~saasus_mw.pages.delivered`), so HEAD and GET carry the same headers.
    """

    def __init__(self, settings: Settings, pages: Pages | None = None) -> None:
        self.pages = pages or Pages(settings)
        self._locale, self._urls = settings.locale, Urls(settings)

    def language(self, request: Request) -> str:
        return request.language(LANGUAGES, self._locale)

    def fail(
        self,
        code: ErrorCode,
        request: Request,
        *,
        offer: Offer | None = None,
        allow: str = "",
        saasus_error: SaaSusError | None = None,
    ) -> Response:
        """The error page for ``code``, carrying the :class:`Failure` the router logs and hands to on_error.

        What it offers comes from :data:`OFFERS`; ``offer`` adds what only the step knows
        (a sign-up URL, the reason no tenant can take the purchase). Every page also leads
        to the product's home and, when configured, to support, with one reference.
        """
        step = current_trace()
        base = OFFERS[code].get(where(request), _CONSOLE)
        extra = offer or Offer()
        if extra.signup_url:  # an account first, then "Set up your account" again
            base = _CONSOLE
        final = dataclasses.replace(
            base,
            signup_url=extra.signup_url,
            reason=extra.reason,
            home_url=self._urls.continue_(request.root_path),
            support_url=self.pages.support_url,
            reference=(step.journey if step is not None and step.journey else code.value),
        )
        response = self.pages.error(code, final, language=self.language(request), head=request.head)
        if allow:
            response.headers.append(("allow", allow))
        if saasus_error is not None:
            trace_id = saasus_error.trace_id
        else:  # SaaSus inherited the id we sent with the step's calls
            trace_id = step.id if step is not None and step.sent else ""
        failure = Failure(
            code=code, status=response.status, step="", saasus_error=describe(saasus_error), saasus_trace_id=trace_id
        )
        return dataclasses.replace(response, failure=failure)

    def unavailable(self, exc: SaaSusError, request: Request) -> Response:
        """SaaSus failed in a way a later try may not: retried where a retry can work (never the arrival)."""
        code = ErrorCode.SAASUS_TIMEOUT if exc.kind is ErrorKind.TIMEOUT else ErrorCode.SAASUS_UNAVAILABLE
        return self.fail(code, request, saasus_error=exc)

    def linked(self, request: Request, continue_url: str) -> Response:
        """This browser already completed the purchase (Back, reload, a resubmitted form)."""
        return self.pages.linked(continue_url, language=self.language(request))

    def marked(self, request: Request, kind: str, continue_url: str) -> Response:
        """What this browser's "done" marker for the purchase in hand says: linked, or went on signed in."""
        if kind == LINKED:
            return self.linked(request, continue_url)
        language = self.language(request)
        text = self.pages.text(language)["seen_text"]
        return self.pages.notice("seen_title", text, language=language, continue_url=continue_url, head=request.head)


def describe(error: SaaSusError | None) -> str:
    """What SaaSus said, for logs and hooks: kind, status and its error type; never a token."""
    if error is None:
        return ""
    return f"{error.kind.value}:{error.status or '-'}:{error.error_type or '-'}"
