"""The router of the journey: which step a request is, and one log line about each.

No web framework inside: the adapters build a :class:`Request` and send back the
:class:`~saasus_mw.pages.Response`. On the configured callback path:

1. ``GET /callback?code=…&registration_token=…``: :mod:`~saasus_mw.journey.arrival`.
2. ``GET /callback?saasus_mw=select``: :mod:`~saasus_mw.journey.picker`.
3. ``POST /callback?saasus_mw=select``: :mod:`~saasus_mw.journey.link`.

Anything else on that path is the app's: passed through, or, when the sign-in URL is
elsewhere (an SPA), forwarded there with its query string.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
from collections.abc import Callable

from .completion import Completion, PurchaseGuard
from .errors import ErrorCode
from .hooks import Failure, Linked
from .journey.answers import Answers
from .journey.arrival import PURCHASE_PARAM, Arrival
from .journey.finish import Finish
from .journey.link import Link
from .journey.picker import Picker
from .journey.returning import Returning
from .pages import Response, delivered
from .request import MAX_BODY, Request
from .saasus import SaaSus, SaaSusError
from .settings import Settings
from .state import State, StateCodec, StateError, purchase_digest
from .trace import begin as begin_trace
from .trace import end as end_trace
from .trace import follow as follow_trace
from .trace import journey as traced_journey
from .urls import STEP_PARAM, STEP_VALUE, Urls, join, safe_query

__all__ = ["Flow", "Request", "Step"]

logger = logging.getLogger("saasus_mw")

_STATE_ERRORS = {
    "missing": ErrorCode.STATE_MISSING,
    "expired": ErrorCode.STATE_EXPIRED,
    "invalid": ErrorCode.STATE_INVALID,
}


class Step(enum.Enum):
    START = "start"
    PICKER = "picker"
    LINK = "link"
    FORWARD = "forward"
    NOT_ALLOWED = "not_allowed"


class Flow:
    """Built once per middleware; holds no per-request state."""

    max_body = MAX_BODY
    request = staticmethod(Request.build)  # the adapters' one way to build a Request

    def __init__(
        self,
        settings: Settings,
        saasus: SaaSus | None = None,
        *,
        on_linked: Callable[[Linked], str | None] | None = None,
        on_error: Callable[[Failure], object] | None = None,
    ) -> None:
        self.settings, self._on_error = settings, on_error
        saasus = saasus or SaaSus(settings)
        codec = StateCodec.for_settings(settings)
        self._codec, self._answers, self._urls = codec, Answers(settings), Urls(settings)
        guard = PurchaseGuard(settings.state_ttl)
        finish = Finish(saasus, codec, self._answers, self._urls, on_linked)
        returning = Returning(saasus, guard, self._answers, self._urls, finish)
        self.arrival = Arrival(settings, saasus, codec, self._answers, self._urls)
        self.picker = Picker(settings, saasus, guard, self._answers, self._urls, returning)
        completion = Completion(saasus, required_roles=settings.required_roles)
        self.link = Link(
            settings, completion, guard, codec, self._answers, self._urls, finish, returning, self.picker.name_again
        )

    @staticmethod
    def wants_body(step: Step) -> bool:
        """Whether the adapter must read (at most ``max_body`` of) the body before ``handle``."""
        return step is Step.LINK

    def step(self, request: Request) -> Step | None:
        """Which step a request on the callback path is, or None to pass it through."""
        query_string, method = request.query_string, request.method
        if "registration_token" in query_string or STEP_PARAM in query_string:  # cheap pre-check
            query = request.query
            if "registration_token" in query:
                return Step.START if method in ("GET", "HEAD") else Step.NOT_ALLOWED
            if query.get(STEP_PARAM) == [STEP_VALUE]:
                if method in ("GET", "HEAD"):
                    return Step.PICKER
                return Step.LINK if method == "POST" else Step.NOT_ALLOWED
        urls = self._urls
        if urls.forwarding and method in ("GET", "HEAD") and not urls.is_signin(request.root_path, request.host):
            return Step.FORWARD
        return None

    def handle(self, step: Step, request: Request, waited: float = 0.0) -> Response:
        """Run one step and log one line about it. Never raises: every failure becomes a page.

        A POST whose purchase another request is completing gets a response with
        ``wait`` set: the adapter waits that long, outside any worker thread, and
        calls again with the time ``waited`` so far.
        """
        started = time.perf_counter()
        traced = begin_trace(step.value)  # every SaaSus call of this step carries one trace id
        try:
            return self._handle(step, request, waited, started)
        finally:
            end_trace(traced)

    def _handle(self, step: Step, request: Request, waited: float, started: float) -> Response:
        state: State | None = None
        try:
            if step is Step.START:
                response = self.arrival(request)
            elif step is Step.FORWARD:
                forward = join(self._urls.signin(request.root_path), safe_query(request.query_string))
                response = self._answers.pages.redirect(forward)
            elif step is Step.NOT_ALLOWED:
                ours = "GET, HEAD" if "registration_token" in request.query else "GET, HEAD, POST"
                response = self._answers.fail(ErrorCode.METHOD_NOT_ALLOWED, request, allow=ours)
            else:
                # The posted page's own state, of this purchase: others may have been tossed in.
                csrf = request.one("csrf_token", form=True) if step is Step.LINK and request.is_form else ""
                state = self._codec.decode(request.cookie, ref=request.one(PURCHASE_PARAM), csrf=csrf)
                follow_trace(state.journey[:16])
                response = self.picker(request, state) if step is Step.PICKER else self.link(request, state, waited)
        except StateError as exc:
            response = self._state_error(exc, step, request)
        except SaaSusError as exc:
            response = self._answers.unavailable(exc, request)
        except Exception:  # the last line of defence: a page, never a bare 500
            logger.exception("saasus_mw: unexpected error in step %s", step.value)
            response = self._answers.fail(ErrorCode.INTERNAL, request)
        if response.wait:
            return response
        response = delivered(response, gzip_ok=request.accepts_gzip, head=request.head)
        self._report(step, request, state, response, time.perf_counter() - started)
        return response

    def too_large(self, request: Request) -> Response:
        """The answer to a link POST whose body is over ``max_body`` (the adapters do not read it)."""
        response = self._answers.fail(ErrorCode.BODY_TOO_LARGE, request)
        response = delivered(response, gzip_ok=request.accepts_gzip, head=request.head)
        self._report(Step.LINK, request, None, response, 0.0)
        return response

    def _state_error(self, exc: StateError, step: Step, request: Request) -> Response:
        # Back button or a resubmitted form after success: say so, kindly; only for the
        # purchase the address names, whatever marker another site may have tossed in.
        done = self._codec.is_done(request.cookie, request.one(PURCHASE_PARAM)) if exc.reason == "missing" else ""
        if done and step is not Step.START:
            return self._answers.marked(request, done, self._urls.continue_(request.root_path))
        return self._answers.fail(_STATE_ERRORS[exc.reason], request)

    def _report(self, step: Step, request: Request, state: State | None, response: Response, seconds: float) -> None:
        """One structured log line per step, and the host's on_error hook for failures."""
        if state is not None:
            token = state.registration_token
        else:
            token = request.one("registration_token") if step is Step.START else ""
        fields = {
            "saasus_mw_step": step.value,
            "saasus_mw_status": response.status,
            "saasus_mw_duration_ms": round(seconds * 1000, 1),
            # A digest, never the token: enough to follow one purchase through the logs.
            # The journey the step followed (the arrival's token after repairs), else the token's.
            "saasus_mw_journey": traced_journey() or (purchase_digest(token)[:16] if token else ""),
            **response.log,
        }
        failure = response.failure
        if failure is None:
            logger.info("saasus_mw: %s %s", step.value, response.log.get("saasus_mw_event", "ok"), extra=fields)
            return
        fields["saasus_mw_error"] = failure.code.value
        fields["saasus_mw_saasus_error"] = failure.saasus_error
        fields["saasus_mw_saasus_trace_id"] = failure.saasus_trace_id
        level = logging.WARNING if response.status >= 500 or failure.code is ErrorCode.LINK_REJECTED else logging.INFO
        logger.log(level, "saasus_mw: %s failed: %s", step.value, failure.code.value, extra=fields)
        if self._on_error is not None:
            try:
                self._on_error(dataclasses.replace(failure, step=step.value))
            except Exception:  # a broken hook must not break the page
                logger.exception("saasus_mw: on_error hook raised")
