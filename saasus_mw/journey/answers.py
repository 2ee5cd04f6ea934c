"""The pages the steps answer with, in the request's language, with the Failure a hook receives."""

from __future__ import annotations

import dataclasses

from ..errors import ErrorCode
from ..hooks import Failure
from ..pages import LANGUAGES, Pages, Response
from ..request import Request
from ..saasus import ErrorKind, SaaSusError
from ..settings import Settings
from ..state import LINKED

__all__ = ["Answers", "describe"]


class Answers:
    """:class:`Pages` for one request: its language, failures described.

    Pages come whole, HEAD or not: the router drops the body of a HEAD after compressing
    (:func:`~saasus_mw.pages.delivered`), so HEAD and GET carry the same headers.
    """

    def __init__(self, settings: Settings, pages: Pages | None = None) -> None:
        self.pages = pages or Pages(settings)
        self._locale = settings.locale

    def language(self, request: Request) -> str:
        return request.language(LANGUAGES, self._locale)

    def fail(
        self,
        code: ErrorCode,
        request: Request,
        *,
        retry: bool = False,
        allow: str = "",
        signup_url: str = "",
        reason: str = "",
        journey: str = "",
        saasus_error: SaaSusError | None = None,
    ) -> Response:
        """The error page for ``code``, carrying the :class:`Failure` the router logs and hands to on_error."""
        response = self.pages.error(
            code,
            language=self.language(request),
            retry=retry,
            signup_url=signup_url,
            reason=reason,
            journey=journey,
        )
        if allow:
            response.headers.append(("allow", allow))
        failure = Failure(code=code, status=response.status, step="", saasus_error=describe(saasus_error))
        return dataclasses.replace(response, failure=failure)

    def unavailable(self, exc: SaaSusError, request: Request) -> Response:
        """SaaSus failed in a way a later try may not: a retry page."""
        code = ErrorCode.SAASUS_TIMEOUT if exc.kind is ErrorKind.TIMEOUT else ErrorCode.SAASUS_UNAVAILABLE
        return self.fail(code, request, retry=True, saasus_error=exc)

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
