"""The core: every decision of the marketplace journey, with no web framework inside.

The adapters hand in request facts and send back the :class:`~saasus_mw.pages.Response`.
The journey, on the configured callback path:

1. ``GET /callback?code=…&registration_token=…`` (from the SaaSus login):
   exchange the code, fetch the user, store the state cookie and redirect (303)
   to ``/callback?saasus_mw=select`` so the address bar forgets the tokens.
2. ``GET /callback?saasus_mw=select``: the tenant picker (re-fetches the tenants
   with the ID token from the state; reloading shows it again until the state expires).
3. ``POST /callback?saasus_mw=select``: check state, CSRF token and tenant, call
   LinkAwsMarketplace, clear the state and redirect (303) to the success URL.

Anything else on that path (a normal login callback) is passed through.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import enum
import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from .errors import ErrorCode
from .pages import LANGUAGES, Choice, Failure, Pages, Response
from .saasus import Credentials, ErrorKind, SaaSus, SaaSusError, Tenant, UserInfo
from .settings import Settings, redirect_target
from .state import State, StateCodec, StateError, StateTooLarge

__all__ = ["Failure", "Flow", "Linked", "Middleware", "Request", "Step"]

AppT = TypeVar("AppT")

logger = logging.getLogger("saasus_mw")

STEP_PARAM = "saasus_mw"
STEP_VALUE = "select"
MAX_BODY = 4096  # the picker form is well under 200 bytes
_UUID = re.compile(r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_FORM_TYPE = "application/x-www-form-urlencoded"


@dataclasses.dataclass(frozen=True)
class Linked:
    """What ``on_linked`` receives once SaaSus has linked the purchase.

    ``credentials`` holds the user's ID and access tokens (hidden from reprs) so the
    host can sign the user in; return a URL to send the user there instead of the
    success URL.
    """

    tenant_id: str
    tenant_name: str
    user_id: str
    email: str
    registration_token_hash: str  # SHA-256 hex of the registration token: matches saasus_mw_journey
    credentials: Credentials


class _Linked(enum.Enum):
    NO = "no"
    BY_THIS_PURCHASE = "by_this_purchase"
    BY_ANOTHER = "by_another"


class Step(enum.Enum):
    START = "start"
    PICKER = "picker"
    LINK = "link"
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
    body: bytes = dataclasses.field(default=b"", repr=False)


_STATE_ERRORS = {
    "missing": ErrorCode.STATE_MISSING,
    "expired": ErrorCode.STATE_EXPIRED,
    "invalid": ErrorCode.STATE_INVALID,
}


class Flow:
    """Built once per middleware; holds no per-request state."""

    max_body = MAX_BODY

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
        self._guard = _LinkGuard(settings.state_ttl)

    # -- routing -----------------------------------------------------------

    def step(self, method: str, query_string: str) -> Step | None:
        """Which step a request on the callback path is, or None to pass it through."""
        if "registration_token" not in query_string and STEP_PARAM not in query_string:
            return None  # cheap pre-check: an ordinary login callback
        query = _parse(query_string)
        if "registration_token" in query:
            return Step.START if method in ("GET", "HEAD") else Step.NOT_ALLOWED
        if query.get(STEP_PARAM) == [STEP_VALUE]:
            if method in ("GET", "HEAD"):
                return Step.PICKER
            return Step.LINK if method == "POST" else Step.NOT_ALLOWED
        return None

    def handle(self, step: Step, request: Request) -> Response:
        """Run one step and log one line about it. Never raises: every failure becomes a page."""
        started = time.perf_counter()
        state: State | None = None
        try:
            if step is Step.START:
                response = self._start(request)
            elif step is Step.NOT_ALLOWED:
                response = self._fail(ErrorCode.METHOD_NOT_ALLOWED, request, allow="GET, HEAD, POST")
            else:
                state = self._codec.decode(request.cookie)
                response = self._picker(request, state) if step is Step.PICKER else self._link(request, state)
        except StateError as exc:
            response = self._state_error(exc, step, request)
        except SaaSusError as exc:
            response = self._unavailable(exc, request)
        except Exception:  # the last line of defence: a page, never a bare 500
            logger.exception("saasus_mw: unexpected error in step %s", step.value)
            response = self._fail(ErrorCode.INTERNAL, request, retry=True)
        self._report(step, request, state, response, time.perf_counter() - started)
        return response

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
            tokens = _parse(request.query_string).get("registration_token", []) if step is Step.START else []
            token = tokens[0] if len(tokens) == 1 else ""
        fields = {
            "saasus_mw_step": step.value,
            "saasus_mw_status": response.status,
            "saasus_mw_duration_ms": round(seconds * 1000, 1),
            # A digest, never the token: enough to follow one purchase through the logs.
            "saasus_mw_journey": _digest(token)[:16] if token else "",
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

    def too_large(self, request: Request) -> Response:
        """The answer to a link POST whose body is over ``max_body`` (the adapters do not read it)."""
        response = self._fail(ErrorCode.BODY_TOO_LARGE, request, retry=True)
        self._report(Step.LINK, request, None, response, 0.0)
        return response

    def _unavailable(self, exc: SaaSusError, request: Request) -> Response:
        """SaaSus failed in a way a later try may not: a retry page."""
        code = ErrorCode.SAASUS_TIMEOUT if exc.kind is ErrorKind.TIMEOUT else ErrorCode.SAASUS_UNAVAILABLE
        return self._fail(code, request, retry=True, saasus_error=exc)

    # -- steps ---------------------------------------------------------------

    def _start(self, request: Request) -> Response:
        query = _parse(request.query_string)
        codes, tokens = query.get("code", []), query.get("registration_token", [])
        if len(codes) != 1 or len(tokens) != 1 or not _UUID.match(codes[0]) or not _UUID.match(tokens[0]):
            return self._fail(ErrorCode.BAD_REQUEST, request)
        if request.method == "HEAD":
            # Link previewers and probes: the single-use code must survive them.
            return self._pages.empty()
        code, registration_token = codes[0], tokens[0]

        # Back button or reload of the callback URL after we already took the
        # code: the state we minted still holds everything, so go on from it.
        try:
            if self._codec.decode(request.cookie).registration_token == registration_token:
                return self._pages.redirect(self._picker_url(request))
        except StateError:
            pass

        # A used or unknown registration token would only fail at the very end:
        # say so now, before the buyer chooses anything.
        if not self._saasus.registration_token_is_unused(registration_token):
            if self._codec.is_done(request.cookie):
                return self._linked_page(request)
            return self._fail(ErrorCode.REGISTRATION_INVALID, request)
        try:
            credentials = self._saasus.exchange_code(code)
        except SaaSusError as exc:
            if exc.kind is ErrorKind.REJECTED:
                return self._fail(ErrorCode.CODE_REJECTED, request)
            raise
        user = self._saasus.user_info(credentials.id_token)
        state = State(
            user_id=user.id,
            registration_token=registration_token,
            access_token=credentials.access_token,
            id_token=credentials.id_token,
        )
        try:
            cookies = self._codec.encode(state, self._callback_url(request))
        except StateTooLarge:
            return self._fail(ErrorCode.STATE_TOO_LARGE, request)
        return self._pages.redirect(self._picker_url(request), cookies)

    def _picker(self, request: Request, state: State) -> Response:
        if request.method == "HEAD":
            return self._pages.empty()
        user = self._user(state, request)
        if isinstance(user, Response):
            return user
        language = self._language(request)
        # A tenant our own lost link attempt may have linked stays selectable: the
        # next POST confirms it with SaaSus instead of showing a dead end.
        linked = self._saasus.linked_tenants([t.id for t in user.tenants]) - {state.pending_tenant}
        text = self._pages.text(language)
        choices = [
            Choice(t.id, t.name, t.plan_id, t.roles, _detail(t, text), text[reason] if reason else "")
            for t in sorted(user.tenants, key=lambda t: (t.name.casefold(), t.id))
            for reason in [self._ineligible(t, linked)]
        ]
        if not any(not c.reason for c in choices):
            return self._fail(ErrorCode.NO_TENANTS, request, signup_url=self._signup_url(request))
        return self._pages.picker(
            email=user.email,
            choices=choices,
            csrf_token=state.csrf_token,
            language=language,
            preselect=state.pending_tenant,
        )

    def _link(self, request: Request, state: State) -> Response:
        # Second lines behind the token: browsers say where a POST came from.
        if request.sec_fetch_site not in (None, "same-origin", "none") or not _same_origin(request):
            return self._fail(ErrorCode.CSRF_FAILED, request, retry=True)
        if (request.content_type or "").split(";")[0].strip().lower() != _FORM_TYPE:
            return self._fail(ErrorCode.BAD_REQUEST, request, retry=True)
        form = _parse(request.body.decode("latin-1"))
        csrf = form.get("csrf_token", [""])
        if len(csrf) != 1 or not hmac.compare_digest(csrf[0].encode(), state.csrf_token.encode()):
            return self._fail(ErrorCode.CSRF_FAILED, request, retry=True)
        tenant_ids = form.get("tenant_id", [])
        if len(tenant_ids) != 1 or not tenant_ids[0]:
            return self._fail(ErrorCode.BAD_REQUEST, request, retry=True)
        tenant_id = tenant_ids[0]

        user = self._user(state, request)
        if isinstance(user, Response):
            return user
        tenant = next((t for t in user.tenants if t.id == tenant_id), None)
        # Whether it is already linked is checked with SaaSus right before linking.
        if tenant is None or self._ineligible(tenant, linked=set()):
            return self._fail(ErrorCode.TENANT_NOT_ALLOWED, request, retry=True)

        # A double-click sends two POSTs: the second waits for the first and
        # never calls SaaSus again once the first has linked.
        with self._guard.attempt(state.registration_token) as already_linked:
            if already_linked:
                return self._linked(request, self._success_url(request), event="already linked")
            try:
                failure = self._link_once(state, tenant_id, request)
            except SaaSusError as exc:
                # SaaSus may have linked before the answer was lost: remember the
                # tenant, so that "Try again" can confirm rather than dead-end.
                response = self._unavailable(exc, request)
                pending = dataclasses.replace(state, pending_tenant=tenant_id)
                cookies = self._codec.encode(pending, self._callback_url(request))
                return dataclasses.replace(response, headers=[*response.headers, *(("set-cookie", c) for c in cookies)])
            if failure is not None:
                return failure
            self._guard.done(state.registration_token)
        destination = self._success_url(request)
        if self._on_linked is not None:
            result = Linked(
                tenant_id=tenant.id,
                tenant_name=tenant.name,
                user_id=user.id,
                email=user.email,
                registration_token_hash=_digest(state.registration_token),
                credentials=Credentials(id_token=state.id_token, access_token=state.access_token),
            )
            try:
                chosen = self._on_linked(result)
            except Exception:  # the purchase is linked: a broken hook must not hide that
                logger.exception("saasus_mw: on_linked hook raised")
                chosen = None
            if chosen:
                destination = self._hook_destination(chosen, request) or destination
        return self._linked(request, destination, event="linked", tenant_id=tenant_id, user_id=user.id)

    def _hook_destination(self, chosen: object, request: Request) -> str:
        """on_linked's URL if it is one we may redirect to (a path in the app, or http(s)), else ""."""
        try:
            if not isinstance(chosen, str):
                raise TypeError(f"on_linked returned a {type(chosen).__name__}, not a URL")
            url = _in_app(request, redirect_target(chosen))
            url.encode("latin-1")  # HTTP headers are latin-1: non-ASCII paths must be percent-encoded
        except (TypeError, ValueError) as exc:
            logger.warning("saasus_mw: on_linked returned an unusable URL (%s); using the success URL", exc)
            return ""
        return url

    def _link_once(self, state: State, tenant_id: str, request: Request) -> Response | None:
        """Link, or find that it is already done; None on success, else the page to show."""
        # An earlier attempt whose answer was lost (timeout, dropped connection)
        # may have linked already: look before linking again.
        ownership = self._link_status(state, tenant_id)
        if ownership is _Linked.BY_THIS_PURCHASE:
            return None
        if ownership is _Linked.BY_ANOTHER:
            return self._fail(ErrorCode.TENANT_ALREADY_LINKED, request, retry=True)
        try:
            self._saasus.link(tenant_id, state.access_token, state.registration_token)
        except SaaSusError as exc:
            # Rejected: perhaps another worker linked this very purchase a moment
            # ago (its single-use token is the backstop). Otherwise SaaSus may have
            # acted before the answer was lost. Either way, look before answering.
            with contextlib.suppress(SaaSusError):
                if self._link_status(state, tenant_id) is _Linked.BY_THIS_PURCHASE:
                    return None
            if exc.kind is ErrorKind.REJECTED:
                return self._fail(ErrorCode.LINK_REJECTED, request, saasus_error=exc)
            raise exc  # a retry page; the state survives and the next POST looks first
        return None

    def _link_status(self, state: State, tenant_id: str) -> _Linked:
        if tenant_id not in self._saasus.linked_tenants([tenant_id]):
            return _Linked.NO
        # The tenant has a Marketplace customer. It is this purchase's only if
        # our registration token has been spent.
        if self._saasus.registration_token_is_unused(state.registration_token):
            return _Linked.BY_ANOTHER
        return _Linked.BY_THIS_PURCHASE

    def _linked(self, request: Request, destination: str, **log: str) -> Response:
        path = self._callback_url(request)
        response = self._pages.redirect(destination, [*self._codec.clear(path), self._codec.done(path)])
        return dataclasses.replace(response, log={f"saasus_mw_{k}": v for k, v in log.items()})

    # -- helpers ---------------------------------------------------------------

    def _user(self, state: State, request: Request) -> Response | UserInfo:
        try:
            user = self._saasus.user_info(state.id_token)
        except SaaSusError as exc:
            if exc.kind in (ErrorKind.REJECTED, ErrorKind.DENIED):  # the ID token expired or was revoked
                return self._fail(ErrorCode.STATE_EXPIRED, request)
            raise
        if user.id != state.user_id:
            return self._fail(ErrorCode.STATE_INVALID, request)
        return user

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
        accepted = parse_accept_header(request.accept_language, LanguageAccept)
        return accepted.best_match(LANGUAGES, default="en") or "en"

    def _linked_page(self, request: Request) -> Response:
        return self._pages.linked(
            self._success_url(request), language=self._language(request), head=request.method == "HEAD"
        )

    def _fail(
        self,
        code: ErrorCode,
        request: Request,
        *,
        retry: bool = False,
        allow: str = "",
        signup_url: str = "",
        saasus_error: SaaSusError | None = None,
    ) -> Response:
        response = self._pages.error(
            code,
            language=self._language(request),
            retry=retry,
            signup_url=signup_url,
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

    def _success_url(self, request: Request) -> str:
        return _in_app(request, self.settings.success_url)

    def _signup_url(self, request: Request) -> str:
        return _in_app(request, self.settings.signup_url) if self.settings.signup_url else ""


class Middleware(Generic[AppT]):
    """What both adapters share: settings validated at construction, one core, the path watched.

    ``settings`` (a :class:`Settings`) or keyword overrides of the environment;
    ``on_linked`` and ``on_error`` are the hooks described on :class:`Linked` and
    :class:`Failure`. A disabled middleware has no core and passes everything on.
    """

    def __init__(
        self,
        app: AppT,
        *,
        settings: Settings | None = None,
        on_linked: Callable[[Linked], str | None] | None = None,
        on_error: Callable[[Failure], object] | None = None,
        **overrides: Any,
    ) -> None:
        if settings is not None and overrides:
            raise TypeError(f"pass either settings= or keyword settings, not both (got {', '.join(sorted(overrides))})")
        if isinstance(inner := getattr(app, "wsgi_app", app), Middleware):  # Flask keeps its WSGI app in .wsgi_app
            from .settings import warn_wrapped_twice  # noqa: PLC0415 - only on this mistake

            warn_wrapped_twice(type(self), type(inner))
        self.app = app
        self.settings = settings or Settings.load(**overrides)
        self._path = self.settings.callback_path
        self._flow = Flow(self.settings, on_linked=on_linked, on_error=on_error) if self.settings.enabled else None


class _LinkGuard:
    """At most one link attempt per registration token at a time in this process,
    and none after one succeeded. Across processes SaaSus's single-use token
    is the backstop (see ``_link_once``)."""

    def __init__(self, ttl: int, max_entries: int = 10_000) -> None:
        # Striped locks: bounded memory, and unrelated purchases rarely share one.
        # They are held during the SaaSus calls; the table has its own short lock.
        self._stripes = [threading.Lock() for _ in range(64)]
        self._table_lock = threading.Lock()
        self._linked: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._ttl, self._max = ttl, max_entries

    @contextlib.contextmanager
    def attempt(self, registration_token: str) -> Iterator[bool]:
        key = _digest(registration_token)
        with self._stripes[int(key[:8], 16) % len(self._stripes)]:
            with self._table_lock:
                expires = self._linked.get(key)
            yield expires is not None and expires > time.monotonic()

    def done(self, registration_token: str) -> None:
        with self._table_lock:
            self._linked[_digest(registration_token)] = time.monotonic() + self._ttl
            while len(self._linked) > self._max:  # oldest first out: memory stays bounded
                self._linked.popitem(last=False)


def _same_origin(request: Request) -> bool:
    """False when the browser says the POST came from another origin."""
    # Our pages send Referrer-Policy: no-referrer, under which browsers send
    # "Origin: null" even for our own form: null tells nothing, so only a real
    # origin is compared (Sec-Fetch-Site and the CSRF token still stand).
    if request.origin in (None, "null") or request.host is None:
        return True
    origin = urlsplit(request.origin)
    default_port = {"https": ":443", "http": ":80"}.get(origin.scheme, "")
    return bool(origin.netloc) and (
        origin.netloc.lower().removesuffix(default_port) == request.host.lower().removesuffix(default_port)
    )


def _detail(tenant: Tenant, text: dict[str, Any]) -> str:
    parts = [text["plan"].format(plan=tenant.plan_id)] if tenant.plan_id else []
    if tenant.roles:
        parts.append(text["role"].format(roles=", ".join(tenant.roles)))
    return " · ".join(parts)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _describe(error: SaaSusError | None) -> str:
    """What SaaSus said, for logs and hooks: kind, status and its error type; never a token."""
    if error is None:
        return ""
    return f"{error.kind.value}:{error.status or '-'}:{error.error_type or '-'}"


def _in_app(request: Request, url: str) -> str:
    """A configured path is inside the app's mount point; an absolute URL is used as is."""
    return request.root_path + url if url.startswith("/") else url


def _parse(query: str) -> dict[str, list[str]]:
    """Never raises: undecodable bytes become U+FFFD and fail validation later."""
    return parse_qs(query, keep_blank_values=True, encoding="utf-8", errors="replace")
