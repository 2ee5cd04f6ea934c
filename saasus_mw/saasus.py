"""The only module that touches saasus-sdk-python.

One pooled, signed client per process, built from :class:`~saasus_mw.settings.Settings`.
It uses the SDK's generated API classes and models but none of its helpers,
because each helper carries a defect (see the README, "SDK defects"). The reads
of every picker and POST (userinfo, verify, ``/customers``, plan names) skip the
generated layers too: signed the same way, sent at once from the calling thread
(:mod:`saasus_mw.fanout`), their answers classified as the SDK's are. The helpers' defects:

- ``Signed*ApiClient`` signs the query string and then lets the generated client
  append it again (``?token=x?token=x``), so every signed call with a query
  fails verification. We sign in ``request()``, where the URL is final.
- ``saasus_sdk_python.client.Client`` is a process-wide singleton that reads
  ``SAASUS_*`` from the environment once, and its module runs ``load_dotenv()``
  at import. We never import it: keys come from our settings (a TOML file alone
  works) and two middlewares with different credentials can share a process.
- Nothing sets an HTTP timeout. Every call here has one.
- ``middleware.Authenticate`` catches exception classes of the unrelated
  ``openapi_client`` package and ``callback.Callback`` lets the 404 for a bad
  code escape. We map every outcome to :class:`SaaSusError` ourselves.
- The generated REST layer logs whole response bodies (tokens) at DEBUG.
  A filter on its loggers drops those records.
- The generated code warns (pydantic v1 APIs) at import and on every call;
  those warnings are silenced for the SDK's modules only.
- Its Configuration sets the process-wide "urllib3" logger to WARNING; we put
  the host's level back. urllib3 then writes our URLs, whose query carries the
  ID token or the code, into request lines, retry warnings and exception
  messages: every record of urllib3's and the SDK's loggers is redacted as it
  will be written (``redact.RedactRecords``), and no SaaSusError carries those exceptions.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import dataclasses
import enum
import functools
import hmac
import json
import logging
import operator
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

from .fanout import Answer, FanOut, Request
from .hooks import Credentials
from .redact import RedactRecords as _Redact
from .redact import redact_secrets as _redact
from .redact import without_userinfo
from .settings import Settings
from .tenants import Tenant, Tenants, alike
from .trace import HEADER as TRACE_HEADER
from .trace import current as current_trace

__all__ = ["PLANS_TTL", "Created", "Credentials", "ErrorKind", "Look", "SaaSus", "SaaSusError", "Tenant", "UserInfo"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
# RFC 3986's unreserved characters, never percent-encoded.
_UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
USER_AGENT = "saasus_mw"
_IDS_PER_CALL = 100
# Plans change rarely: their names are asked at most this often per process (seconds),
# and after a failure not again for PLANS_RETRY (pickers then show no plan line).
PLANS_TTL = 300.0
PLANS_RETRY = 30.0


class ErrorKind(str, enum.Enum):
    TIMEOUT = "timeout"  # no answer in time; SaaSus may or may not have acted
    UNREACHABLE = "unreachable"  # connection refused or dropped
    REJECTED = "rejected"  # a refusal the call's spec documents (_OPERATIONS): a bad code, a used token
    DENIED = "denied"  # 401/403: a token, or our signature (keys, clock), was refused
    SERVER_ERROR = "server_error"  # 5xx, and 408/429: SaaSus cannot answer now
    BAD_RESPONSE = "bad_response"  # an answer that is not what the spec promises
    # A status (or a redirect) the call's spec does not document, such as the 404 of
    # a route that does not exist: a wrong SAASUS_BASE_URL, or a SaaSus fault. Never the buyer's.
    UNEXPECTED_STATUS = "unexpected_status"


class _Operation(NamedTuple):
    endpoint: str  # as the spec names it, for logs
    refused: tuple[int, ...]  # the statuses its spec documents as "SaaSus refused this request"


# Every SDK method _call runs, by name (the spec's operationId in snake case), with the
# refusals its OpenAPI spec lists (tests/openapi, checked by tests/test_saasus.py).
# Whatever the call, 401/403 are DENIED and 5xx/408/429 SERVER_ERROR; a status that is
# none of these is UNEXPECTED_STATUS. A method missing here documents no refusal.
_OPERATIONS = {
    "get_auth_credentials": _Operation("GET /auth/credentials", (404,)),  # an unknown or used code
    "create_auth_credentials": _Operation("POST /auth/credentials", (400,)),
    "get_user_info": _Operation("GET /auth/userinfo", ()),  # only 401: an unknown ID token
    # The spec lists only 500 for these two but says "If the Registration Token is not
    # valid, an error is returned": 400, as verify documents for that same token.
    "link_aws_marketplace": _Operation("PATCH /auth/aws-marketplace/link", (400,)),
    "confirm_sign_up_with_aws_marketplace": _Operation("POST /auth/aws-marketplace/sign-up-confirm", (400,)),
    "get_auth_info": _Operation("GET /auth/auth-info", ()),
    "verify_registration_token": _Operation("POST /awsmarketplace/registration-token/verify", (400,)),
    "get_customers": _Operation("GET /awsmarketplace/customers", ()),
    "get_pricing_plans": _Operation("GET /pricing/plans", ()),
    # The read-only calls of `saasus-mw check --online` (SaaSus.read): their specs document only 500.
    "get_sign_in_settings": _Operation("GET /auth/sign-in-settings", ()),
    "get_settings": _Operation("GET /awsmarketplace/settings", ()),
    "get_listing_status": _Operation("GET /awsmarketplace/listing-status", ()),
    "get_catalog_entity_visibility": _Operation("GET /awsmarketplace/catalog-entity/visibility", ()),
}


class SaaSusError(Exception):
    """A SaaSus call failed. Carries no token: safe to log and to show."""

    def __init__(self, kind: ErrorKind, *, status: int | None = None, error_type: str = "", message: str = "") -> None:
        super().__init__(f"{kind.value}: status={status} type={error_type or '-'}")
        self.kind = kind
        self.status = status
        self.error_type = error_type  # SaaSus's own error "type"
        self.message = message  # SaaSus's own message, for logs; may be shown escaped
        # SaaSus's X-Saasus-Trace-Id for the failed call (the one we sent, inherited,
        # when no answer came): what SaaSus support needs to find it.
        self.trace_id = ""


@dataclasses.dataclass(frozen=True)
class Created:
    """The tenant ConfirmSignUpWithAwsMarketplace created for a purchase."""

    id: str
    name: str


@dataclasses.dataclass(frozen=True)
class AuthInfo:
    callback_url: str  # where SaaSus sends users after signing in
    server_time: float | None  # SaaSus's clock (its Date header), seconds since the epoch; None without one


@dataclasses.dataclass(frozen=True)
class UserInfo:
    id: str
    email: str  # "" for a sign-in-ID user
    tenants: Sequence[Tenant]  # Tenants (columns) as read from SaaSus
    sign_in_id: str = ""  # "" for an e-mail user

    @property
    def login_name(self) -> str:
        """Who is signed in, as the buyer knows it: the e-mail address, or else the sign-in ID."""
        return self.email or self.sign_in_id


class Look(NamedTuple):
    """What a picker or a POST asks SaaSus at once (:meth:`SaaSus.look`): each a value, or its SaaSusError."""

    user: UserInfo | SaaSusError
    unused: bool | SaaSusError  # the registration token, as registration_token_is_unused says
    linked: set[str] | SaaSusError  # which of the tenant ids asked about have a Marketplace customer
    plans: dict[str, str]  # plan display names by id (plan_names), or {} when not asked for


class _Signer:
    """SAASUSSIGV1: hex HMAC-SHA256 over minute + API key + method + host + path?query + body."""

    def __init__(self, saas_id: str, api_key: str, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._prefix = f", SaaSID={saas_id}, APIKey={api_key}"
        self._api_key = api_key
        self._secret = secret.encode()
        self._clock = clock

    def authorization(self, method: str, url: str, body: str) -> str:
        parts = urlsplit(url)
        return self.signed(method, parts.netloc + parts.path + (f"?{parts.query}" if parts.query else ""), body)

    def signed(self, method: str, target: str, body: str) -> str:
        """The Authorization header for ``target``: the URL's host, path and query, as they are signed."""
        minute = time.strftime("%Y%m%d%H%M", time.gmtime(self._clock()))
        message = minute + self._api_key + method.upper() + target + body
        return f"SAASUSSIGV1 Sig={hmac.digest(self._secret, message.encode(), 'sha256').hex()}{self._prefix}"

    def __repr__(self) -> str:
        return "<_Signer secret hidden>"


