"""The router of the journey: which step a request is and what each step answers.

No web framework inside: the adapters build a :class:`Request` and send back the
:class:`~saasus_mw.pages.Response`. On the configured callback path:

1. ``GET /callback?code=…&registration_token=…`` (from the SaaSus login): check the
   token and exchange the code (at once), store the encrypted state, redirect (303)
   to ``/callback?saasus_mw=select`` so the address bar forgets the tokens.
2. ``GET /callback?saasus_mw=select``: the tenant picker.
3. ``POST /callback?saasus_mw=select``: check state, CSRF token and choice, complete
   the purchase (:mod:`saasus_mw.completion`), then hand the buyer to the app's own
   sign-in with a fresh code, or to the success URL.

Anything else on that path is the app's: passed through, or, when the sign-in URL is
elsewhere (an SPA), forwarded there with its query string.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hmac
import ipaddress
import logging
import re
import time
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from .completion import Completed, Completion, PurchaseGuard, Refused, SessionOver, Unanswered
from .errors import ErrorCode
from .hooks import Failure, Linked
from .pages import LANGUAGES, Choice, Pages, Response
from .saasus import Credentials, ErrorKind, SaaSus, SaaSusError, Tenant, UserInfo
from .settings import Settings, origin_of, redirect_target
from .state import State, StateCodec, StateError, StateTooLarge, purchase_digest

__all__ = ["Flow", "Request", "Step"]

logger = logging.getLogger("saasus_mw")

STEP_PARAM = "saasus_mw"
STEP_VALUE = "select"
MAX_BODY = 4096  # the picker form is well under 600 bytes
# Our own query strings are short (a 1,024-character registration token at most):
# anything longer is not ours to parse, so hostile input costs no more than a small one.
MAX_QUERY = 4096
MAX_FIELDS = 16
MAX_ACCEPT_LANGUAGE = 256
MAX_TENANT_NAME = 100
WAIT_STEP = 0.05  # seconds between looks at a purchase another request is completing
_UUID = re.compile(r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# The spec types registration_token as a plain string: any printable ASCII without spaces.
_TOKEN = re.compile(r"\A[\x21-\x7e]{1,1024}\Z")
_FORM_TYPE = "application/x-www-form-urlencoded"
# Why no tenant can take the purchase, said once for the whole list (any mix: "mixed").
_NO_TENANT_REASONS = {
    frozenset(): "no_tenants_none",
    frozenset({"reason_linked"}): "no_tenants_linked",
    frozenset({"reason_signup"}): "no_tenants_signup",
    frozenset({"reason_role"}): "no_tenants_role",
}
_PRINTABLE_ASCII = re.compile(r"\A[!-~]*\Z")
# Kept as is when a query string is forwarded; anything else is percent-encoded.
_QUERY_SAFE = "!$&'()*+,/:;=?@[]~%-._"


class Step(enum.Enum):
    START = "start"
    PICKER = "picker"
    LINK = "link"
    FORWARD = "forward"
    NOT_ALLOWED = "not_allowed"


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
    scheme: str = "https"
    body: bytes = dataclasses.field(default=b"", repr=False)

    @classmethod
    def build(
        cls, method: str, root_path: str, query_string: str, scheme: str, header: Callable[[str], str | None]
    ) -> Request:
        """The one construction both adapters use; ``header(name)`` reads a request header."""
        return cls(
            method=method,
            root_path=_mount_prefix(root_path),
            query_string=query_string,
            cookie=header("cookie"),
            content_type=header("content-type"),
            host=header("host"),
            origin=header("origin"),
            sec_fetch_site=header("sec-fetch-site"),
            accept_language=header("accept-language"),
            scheme=scheme,
        )

    @functools.cached_property
    def query(self) -> dict[str, list[str]]:
        """The query, parsed once; empty when it is too long to be one of ours."""
        return _parse(self.query_string)

    @functools.cached_property
    def form(self) -> dict[str, list[str]]:
        return _parse(self.body.decode("latin-1"))


_STATE_ERRORS = {
    "missing": ErrorCode.STATE_MISSING,
    "expired": ErrorCode.STATE_EXPIRED,
    "invalid": ErrorCode.STATE_INVALID,
}


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
        self._on_linked, self._on_error = on_linked, on_error
        self.settings = settings
        self._saasus = saasus or SaaSus(settings)
        self._codec = StateCodec(
            settings.signing_keys,
            max_age=settings.state_ttl,
            cookie_name=settings.cookie_name,
            secure=settings.cookie_secure,
            samesite=settings.cookie_samesite,
        )
        self._pages = Pages(settings)
        self._completion = Completion(self._saasus, eligible=lambda t: not self._ineligible(t, set()))
        self._guard = PurchaseGuard(settings.state_ttl)
        # SPA + API: the sign-in page is elsewhere, so ordinary logins on the callback go there.
        signin = urlsplit(settings.signin_url)
        self._forwarding = bool(settings.signin_url) and (bool(signin.netloc) or signin.path != settings.callback_path)
        self._signin_at = (_host(signin.netloc), signin.path)
        self._origins = {origin_of(u) for u in (settings.success_url, settings.signin_url)} - {""}
        # How long a POST waits for another one of its purchase: that one may look, act
        # and look again, each call bounded by the timeout.
        self.wait_limit = 3 * settings.timeout

    # -- routing -----------------------------------------------------------

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
        if self._forwarding and method in ("GET", "HEAD") and not self._is_signin(request):
            return Step.FORWARD
        return None

    def _is_signin(self, request: Request) -> bool:
        """Whether an absolute sign-in URL names this very callback: forwarding there would loop."""
        host, path = self._signin_at
        return bool(host) and host == _host(request.host or "") and path == self._callback_url(request)

    def handle(self, step: Step, request: Request, waited: float = 0.0) -> Response:
        """Run one step and log one line about it. Never raises: every failure becomes a page.

        A POST whose purchase another request is completing gets a response with
        ``wait`` set: the adapter waits that long, outside any worker thread, and
        calls again with the time ``waited`` so far.
        """
        started = time.perf_counter()
        state: State | None = None
        try:
            if step is Step.START:
                response = self._start(request)
            elif step is Step.FORWARD:
                response = self._pages.redirect(_join(self._signin_url(request), _safe_query(request.query_string)))
            elif step is Step.NOT_ALLOWED:
                ours = "GET, HEAD" if "registration_token" in request.query else "GET, HEAD, POST"
                response = self._fail(ErrorCode.METHOD_NOT_ALLOWED, request, allow=ours)
            else:
                state = self._codec.decode(request.cookie)
                if step is Step.PICKER:
                    response = self._picker(request, state)
                else:
                    response = self._complete(request, state, waited)
        except StateError as exc:
            response = self._state_error(exc, step, request)
        except SaaSusError as exc:
            response = self._unavailable(exc, request)
        except Exception:  # the last line of defence: a page, never a bare 500
            logger.exception("saasus_mw: unexpected error in step %s", step.value)
            response = self._fail(ErrorCode.INTERNAL, request, retry=True)
        if not response.wait:
            self._report(step, request, state, response, time.perf_counter() - started)
        return response

    def too_large(self, request: Request) -> Response:
        """The answer to a link POST whose body is over ``max_body`` (the adapters do not read it)."""
        response = self._fail(ErrorCode.BODY_TOO_LARGE, request, retry=True)
        self._report(Step.LINK, request, None, response, 0.0)
        return response

    # -- steps ---------------------------------------------------------------

    def _start(self, request: Request) -> Response:
        codes, tokens = request.query.get("code", []), request.query.get("registration_token", [])
        if len(codes) != 1 or len(tokens) != 1 or not _UUID.match(codes[0]) or not _TOKEN.match(tokens[0]):
            return self._fail(ErrorCode.BAD_REQUEST, request)
        if request.method == "HEAD":
            # Link previewers and probes: the single-use code must survive them.
            return self._pages.empty()
        code, registration_token = codes[0], tokens[0]
        self._warn_if_insecure(request)
        # Back button or reload of the callback URL after we already took the
        # code: the state we minted still holds everything, so go on from it.
        try:
            if self._codec.decode(request.cookie).registration_token == registration_token:
                return self._pages.redirect(self._picker_url(request))
        except StateError:
            pass
        if self._codec.is_done(request.cookie, registration_token):
            return self._linked_page(request)

        # Both at once: nothing else is needed before the redirect.
        unused, credentials = self._saasus.settle(
            lambda: self._saasus.registration_token_is_unused(registration_token),
            lambda: self._saasus.exchange_code(code),
        )
        if unused is False:  # a used or unknown token would only fail at the very end: say so now
            return self._fail(ErrorCode.REGISTRATION_INVALID, request)
        if isinstance(credentials, SaaSusError):
            if isinstance(unused, SaaSusError) and unused.kind is ErrorKind.UNEXPECTED_STATUS:
                raise unused  # SaaSus is misconfigured (SAASUS_BASE_URL): the code is not to blame
            if credentials.kind is ErrorKind.REJECTED:
                return self._fail(ErrorCode.CODE_REJECTED, request)
            raise credentials
        # When the token check went unanswered the picker checks it again.
        state = State(
            registration_token=registration_token,
            access_token=credentials.access_token,
            id_token=credentials.id_token,
            refresh_token=credentials.refresh_token or "",
        )
        try:
            cookies = self._codec.encode(state, self._callback_url(request))
        except StateTooLarge:
            return self._fail(ErrorCode.STATE_TOO_LARGE, request)
        return self._pages.redirect(self._picker_url(request), cookies)

    def _picker(self, request: Request, state: State) -> Response:
        if request.method == "HEAD":
            return self._pages.empty()
        done = self._guard.completed(state.journey)
        if done is not None:  # completed by another request of this browser (a double click)
            return self._finish(request, state, done, first=False)
        user, unused = self._saasus.settle(
            lambda: self._saasus.user_info(state.id_token),
            lambda: self._saasus.registration_token_is_unused(state.registration_token),
        )
        if isinstance(user, SaaSusError) and user.kind in (ErrorKind.REJECTED, ErrorKind.DENIED):
            return self._fail(ErrorCode.STATE_EXPIRED, request)  # the ID token expired or was revoked
        for result in (user, unused):
            if isinstance(result, SaaSusError):
                raise result
        linked = self._saasus.linked_tenants([t.id for t in user.tenants])
        # An attempt whose answer was lost may have spent the token: its next POST confirms.
        if not unused and not (state.attempted_tenant or state.attempted_name):
            return self._fail(ErrorCode.REGISTRATION_INVALID, request)
        # The tenant of our own lost attempt stays selectable: the POST confirms it.
        linked.discard(state.attempted_tenant)
        language = self._language(request)
        text = self._pages.text(language)
        tenants = sorted(user.tenants, key=lambda t: (t.name.casefold(), t.id))
        reasons = [self._ineligible(t, linked) for t in tenants]
        if all(reasons) and not self.settings.allow_new_tenant:
            return self._fail(
                ErrorCode.NO_TENANTS,
                request,
                signup_url=self._signup_url(request),
                reason=text[_NO_TENANT_REASONS.get(frozenset(reasons), "no_tenants_mixed")],
                journey=state.journey[:16],
            )
        choices = [
            Choice(t.id, t.name, t.plan_id, t.roles, _detail(t, text), text[reason] if reason else "")
            for t, reason in zip(tenants, reasons, strict=True)
        ]
        return self._pages.picker(
            email=user.email,
            choices=choices,
            csrf_token=state.csrf_token,
            language=language,
            preselect=state.attempted_tenant,
            new_tenant=self.settings.allow_new_tenant,
            new_tenant_name=state.attempted_name,
        )

    def _complete(self, request: Request, state: State, waited: float) -> Response:
        # Second lines behind the token: browsers say where a POST came from.
        if request.sec_fetch_site not in (None, "same-origin", "none") or not _same_origin(request):
            return self._fail(ErrorCode.CSRF_FAILED, request, retry=True)
        if (request.content_type or "").split(";")[0].strip().lower() != _FORM_TYPE:
            return self._fail(ErrorCode.BAD_REQUEST, request, retry=True)
        form = request.form
        csrf = form.get("csrf_token", [""])
        if len(csrf) != 1 or not hmac.compare_digest(csrf[0].encode(), state.csrf_token.encode()):
            return self._fail(ErrorCode.CSRF_FAILED, request, retry=True)
        tenant_ids, names = form.get("tenant_id", [""]), form.get("new_tenant_name", [])
        if len(tenant_ids) != 1 or len(names) > 1:
            return self._fail(ErrorCode.BAD_REQUEST, request, retry=True)
        # The radio button is the choice: a name typed, then abandoned for an existing
        # tenant, still travels without JavaScript (CSS only hides its field).
        tenant_id = tenant_ids[0]
        new = None if tenant_id or not names else names[0]
        if not tenant_id and new is None:
            return self._fail(ErrorCode.BAD_REQUEST, request, retry=True)
        if not tenant_id:
            if not self.settings.allow_new_tenant:  # refused before any SaaSus call: nothing is created
                return self._fail(ErrorCode.TENANT_NOT_ALLOWED, request, retry=True)
            problem = _name_problem(new or "")
            if problem:
                page = self._pages.name_problem(
                    csrf_token=state.csrf_token, language=self._language(request), name=new or "", problem=problem
                )
                failure = Failure(code=ErrorCode.BAD_REQUEST, status=page.status, step="")
                return dataclasses.replace(page, failure=failure)

        # One request per purchase at a time: a double click's second POST waits
        # for the first (outside any worker thread) and then finds it completed.
        if not self._guard.enter(state.journey):
            if waited < self.wait_limit:
                return Response(0, [], wait=WAIT_STEP)
            return self._fail(ErrorCode.IN_PROGRESS, request, retry=True)
        try:
            done = self._guard.completed(state.journey)
            first = done is None
            if done is None:
                outcome = self._attempt(request, state, tenant_id, new)
                if isinstance(outcome, Response):
                    return outcome
                done = outcome
        finally:
            self._guard.leave(state.journey)
        # Signing in (a SaaSus call) needs the guard no more.
        return self._finish(request, state, done, first=first)

    def _attempt(self, request: Request, state: State, tenant_id: str, new: str | None) -> Completed | Response:
        """Complete the purchase, with the guard held: its tenant, or the page to show."""
        # A POST that waited for an unanswered one carries the older cookie: take up
        # what that one attempted, so this one confirms it instead of misjudging it.
        # Only from the same state (its CSRF token): another browser's state for the
        # same purchase holds another session's tokens.
        remembered = self._guard.attempted(state.journey)
        if remembered is not None and hmac.compare_digest(remembered.csrf_token, state.csrf_token):
            state = remembered
        try:
            result = (
                self._completion.link(state, tenant_id)
                if tenant_id
                else self._completion.create(state, (new or "").strip())
            )
        except SessionOver:
            return self._fail(ErrorCode.STATE_EXPIRED, request)
        except Unanswered as lost:
            # SaaSus may have acted: the state remembers the attempt, so that
            # "Try again" confirms it rather than acting twice or dead-ending.
            self._guard.attempt(state.journey, lost.state)
            response = self._unavailable(lost.error, request)
            try:
                cookies = self._codec.encode(lost.state, self._callback_url(request))
            except StateTooLarge:  # the old cookie stays; this process still remembers the attempt
                logger.warning("saasus_mw: the attempt does not fit in the state cookie; it stays in memory only")
                return response
            return dataclasses.replace(response, headers=[*response.headers, *(("set-cookie", c) for c in cookies)])
        if isinstance(result, Refused):
            return self._fail(result.code, request, retry=True, saasus_error=result.error)
        self._guard.complete(state.journey, result)
        return result

    def _finish(self, request: Request, state: State, done: Completed, *, first: bool) -> Response:
        """The purchase has its tenant: on to on_linked's URL, the success URL, or signed in."""
        event = ("created" if done.created else "linked") if first else "already linked"
        log = {"saasus_mw_event": event, "saasus_mw_tenant_id": done.tenant_id}
        path = self._callback_url(request)
        cookies = [*self._codec.clear(path), self._codec.done(path, state.registration_token)]
        credentials = Credentials(state.id_token, state.access_token, state.refresh_token or None)
        destination = ""
        if first and self._on_linked is not None and done.user is not None:
            log["saasus_mw_user_id"] = done.user.id
            destination = self._hook(request, done, done.user, state, credentials)
        if not destination and self.settings.success_url:
            destination = _in_app(request, self.settings.success_url)
        if not destination:
            try:
                code = self._saasus.create_auth_credentials(credentials)
            except SaaSusError as exc:
                # Linked all the same: never shown as a failed purchase.
                logger.warning("saasus_mw: the purchase is linked, but the sign-in hand-off failed (%s)", exc)
                page = self._pages.handoff_failed(self._continue_url(request), language=self._language(request))
                headers = [*page.headers, *(("set-cookie", c) for c in cookies)]
                return dataclasses.replace(page, headers=headers, log={**log, "saasus_mw_handoff": "failed"})
            destination = _join(self._signin_url(request), "code=" + quote(code, safe=""))
        return dataclasses.replace(self._pages.redirect(destination, cookies), log=log)

    def _hook(self, request: Request, done: Completed, user: UserInfo, state: State, credentials: Credentials) -> str:
        """on_linked's URL if it is one we may redirect to, else "" (logged)."""
        assert self._on_linked is not None  # noqa: S101 - checked by the caller
        result = Linked(
            tenant_id=done.tenant_id,
            tenant_name=done.tenant_name,
            user_id=user.id,
            email=user.email,
            registration_token_hash=purchase_digest(state.registration_token),
            credentials=credentials,
            created=done.created,
        )
        try:
            chosen = self._on_linked(result)
        except Exception:  # the purchase is linked: a broken hook must not hide that
            logger.exception("saasus_mw: on_linked hook raised")
            return ""
        if not chosen:
            return ""
        try:
            if not isinstance(chosen, str):
                raise TypeError(f"on_linked returned a {type(chosen).__name__}, not a URL")
            url = redirect_target(chosen)
            if origin_of(url) and origin_of(url) not in self._origins:
                raise ValueError("an absolute URL must be on the success URL's or the sign-in URL's origin")
            url = _in_app(request, url)
            url.encode("latin-1")  # HTTP headers are latin-1: non-ASCII paths must be percent-encoded
        except (TypeError, ValueError) as exc:
            logger.warning("saasus_mw: on_linked returned an unusable URL (%s); using the success URL", exc)
            return ""
        return url

    # -- helpers ---------------------------------------------------------------

    def _state_error(self, exc: StateError, step: Step, request: Request) -> Response:
        if exc.reason == "missing" and step is not Step.START and self._codec.is_done(request.cookie):
            # Back button or a resubmitted form after success: say so, kindly.
            return self._linked_page(request)
        return self._fail(_STATE_ERRORS[exc.reason], request)

    def _report(self, step: Step, request: Request, state: State | None, response: Response, seconds: float) -> None:
        """One structured log line per step, and the host's on_error hook for failures."""
        if state is not None:
            token = state.registration_token
        else:
            tokens = request.query.get("registration_token", []) if step is Step.START else []
            token = tokens[0] if len(tokens) == 1 else ""
        fields = {
            "saasus_mw_step": step.value,
            "saasus_mw_status": response.status,
            "saasus_mw_duration_ms": round(seconds * 1000, 1),
            # A digest, never the token: enough to follow one purchase through the logs.
            "saasus_mw_journey": purchase_digest(token)[:16] if token else "",
            **response.log,
        }
        failure = response.failure
        if failure is None:
            logger.info("saasus_mw: %s %s", step.value, response.log.get("saasus_mw_event", "ok"), extra=fields)
            return
        fields["saasus_mw_error"] = failure.code.value
        fields["saasus_mw_saasus_error"] = failure.saasus_error
        level = logging.WARNING if response.status >= 500 or failure.code is ErrorCode.LINK_REJECTED else logging.INFO
        logger.log(level, "saasus_mw: %s failed: %s", step.value, failure.code.value, extra=fields)
        if self._on_error is not None:
            try:
                self._on_error(dataclasses.replace(failure, step=step.value))
            except Exception:  # a broken hook must not break the page
                logger.exception("saasus_mw: on_error hook raised")

    def _unavailable(self, exc: SaaSusError, request: Request) -> Response:
        """SaaSus failed in a way a later try may not: a retry page."""
        code = ErrorCode.SAASUS_TIMEOUT if exc.kind is ErrorKind.TIMEOUT else ErrorCode.SAASUS_UNAVAILABLE
        return self._fail(code, request, retry=True, saasus_error=exc)

    def _warn_if_insecure(self, request: Request) -> None:
        if self.settings.cookie_secure and request.scheme == "http" and not _loopback(request.host):
            logger.warning(
                "saasus_mw: the callback arrived over plain http, but SAASUS_MW_COOKIE_SECURE is true: browsers "
                "drop Secure cookies on http, and buyers will see 'we could not find your sign-in'. Serve the "
                "callback over https (behind a proxy, pass X-Forwarded-Proto through ProxyFix or --proxy-headers)."
            )

    def _ineligible(self, tenant: Tenant, linked: set[str]) -> str:
        """Why this tenant cannot take the purchase (a catalogue key), or ""."""
        if tenant.id in linked:
            return "reason_linked"
        if not tenant.completed_sign_up:
            return "reason_signup"
        required = self.settings.required_roles
        if required and not required.intersection(tenant.roles):
            return "reason_role"
        return ""

    def _language(self, request: Request) -> str:
        if self.settings.locale:
            return self.settings.locale
        accepted = parse_accept_header((request.accept_language or "")[:MAX_ACCEPT_LANGUAGE], LanguageAccept)
        return accepted.best_match(LANGUAGES, default="en") or "en"

    def _linked_page(self, request: Request) -> Response:
        return self._pages.linked(
            self._continue_url(request), language=self._language(request), head=request.method == "HEAD"
        )

    def _fail(
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
        response = self._pages.error(
            code,
            language=self._language(request),
            retry=retry,
            signup_url=signup_url,
            reason=reason,
            journey=journey,
            head=request.method == "HEAD",
        )
        if allow:
            response.headers.append(("allow", allow))
        failure = Failure(code=code, status=response.status, step="", saasus_error=_describe(saasus_error))
        return dataclasses.replace(response, failure=failure)

    def _callback_url(self, request: Request) -> str:
        """The callback path as the browser sees it: also the state cookie's Path."""
        return request.root_path + self.settings.callback_path

    def _picker_url(self, request: Request) -> str:
        return f"{self._callback_url(request)}?{STEP_PARAM}={STEP_VALUE}"

    def _signin_url(self, request: Request) -> str:
        signin = self.settings.signin_url
        return _in_app(request, signin) if signin else self._callback_url(request)

    def _continue_url(self, request: Request) -> str:
        """Where "Continue" goes once there is nothing left to hand off: never back to a code-less callback."""
        if self.settings.success_url:
            return _in_app(request, self.settings.success_url)
        if self._forwarding:
            return self._signin_url(request)
        return request.root_path + "/"

    def _signup_url(self, request: Request) -> str:
        return _in_app(request, self.settings.signup_url) if self.settings.signup_url else ""


def _same_origin(request: Request) -> bool:
    """False when the browser says the POST came from another origin.

    The picker is served with ``Referrer-Policy: same-origin``, so browsers send its
    real origin with the form; "null" (what a page under no-referrer, a sandboxed
    frame or a data: URL sends) is not ours. The scheme is not compared: behind a
    TLS-terminating proxy the app sees http while the browser says https.
    """
    if request.origin is None or request.host is None:
        return True  # no browser claim to check (old browsers, other clients): the CSRF token stands
    origin = urlsplit(request.origin)
    default_port = {"https": ":443", "http": ":80"}.get(origin.scheme, "")
    return bool(origin.netloc) and (
        origin.netloc.lower().removesuffix(default_port) == request.host.lower().removesuffix(default_port)
    )


def _mount_prefix(root_path: str) -> str:
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


def _host(netloc: str) -> str:
    """host[:port] as browsers compare it: lower case, without the scheme's default port."""
    return netloc.lower().removesuffix(":443").removesuffix(":80")


def _loopback(host: str | None) -> bool:
    name = urlsplit(f"//{host or ''}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


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


def _detail(tenant: Tenant, text: dict[str, Any]) -> str:
    parts = [text["plan"].format(plan=tenant.plan_id)] if tenant.plan_id else []
    if tenant.roles:
        parts.append(text["role"].format(roles=", ".join(tenant.roles)))
    return " · ".join(parts)


def _describe(error: SaaSusError | None) -> str:
    """What SaaSus said, for logs and hooks: kind, status and its error type; never a token."""
    if error is None:
        return ""
    return f"{error.kind.value}:{error.status or '-'}:{error.error_type or '-'}"


def _in_app(request: Request, url: str) -> str:
    """A configured path is inside the app's mount point; an absolute URL is used as is."""
    return request.root_path + url if url.startswith("/") else url


def _join(url: str, query: str) -> str:
    """``url`` with ``query`` appended, after ``&`` if it has a query already."""
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _safe_query(query: str) -> str:
    """The query string unchanged, except what may not stand in a Location header."""
    # The query arrived as bytes decoded as latin-1: percent-encode those bytes, not their UTF-8.
    return quote(query.encode("latin-1", "replace"), safe=_QUERY_SAFE)


def _parse(query: str) -> dict[str, list[str]]:
    """Never raises: undecodable bytes become U+FFFD and fail validation later; too much is nothing."""
    if len(query) > MAX_QUERY:
        return {}
    try:
        return parse_qs(query, keep_blank_values=True, encoding="utf-8", errors="replace", max_num_fields=MAX_FIELDS)
    except ValueError:  # more than MAX_FIELDS fields
        return {}
