"""The link: ``POST /callback?saasus_mw=select``, the buyer's choice completing the purchase.

The form is checked (the browser's origin, the CSRF token bound to the state, one
choice, a new tenant's name), then one request per purchase at a time completes it
(:mod:`saasus_mw.completion`), and :mod:`.finish` signs the buyer in.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import unicodedata
from collections.abc import Callable

from ..completion import Completed, Completion, PurchaseGuard, Refused, SessionOver, Spent, Unanswered
from ..csrf import matches
from ..errors import ErrorCode
from ..hooks import Failure
from ..pages import Response
from ..request import Request
from ..settings import Settings
from ..state import State, StateCodec, StateTooLarge
from ..urls import Urls, same_origin
from .answers import Answers
from .finish import Finish
from .handoff import EarlyCode
from .returning import Returning

__all__ = ["Link"]

logger = logging.getLogger("saasus_mw")

MAX_TENANT_NAME = 100
WAIT_STEP = 0.05  # seconds between looks at a purchase another request is completing


class Link:
    def __init__(
        self,
        settings: Settings,
        completion: Completion,
        guard: PurchaseGuard,
        codec: StateCodec,
        answers: Answers,
        urls: Urls,
        finish: Finish,
        returning: Returning,
        name_again: Callable[[Request, State, str, str], Response],
    ) -> None:
        self._allow_new_tenant = settings.allow_new_tenant
        self._name_again = name_again  # the picker again, with the name to fix (Picker.name_again)
        self._completion, self._guard, self._codec = completion, guard, codec
        self._answers, self._urls, self._finish, self._returning = answers, urls, finish, returning
        # How long a POST waits for another one of its purchase: that one may look, act
        # and look again, each call bounded by the timeout.
        self.wait_limit = 3 * settings.timeout

    def __call__(self, request: Request, state: State, waited: float) -> Response:
        fail = self._answers.fail
        # Second lines behind the token: browsers say where a POST came from.
        if request.sec_fetch_site not in (None, "same-origin", "none") or not same_origin(request.origin, request.host):
            return fail(ErrorCode.CSRF_FAILED, request)
        if not request.is_form:
            return fail(ErrorCode.BAD_REQUEST, request)
        form = request.form
        # Exactly one token ("" otherwise, which never matches); each page masks it afresh.
        if not matches(request.one("csrf_token", form=True), state.csrf_token):
            return fail(ErrorCode.CSRF_FAILED, request)
        if state.returning:  # nothing to choose: "Continue" signs the returning buyer in
            return self._returning.proceed(request, state)
        tenant_ids, names = form.get("tenant_id", [""]), form.get("new_tenant_name", [])
        if len(tenant_ids) != 1 or len(names) > 1:
            return fail(ErrorCode.BAD_REQUEST, request)
        # The radio button is the choice: a name typed, then abandoned for an existing
        # tenant, still travels without JavaScript (CSS only hides its field).
        tenant_id = tenant_ids[0]
        new = None if tenant_id or not names else names[0]
        if not tenant_id and new is None:
            return fail(ErrorCode.BAD_REQUEST, request)
        if not tenant_id:
            if not self._allow_new_tenant:  # refused before any SaaSus call: nothing is created
                return fail(ErrorCode.TENANT_NOT_ALLOWED, request)
            problem = _name_problem(new or "")
            if problem:
                page = self._name_again(request, state, new or "", problem)
                if page.failure is not None or page.status != 400:  # a failure of its own, or a notice
                    return page
                return dataclasses.replace(page, failure=Failure(code=ErrorCode.BAD_REQUEST, status=400, step=""))

        # One request per purchase at a time: a double click's second POST waits
        # for the first (outside any worker thread) and then finds it completed.
        if not self._guard.enter(state.journey):
            if waited < self.wait_limit:
                return Response(0, [], wait=WAIT_STEP)
            return fail(ErrorCode.IN_PROGRESS, request)
        early: list[EarlyCode] = []  # the sign-in code, asked for alongside the act (see _attempt)
        try:
            record = self._guard.completed(state.journey)
            outcome = self._attempt(request, state, tenant_id, new, early) if record is None else None
        finally:
            self._guard.leave(state.journey)
        if isinstance(outcome, Response):
            return outcome
        # Signing in (a SaaSus call) needs the guard no more.
        if outcome is not None:
            return self._finish(request, state, outcome, first=True, early=early[0] if early else None)
        assert record is not None  # noqa: S101 - no outcome: the purchase was completed before
        # Completed already: only this very page's double click is signed in too, once, at once.
        if record.by(state) and self._guard.hand_off(state, first=False):
            return self._finish(request, state, record.completed, first=False)
        return self._returning.completed(request, state, record)

    def _attempt(
        self, request: Request, state: State, tenant_id: str, new: str | None, early: list[EarlyCode]
    ) -> Completed | Response:
        """Complete the purchase, with the guard held: its tenant, or the page to show."""

        def acting() -> None:
            # The sign-in code needs only the buyer's tokens: asked for as SaaSus is asked to
            # act, in the same round, once the look found this purchase ours to complete (a
            # replayed or spent state never gets this far); handed over only if it completes.
            code = self._finish.early(request, state)
            if code is not None:
                early.append(code)

        # A POST that waited for an unanswered one carries the older cookie: take up
        # what that one attempted, so this one confirms it instead of misjudging it.
        # Only from the same state (its CSRF token): another browser's state for the
        # same purchase holds another session's tokens.
        remembered = self._guard.attempted(state.journey)
        if remembered is not None and hmac.compare_digest(remembered.csrf_token, state.csrf_token):
            state = remembered
        try:
            result = (
                self._completion.link(state, tenant_id, acting=acting)
                if tenant_id
                else self._completion.create(state, (new or "").strip(), acting=acting)
            )
        except SessionOver:
            return self._answers.fail(ErrorCode.STATE_EXPIRED, request)
        except Unanswered as lost:
            # SaaSus may have acted: the state remembers the attempt, so that
            # "Try again" confirms it rather than acting twice or dead-ending.
            self._guard.attempt(state.journey, lost.state)
            response = self._answers.unavailable(lost.error, request)
            try:
                cookies = self._codec.encode(lost.state, self._urls.callback(request.root_path))
            except StateTooLarge:  # the old cookie stays; this process still remembers the attempt
                logger.warning("saasus_mw: the attempt does not fit in the state cookie; it stays in memory only")
                return response
            return dataclasses.replace(response, headers=[*response.headers, *(("set-cookie", c) for c in cookies)])
        if isinstance(result, Refused):
            return self._answers.fail(result.code, request, saasus_error=result.error)
        if isinstance(result, Spent):
            return self._returning.after_look(request, state, result.user)
        self._guard.complete(state.journey, result, state)
        return result


def _name_problem(raw: str) -> str:
    """What is wrong with a new tenant's name (a catalogue key), or ""."""
    name = raw.strip()
    if not name:
        return "name_empty"
    if len(name) > MAX_TENANT_NAME:
        return "name_too_long"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name):
        return "name_control"
    return ""