class _SignedRequests:
    """Mixin for the generated ApiClients: sign what is really sent, always with a timeout."""

    signer: _Signer
    timeout: float

    def request(
        self,
        method: str,
        url: str,
        query_params: Any = None,
        headers: dict[str, str] | None = None,
        post_params: Any = None,
        body: Any = None,
        _preload_content: bool = True,
        _request_timeout: Any = None,
    ) -> Any:
        # The generated REST layer sends json.dumps(body); sign exactly that.
        payload = json.dumps(body) if body is not None else ""
        headers = _signed(self.signer.authorization(method, url, payload), headers or {})
        return super().request(  # type: ignore[misc]
            method, url, query_params, headers, post_params, body, _preload_content, _request_timeout or self.timeout
        )


@functools.cache
def _sdk() -> Any:
    """The SDK, loaded when the first enabled middleware is built: its ~150 modules take most of a
    second, which a disabled middleware, a CLI check without --online and every import of
    saasus_mw never pay."""
    # The generated SDK uses pydantic v1 APIs that warn at import and on every call.
    # They are its business, not the host app's: hide them, and only them.
    from pydantic.warnings import PydanticDeprecatedSince20  # noqa: PLC0415

    warnings.filterwarnings("ignore", category=PydanticDeprecatedSince20, module=r"saasus_sdk_python\.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PydanticDeprecatedSince20)
        # The import system's own lock makes a first load from two threads safe.
        from saasus_sdk_python.src.auth import api_client as auth_client  # noqa: PLC0415
        from saasus_sdk_python.src.auth import configuration as auth_configuration  # noqa: PLC0415
        from saasus_sdk_python.src.auth import exceptions as auth_exceptions  # noqa: PLC0415
        from saasus_sdk_python.src.auth.api import credential_api, saas_user_api, user_info_api  # noqa: PLC0415
        from saasus_sdk_python.src.auth.models import (  # noqa: PLC0415
            confirm_sign_up_with_aws_marketplace_param,
            credentials,
            link_aws_marketplace_param,
        )
        from saasus_sdk_python.src.awsmarketplace import api_client as marketplace_client  # noqa: PLC0415
        from saasus_sdk_python.src.awsmarketplace import configuration as marketplace_configuration  # noqa: PLC0415
        from saasus_sdk_python.src.awsmarketplace import exceptions as marketplace_exceptions  # noqa: PLC0415
        from saasus_sdk_python.src.awsmarketplace.api import aws_marketplace_api  # noqa: PLC0415
        from saasus_sdk_python.src.pricing import api_client as pricing_client  # noqa: PLC0415
        from saasus_sdk_python.src.pricing import configuration as pricing_configuration  # noqa: PLC0415
        from saasus_sdk_python.src.pricing import exceptions as pricing_exceptions  # noqa: PLC0415
        from saasus_sdk_python.src.pricing.api import pricing_plans_api  # noqa: PLC0415
    return SimpleNamespace(
        AuthClient=type("_AuthClient", (_SignedRequests, auth_client.ApiClient), {}),
        MarketplaceClient=type("_MarketplaceClient", (_SignedRequests, marketplace_client.ApiClient), {}),
        PricingClient=type("_PricingClient", (_SignedRequests, pricing_client.ApiClient), {}),
        AuthConfiguration=auth_configuration.Configuration,
        MarketplaceConfiguration=marketplace_configuration.Configuration,
        PricingConfiguration=pricing_configuration.Configuration,
        api_exceptions=(
            auth_exceptions.ApiException,
            marketplace_exceptions.ApiException,
            pricing_exceptions.ApiException,
        ),
        PricingPlansApi=pricing_plans_api.PricingPlansApi,
        CredentialApi=credential_api.CredentialApi,
        SaasUserApi=saas_user_api.SaasUserApi,
        UserInfoApi=user_info_api.UserInfoApi,
        AwsMarketplaceApi=aws_marketplace_api.AwsMarketplaceApi,
        ConfirmSignUpWithAwsMarketplaceParam=confirm_sign_up_with_aws_marketplace_param.ConfirmSignUpWithAwsMarketplaceParam,
        CredentialsParam=credentials.Credentials,
        LinkAwsMarketplaceParam=link_aws_marketplace_param.LinkAwsMarketplaceParam,
    )


class _DropBodies(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("response body")


_REDACT = _Redact()
# A logger's filters do not see its children's records: every logger that logs is named.
_REDACTED_LOGGERS = (
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "urllib3.http2.connection",
    "urllib3.contrib.pyopenssl",
    "urllib3.contrib.emscripten.response",
    "saasus_sdk_python.src.auth.rest",
    "saasus_sdk_python.src.awsmarketplace.rest",
    "saasus_sdk_python.src.pricing.rest",
    "saasus_mw.saasus",
)
for _name in (
    "saasus_sdk_python.src.auth.rest",
    "saasus_sdk_python.src.awsmarketplace.rest",
    "saasus_sdk_python.src.pricing.rest",
):
    logging.getLogger(_name).addFilter(_DropBodies())
for _name in _REDACTED_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACT)


def _signed(authorization: str, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` with our signature (over exactly what is sent), and the step's trace id."""
    headers = {**headers, "Authorization": authorization}
    step = current_trace()
    if step is not None and step.id:  # SaaSus inherits it: every call of the step under one id
        headers[TRACE_HEADER] = step.id
        step.sent = True
    return headers


def _api_client(
    client_class: type[Any],
    configuration: type[Any],
    settings: Settings,
    prefix: str,
    signer: _Signer,
    retries: Any,
) -> Any:
    """One of the SDK's generated ApiClients (its ``client_class``: ours, signing), for the API at ``prefix``."""
    # The generated Configuration sets the process-wide "urllib3" logger to
    # WARNING as a side effect; the host app's logging is not ours to change.
    urllib3_logger = logging.getLogger("urllib3")
    level = urllib3_logger.level
    config = configuration(host=settings.saasus_base_url + prefix)
    urllib3_logger.setLevel(level)
    config.retries = retries
    # Every thread that may call at once keeps its connection: the steps'
    # own threads (max_threads on ASGI) and as many running calls alongside.
    config.connection_pool_maxsize = 2 * settings.max_threads
    client = client_class(config)
    client.signer = signer
    client.timeout = settings.timeout
    client.base_url = settings.saasus_base_url  # named in the log of an unexpected status
    client.user_agent = USER_AGENT
    return client


class SaaSus:
    """Blocking SaaSus calls over one connection pool (and the fan-out's kept connections); one per process.

    The independent calls of one step run at once (:meth:`settle`): each SaaSus round
    trip is 150-250 ms from outside Tokyo, and a buyer waits for every one of them.
    """

    def __init__(self, settings: Settings) -> None:
        import urllib3  # noqa: PLC0415 - loaded with the SDK, when the first enabled middleware is built

        sdk = self._sdk = _sdk()
        signer = _Signer(
            settings.saasus_saas_id, settings.saasus_api_key, settings.saasus_secret_key.get_secret_value()
        )
        # Connect errors are safe to retry once (nothing was sent); read errors
        # are not: a PATCH that reached SaaSus must never be sent twice.
        retries = urllib3.Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0)
        self._auth = _api_client(sdk.AuthClient, sdk.AuthConfiguration, settings, "/auth", signer, retries)
        self._marketplace = _api_client(
            sdk.MarketplaceClient, sdk.MarketplaceConfiguration, settings, "/awsmarketplace", signer, retries
        )
        # Same signing, timeout and retries for the Pricing API (plan names on the picker).
        self._pricing = _api_client(sdk.PricingClient, sdk.PricingConfiguration, settings, "/pricing", signer, retries)
        # One pool for all APIs: they live on the same host.
        self._marketplace.rest_client.pool_manager = self._auth.rest_client.pool_manager
        self._pricing.rest_client.pool_manager = self._auth.rest_client.pool_manager
        self._plans = _PlanNames()
        self._base_url = settings.saasus_base_url  # named in the log of an unexpected status
        # The calls a step runs alongside its own thread (threads start on first use).
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=settings.max_threads, thread_name_prefix="saasus_mw"
        )
        # The reads of every picker and POST, past the SDK's layers: fanout.py says why.
        # (The pool, not this object, goes to them: no cycle keeps a dropped client alive.)
        parallel = functools.partial(_at_once, self._pool)
        self._reads = _Reads(settings, signer, (self._auth, self._marketplace, self._pricing), parallel)

    def exchange_code(self, code: str) -> Credentials:
        """``GET /auth/credentials`` with the single-use code (auth flow ``tempCodeAuth``)."""
        api = self._sdk.CredentialApi(self._auth)
        result = _call(api.get_auth_credentials, code=code, auth_flow="tempCodeAuth")
        return Credentials(result.id_token, result.access_token, result.refresh_token)

    def refresh(self, refresh_token: str) -> Credentials:
        """``GET /auth/credentials`` with a refresh token (auth flow ``refreshTokenAuth``): new ID and access tokens.

        The spec makes the answer's refresh token optional: without one, the one given is kept in the result.
        """
        api = self._sdk.CredentialApi(self._auth)
        result = _call(api.get_auth_credentials, auth_flow="refreshTokenAuth", refresh_token=refresh_token)
        return Credentials(result.id_token, result.access_token, result.refresh_token or refresh_token)

    def user_info(self, id_token: str) -> UserInfo:
        """``GET /auth/userinfo``: who the user is and which tenants they belong to."""
        (answer,) = self._reads.ask([self._reads.user_info(id_token)])
        return _read_user_info(answer, self._base_url)

    def link(self, tenant_id: str, access_token: str, registration_token: str) -> None:
        """``PATCH /auth/aws-marketplace/link`` (LinkAwsMarketplace)."""
        param = self._sdk.LinkAwsMarketplaceParam(
            tenant_id=tenant_id, access_token=access_token, registration_token=registration_token
        )
        _call(self._sdk.SaasUserApi(self._auth).link_aws_marketplace, param)

    def registration_token_is_unused(self, registration_token: str) -> bool:
        """``POST /awsmarketplace/registration-token/verify``: False once it has been used (or never existed)."""
        (answer,) = self._reads.ask([self._reads.verify(registration_token)])
        return _read_unused(answer, self._base_url)

    def linked_tenants(self, tenant_ids: Sequence[str]) -> set[str]:
        """``GET /awsmarketplace/customers``: which of these tenants already have a Marketplace customer."""
        return _read_linked(self._reads.ask(self._reads.customers(tenant_ids)), self._base_url)

    def plan_names(self) -> dict[str, str]:
        """``GET /pricing/plans``: each plan's display name by its id, asked at most every PLANS_TTL seconds.

        Never raises: when the names cannot be had (SaaSus down, the Pricing API not
        used), the answer is empty for PLANS_RETRY seconds, and pickers show no plan.
        """
        return self._plans.get(lambda: _read_plans(self._reads.ask([self._reads.plans()])[0], self._base_url))

    def look(
        self, id_token: str, registration_token: str, tenant_ids: Sequence[str] = (), *, plans: bool = False
    ) -> Look:
        """userinfo, verify, ``/customers`` for ``tenant_ids`` and (``plans``) the plan names, asked at once.

        All from this thread (fanout.py): every picker and POST asks these, and a pool
        thread per call costs more CPU than the call itself. One round trip for all on kept connections.
        """
        reads, names = self._reads, self._plans.cached() if plans else {}
        batches = reads.customers(tenant_ids)
        requests = [reads.user_info(id_token), reads.verify(registration_token), *batches]
        answers = reads.ask([*requests, *([reads.plans()] if names is None else [])])
        base = self._base_url
        user = _settled(lambda: _read_user_info(answers[0], base))
        unused = _settled(lambda: _read_unused(answers[1], base))
        linked = _settled(lambda: _read_linked(answers[2 : len(requests)], base))
        if names is None:
            names = self._plans.get(lambda: _read_plans(answers[-1], base), asked=True)
        return Look(user, unused, linked, names)

    def plan_unknown(self) -> None:
        """A tenant named a plan the cached names lack (one made since): ask again within PLANS_RETRY."""
        self._plans.shorten()

    def create_auth_credentials(self, credentials: Credentials) -> str:
        """``POST /auth/credentials`` (CreateAuthCredentials): a fresh temp code, valid 10 s.

        The app's own sign-in exchanges it exactly like a code from the SaaSus login.
        """
        body = self._sdk.CredentialsParam(
            id_token=credentials.id_token,
            access_token=credentials.access_token,
            refresh_token=credentials.refresh_token or None,
        )
        api = self._sdk.CredentialApi(self._auth)
        answer = _call(api.create_auth_credentials_with_http_info, body=body, _preload_content=False)
        return _call(lambda: _text(json.loads(answer.raw_data)["code"]))

    def sign_up(self, tenant_name: str, access_token: str, registration_token: str) -> Created:
        """``POST /auth/aws-marketplace/sign-up-confirm``: a new tenant, already linked to the purchase."""
        param = self._sdk.ConfirmSignUpWithAwsMarketplaceParam(
            tenant_name=tenant_name, access_token=access_token, registration_token=registration_token
        )
        api = self._sdk.SaasUserApi(self._auth)
        answer = _call(api.confirm_sign_up_with_aws_marketplace_with_http_info, param, _preload_content=False)
        # Only the id and name are read: the Tenant model's other required fields
        # (billing, plan history) are none of our business and must not fail a purchase.
        tenant = _call(lambda: json.loads(answer.raw_data))
        return _call(lambda: Created(id=_text(tenant["id"]), name=_text(tenant["name"])))

    def settle(self, *calls: Callable[[], Any]) -> list[Any]:
        """Run independent calls of one step at once; each one's result, or the SaaSusError it raised.

        The first runs in the calling thread, the others in this client's pool. Every
        call has its own timeout, so waiting for all of them is bounded; a failure in
        one leaves the others to finish (their answers may be needed: a lost link is
        confirmed from them). From a pool thread the calls run one after another, so
        a full pool can never wait on itself.
        """
        return _at_once(self._pool, [functools.partial(_settled, call) for call in calls])

    def begin(self, call: Callable[[], Any]) -> Callable[[], Any]:
        """Start one call now, alongside whatever the caller does next; the function returned waits
        for its result, or the SaaSusError it raised. Nobody need wait: an unwanted call just ends."""
        if _IN_POOL.active:  # a full pool must never wait on itself: run it now
            result = _settled(call)
            return lambda: result
        # In the step's context, as settle's calls: the step's trace id goes with it.
        return self._pool.submit(contextvars.copy_context().run, _in_pool, functools.partial(_settled, call)).result

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._auth.rest_client.pool_manager.clear()
        self._reads.close()

    def auth_info(self) -> AuthInfo:
        """``GET /auth/auth-info`` (signed, read-only): the callback URL registered in the SaaSus console."""
        return self._get("get_auth_info", lambda data, headers: AuthInfo(_text(data["callback_url"]), _date(headers)))

    def read(self, operation: str, pick: Callable[[Any], _T]) -> _T:
        """A signed, read-only GET, named by its SDK method (``_READS``); ``pick`` takes what is wanted from the
        JSON answer, and what it cannot find there (a KeyError, TypeError or ValueError) is BAD_RESPONSE."""
        return self._get(operation, lambda data, headers: pick(data))

    def _get(self, operation: str, pick: Callable[[Any, Any], _T]) -> _T:
        # Only `saasus-mw check --online` reads these: their API classes load here, not at start-up.
        api_class, on_marketplace = _read_apis()[operation]
        api = api_class(self._marketplace if on_marketplace else self._auth)
        answer = _call(getattr(api, f"{operation}_with_http_info"), _preload_content=False)
        return _call(lambda: pick(json.loads(answer.raw_data), answer.headers or {}))


# The calls SaaSus.read makes: SDK method -> whether it is on the AWS Marketplace API (else the Auth API).
_READS = {
    "get_auth_info": False,
    "get_sign_in_settings": False,
    "get_settings": True,
    "get_listing_status": True,
    "get_catalog_entity_visibility": True,
}


@functools.cache
def _read_apis() -> dict[str, tuple[Any, bool]]:
    from pydantic.warnings import PydanticDeprecatedSince20  # noqa: PLC0415 - loaded with the SDK

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PydanticDeprecatedSince20)
        from saasus_sdk_python.src.auth.api.auth_info_api import AuthInfoApi  # noqa: PLC0415

    marketplace = _sdk().AwsMarketplaceApi
    return {
        name: (marketplace if on_marketplace else AuthInfoApi, on_marketplace)
        for name, on_marketplace in _READS.items()
    }


def _date(headers: Any) -> float | None:
    """SaaSus's clock (its Date header), for the skew report; a missing or odd header only loses that."""
    import email.utils  # noqa: PLC0415 - only check --online reads it

    try:
        return email.utils.parsedate_to_datetime(headers.get("Date", "")).timestamp()
    except (TypeError, ValueError):
        return None


class _PlanNames:
    """Plan display names by id, per process, for a short time; thread-safe, never locked across a call."""

    def __init__(self) -> None:
        self._until, self._names = 0.0, dict[str, str]()
        self._lock = threading.Lock()

    def cached(self) -> dict[str, str] | None:
        """The names while they are fresh, else None."""
        with self._lock:
            return self._names if time.monotonic() < self._until else None

    def get(self, ask: Callable[[], dict[str, str]], *, asked: bool = False) -> dict[str, str]:
        """The fresh names, else what ``ask`` returns, kept; ``asked``: take ``ask``'s answer even if fresh now."""
        names = None if asked else self.cached()
        if names is not None:
            return names
        # Two pickers missing the cache at once both ask: cheaper than making one wait.
        try:
            names, until = ask(), time.monotonic() + PLANS_TTL
        except SaaSusError as exc:
            logger.info("saasus_mw: plan names unavailable (%s); pickers show no plan for now", exc)
            names, until = {}, time.monotonic() + PLANS_RETRY
        with self._lock:
            self._until, self._names = until, names
        return names

    def shorten(self) -> None:
        with self._lock:
            self._until = min(self._until, time.monotonic() + PLANS_RETRY)


class _Reads:
    """The reads of every picker and POST (userinfo, verify, ``/customers``, plan names) as requests
    for the fan-out, each sent as the generated operation would send it and signed as
    ``_SignedRequests`` signs; ``_read_*`` classify their answers as ``_call`` does the SDK's."""

    def __init__(self, settings: Settings, signer: _Signer, clients: tuple[Any, Any, Any], parallel: Any) -> None:
        # A 1,000-tenant picker asks 2 or 3 requests, then 10, each on a connection of its own: kept
        # for several such pickers at once, so that warm pickers open none (SaaSus closes idle ones).
        keep = max(20, 4 * settings.max_threads)
        self._fanout = FanOut(settings.saasus_base_url, timeout=settings.timeout, keep=keep, parallel=parallel)
        self._signer = signer
        self._auth, self._marketplace, self._pricing = clients
        # Each API's base URL split once (not the long /customers URLs on every request): what is
        # signed (host and path) and what goes on the request line (the path).
        self._bases = {id(c): _split_base(c.configuration.host) for c in clients}

    def ask(self, requests: Sequence[Request]) -> list[Answer | Exception]:
        return self._fanout.ask(requests)

    def close(self) -> None:
        self._fanout.close()

    def user_info(self, id_token: str) -> Request:
        return self._request(self._auth, "GET", "/userinfo?token=" + quote(id_token, safe=""))

    def verify(self, registration_token: str) -> Request:
        return self._request(
            self._marketplace, "POST", "/registration-token/verify", {"registration_token": registration_token}
        )

    def customers(self, tenant_ids: Sequence[str]) -> list[Request]:
        # tenant_ids=a&tenant_ids=b...: batches keep each URL far below server limits (~8 KB).
        requests = []
        for start in range(0, len(tenant_ids), _IDS_PER_CALL):
            ids = tenant_ids[start : start + _IDS_PER_CALL]
            # SaaSus's ids are UUIDs, which need no percent-encoding: checked for all at once.
            if not _unreserved("".join(ids)):
                ids = [quote(i, safe="") for i in ids]
            query = "tenant_ids=" + "&tenant_ids=".join(ids)
            requests.append(self._request(self._marketplace, "GET", f"/customers?{query}"))
        return requests

    def plans(self) -> Request:
        return self._request(self._pricing, "GET", "/plans")

    def _request(self, client: Any, method: str, path: str, body: Any = None) -> Request:
        signed_base, line_base = self._bases[id(client)]  # .../v1/auth, .../v1/awsmarketplace, .../v1/pricing
        headers = {**client.default_headers, "Accept": "application/json"}  # as the generated code sends
        payload = "" if body is None else json.dumps(body)  # as the generated REST layer writes it
        if body is not None:
            headers["Content-Type"] = "application/json"
        signed = _signed(self._signer.signed(method, signed_base + path, payload), headers)
        return Request(method, line_base + path, signed, payload.encode() if body is not None else None)


def _unreserved(text: str) -> bool:
    """Whether ``text`` is all unreserved characters: as bytes, with none left once they are deleted
    (a 3.6 KB batch of ids in a twentieth of a regular expression's time)."""
    return text.isascii() and not text.encode().translate(None, _UNRESERVED)


def _split_base(base_url: str) -> tuple[str, str]:
    """An API's base URL as its requests' URLs begin when signed (host and path) and on the request line (path)."""
    parts = urlsplit(base_url)
    return parts.netloc + parts.path, parts.path


def _read_user_info(answer: Answer | Exception, base_url: str) -> UserInfo:
    return _call(_user_info_from_json, _answered(answer, "get_user_info", base_url))


def _read_unused(answer: Answer | Exception, base_url: str) -> bool:
    try:
        _answered(answer, "verify_registration_token", base_url)
    except SaaSusError as exc:
        if exc.kind is ErrorKind.REJECTED:
            return False
        raise
    return True


def _read_linked(answers: Sequence[Answer | Exception], base_url: str) -> set[str]:
    linked: set[str] = set()
    for answer in answers:
        linked |= _call(_customer_tenants_from_json, _answered(answer, "get_customers", base_url))
    return linked


def _read_plans(answer: Answer | Exception, base_url: str) -> dict[str, str]:
    return _call(_plan_names_from_json, _answered(answer, "get_pricing_plans", base_url))


class _PoolThread(threading.local):
    active = False  # True in this client's pool threads: their own calls run inline


_IN_POOL = _PoolThread()


def _settled(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except SaaSusError as exc:
        return exc


def _in_pool(call: Callable[[], _T]) -> _T:
    _IN_POOL.active = True
    return call()


def _at_once(pool: concurrent.futures.Executor, calls: Sequence[Callable[[], _T]]) -> list[_T]:
    """Each call's result, the calls run at once: the first in this thread, the others in ``pool``,
    each in a copy of this thread's context (the step's trace id goes along). From a pool thread
    they run one after another, so a full pool can never wait on itself."""
    if len(calls) <= 1 or _IN_POOL.active:
        return [call() for call in calls]
    futures = [pool.submit(contextvars.copy_context().run, _in_pool, call) for call in calls[1:]]
    first = calls[0]()
    return [first, *(future.result() for future in futures)]


def _call(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    import urllib3  # noqa: PLC0415 - loaded by SaaSus(): a lookup here, not a load

    try:
        return function(*args, **kwargs)
    except _sdk().api_exceptions as exc:
        error = _from_status(exc.status, exc.body, _operation_name(function), _base_url(function))
        error.trace_id = _text_or_empty((exc.headers or {}).get(TRACE_HEADER))
    except urllib3.exceptions.MaxRetryError as exc:
        if isinstance(exc.reason, urllib3.exceptions.ResponseError):  # a redirect: no SaaSus API sends one
            error = _unexpected(_operation_name(function), _base_url(function), None)
        else:
            error = SaaSusError(_network_error_kind(exc.reason))
    except urllib3.exceptions.HTTPError as exc:
        error = SaaSusError(_network_error_kind(exc))
    except (ValueError, TypeError, AttributeError, LookupError):
        # Malformed JSON or a body that does not fit the SDK's models (pydantic's
        # ValidationError is a ValueError).
        error = SaaSusError(ErrorKind.BAD_RESPONSE)
    # Raised outside the handlers: the SDK's and urllib3's exceptions carry the
    # URL (with the token or code), and are neither its cause nor its context.
    raise _traced(error) from None


def _answered(answer: Answer | Exception, operation: str, base_url: str) -> bytes:
    """The body of a 2xx answer from the fan-out; anything else raised as the SaaSusError _call raises."""
    if isinstance(answer, Exception):
        error = SaaSusError(_network_error_kind(answer))
    elif 200 <= answer.status < 300:
        return answer.data
    else:
        # A redirect, as urllib3 tells one (the SDK's pool refused to follow it): no SaaSus API sends one.
        if answer.status in (301, 302, 303, 307, 308) and "location" in answer.headers:
            error = _unexpected(operation, base_url, None)
        else:
            error = _from_status(answer.status, answer.data, operation, base_url)
        error.trace_id = _text_or_empty(answer.headers.get(TRACE_HEADER.lower()))  # the fan-out's: lower case
    raise _traced(error) from None


def _traced(error: SaaSusError) -> SaaSusError:
    step = current_trace()
    if not error.trace_id and step is not None:  # no answer: SaaSus knows the call by the id we sent
        error.trace_id = step.id
    return error


@functools.cache
def _user_info_decoder() -> tuple[Any, Any, type[Exception]]:
    """JSON decoders for the UserInfo schema's fields we use (and a tenant's ``envs``), and the error they raise.

    msgspec, not json + our own checks: a user in 1,000 tenants is a 477 KB answer, read on
    every picker and POST, and msgspec reads it into typed fields, as strictly (a string is a
    string, a boolean a boolean; unknown fields skipped, never built), in a third of the CPU
    (bench/picker_cpu.py). Loaded with the first call, so importing saasus_mw never pays.
    """
    import msgspec  # noqa: PLC0415

    # Built from types, not annotations: the module's own Tenant must not stand in for them.
    # gc=False: objects that can hold no cycle, which the garbage collector need not track.
    role = msgspec.defstruct("Role", [("role_name", str)], gc=False)
    env = msgspec.defstruct("Env", [("roles", tuple[role, ...])], gc=False)  # type: ignore[valid-type]
    tenant = msgspec.defstruct(
        "Tenant",
        [
            ("id", str),
            ("name", str),
            ("completed_sign_up", bool),
            # Kept as its bytes: the tenants of one user share a few envs, each decoded once (_Roles).
            ("envs", msgspec.Raw),
            ("plan_id", str | None, None),  # optional in the spec: absent or null
        ],
        gc=False,
    )
    user = msgspec.defstruct(
        "User",
        [
            ("id", str),
            ("email", str),
            ("tenants", list[tenant]),  # type: ignore[valid-type]
            # Required by the spec, but SaaSus answers from before sign-in IDs (2026-04) lack it.
            ("sign_in_id", str, ""),
        ],
        gc=False,
    )
    return msgspec.json.Decoder(user), msgspec.json.Decoder(tuple[env, ...]), msgspec.DecodeError  # type: ignore[valid-type]


class _Roles(dict[bytes, tuple[str, ...]]):
    """A tenant's role names (in any environment, sorted) by its ``envs`` as SaaSus wrote them:
    each distinct value decoded, as strictly as the rest, the first time it is asked for."""

    def __init__(self, decoder: Any) -> None:
        super().__init__()
        self._decoder = decoder

    def __missing__(self, envs: bytes) -> tuple[str, ...]:
        names = {role.role_name for env in self._decoder.decode(envs) for role in env.roles}
        roles = self[envs] = tuple(sorted(names))
        return roles


def _roles(envs: list[Any], decoder: Any, error: type[Exception]) -> tuple[tuple[str, ...], ...]:
    """Each tenant's role names, from its ``envs`` as SaaSus wrote them (msgspec.Raw); ValueError
    naming the first tenant whose ``envs`` are not the spec's, as one decoder would have."""
    roles = _Roles(decoder)
    try:
        # A user often holds the same roles in every tenant: one comparison of bytes each (in C), not a copy.
        if alike(envs):
            return (roles[bytes(envs[0])],) * len(envs)
        return tuple(map(roles.__getitem__, map(bytes, envs)))
    except error:  # which tenant's, as one decoder for all of userinfo would have said
        for index, raw in enumerate(envs):
            try:
                decoder.decode(raw)
            except error as exc:
                said, where = str(exc), f"`$.tenants[{index}].envs"
                raise ValueError(said.replace("`$", where, 1) if "`$" in said else f"{said} - at {where}`") from None
        raise


def _user_info_from_json(raw: bytes) -> UserInfo:
    """The UserInfo schema's fields we use; anything missing or mistyped is a ValueError."""
    decoder, envs_decoder, error = _user_info_decoder()
    try:
        data = decoder.decode(raw)
        # Column by column, each in one pass of C: no Python frame, and no object, per tenant.
        tenants = data.tenants
        ids, names, completed = tuple(map(_ID, tenants)), tuple(map(_NAME, tenants)), tuple(map(_COMPLETED, tenants))
        roles = _roles([*map(_ENVS, tenants)], envs_decoder, error)
        columns = Tenants(ids, names, completed, tuple(map(_PLAN, tenants)), roles)
        return UserInfo(id=data.id, email=data.email, tenants=columns, sign_in_id=data.sign_in_id)
    except error as exc:  # msgspec's errors are not ValueErrors: _call makes this BAD_RESPONSE
        raise ValueError(str(exc)) from None


_ID, _NAME, _PLAN, _ENVS = map(operator.attrgetter, ("id", "name", "plan_id", "envs"))
_COMPLETED = operator.attrgetter("completed_sign_up")


def _customer_tenants_from_json(raw: bytes) -> set[str]:
    """The tenant ids of a Customers answer; anything missing or mistyped is a ValueError/TypeError/KeyError."""
    return {_text(c["tenant_id"]) for c in json.loads(raw)["customers"]}


def _plan_names_from_json(raw: bytes) -> dict[str, str]:
    """``PricingPlans``: id -> display_name (its feature menus are none of the picker's business)."""
    return {_text(p["id"]): _text(p["display_name"]) for p in json.loads(raw)["pricing_plans"]}


def _text_or_empty(value: object) -> str:
    """A header value as we may log it: printable ASCII, at most 100 characters, else ""."""
    return value if isinstance(value, str) and value.isascii() and value.isprintable() and len(value) <= 100 else ""


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _network_error_kind(error: object) -> ErrorKind:
    import urllib3  # noqa: PLC0415 - loaded by SaaSus()

    # NewConnectionError subclasses ConnectTimeoutError in urllib3, yet a
    # refused connection is not a timeout: test it first.
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        return ErrorKind.UNREACHABLE
    # urllib3's, or the socket's own (a read on one of the fan-out's connections).
    if isinstance(error, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return ErrorKind.TIMEOUT
    return ErrorKind.UNREACHABLE


def _from_status(status: int | None, body: Any, operation: str, base_url: str) -> SaaSusError:
    """A SaaSus answer that is not a success, classified by the call's spec (``_OPERATIONS``)."""
    if not status:  # the generated client's status 0: TLS failure
        return SaaSusError(ErrorKind.UNREACHABLE)
    error_type = message = ""
    try:
        body = json.loads(body or "")
        if isinstance(body, dict):
            # SaaSus's words, for logs: they might echo a request, so they are redacted too.
            error_type = _redact(str(body.get("type") or "")[:100])
            message = _redact(str(body.get("message") or "")[:300])
    except ValueError:
        pass
    if status in (401, 403):
        kind = ErrorKind.DENIED
    elif status >= 500 or status in (408, 429):  # SaaSus's side, or too many requests: worth another try
        kind = ErrorKind.SERVER_ERROR
    elif status in _operation(operation).refused:
        kind = ErrorKind.REJECTED
    else:
        return _unexpected(operation, base_url, status, error_type, message)
    return SaaSusError(kind, status=status, error_type=error_type, message=message)


def _operation_name(function: Callable[..., Any]) -> str:
    """The SDK method's name, its spec's operationId in snake case: the key of ``_OPERATIONS``."""
    return str(getattr(function, "__name__", "")).removesuffix("_with_http_info")


def _base_url(function: Callable[..., Any]) -> str:
    # The generated API object's client is ours (_client): it knows its base URL.
    return str(getattr(getattr(getattr(function, "__self__", None), "api_client", None), "base_url", ""))


def _operation(name: str) -> _Operation:
    return _OPERATIONS.get(name, _Operation(name, ()))


def _unexpected(
    operation: str, base_url: str, status: int | None, error_type: str = "", message: str = ""
) -> SaaSusError:
    """An answer the call's spec does not document: most likely SAASUS_BASE_URL is wrong. Logged once, at ERROR."""
    parts = urlsplit(without_userinfo(base_url))  # scheme, host and path only: no credentials, query or fragment
    base_url = urlunsplit(parts._replace(query="", fragment="")) or "unknown"
    endpoint = _operation(operation).endpoint
    logger.error(
        "saasus_mw: SaaSus answered %s with %s, which its API spec does not document: check SAASUS_BASE_URL "
        "(now %s; the SaaSus API is https://api.saasus.io/v1). If it is right, SaaSus is at fault.",
        endpoint,
        f"HTTP {status} ({error_type or 'no error type'})" if status else "a redirect",
        base_url,
        extra={
            "saasus_mw_saasus_endpoint": endpoint,
            "saasus_mw_saasus_status": status,
            "saasus_mw_saasus_base_url": base_url,
        },
    )
    return SaaSusError(ErrorKind.UNEXPECTED_STATUS, status=status, error_type=error_type, message=message)
