"""The only module that touches saasus-sdk-python.

One pooled, signed client per process, built from :class:`~saasus_mw.settings.Settings`.
It uses the SDK's generated API classes and models but none of its helpers,
because each helper carries a defect (see the README, "SDK defects"):

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
  the host's level back, and redact the query (ID token, code) from urllib3's
  DEBUG request lines to SaaSus.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import hmac
import json
import logging
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import urllib3
from pydantic.warnings import PydanticDeprecatedSince20

from .settings import Settings

# The generated SDK uses pydantic v1 APIs that warn at import and on every call.
# They are its business, not the host app's: hide them, and only them.
warnings.filterwarnings("ignore", category=PydanticDeprecatedSince20, module=r"saasus_sdk_python\.")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PydanticDeprecatedSince20)
    from saasus_sdk_python.src.auth.api.credential_api import CredentialApi
    from saasus_sdk_python.src.auth.api.saas_user_api import SaasUserApi
    from saasus_sdk_python.src.auth.api.user_info_api import UserInfoApi
    from saasus_sdk_python.src.auth.api_client import ApiClient as AuthApiClient
    from saasus_sdk_python.src.auth.configuration import Configuration as AuthConfiguration
    from saasus_sdk_python.src.auth.exceptions import ApiException as AuthApiException
    from saasus_sdk_python.src.auth.models.link_aws_marketplace_param import LinkAwsMarketplaceParam
    from saasus_sdk_python.src.awsmarketplace.api.aws_marketplace_api import AwsMarketplaceApi
    from saasus_sdk_python.src.awsmarketplace.api_client import ApiClient as MarketplaceApiClient
    from saasus_sdk_python.src.awsmarketplace.configuration import Configuration as MarketplaceConfiguration
    from saasus_sdk_python.src.awsmarketplace.exceptions import ApiException as MarketplaceApiException
    from saasus_sdk_python.src.awsmarketplace.models.verify_registration_token_param import (
        VerifyRegistrationTokenParam,
    )

__all__ = ["Credentials", "ErrorKind", "SaaSus", "SaaSusError", "Tenant", "UserInfo"]

_T = TypeVar("_T")
_API_EXCEPTIONS = (AuthApiException, MarketplaceApiException)
USER_AGENT = "saasus_mw"
_IDS_PER_CALL = 100


class ErrorKind(str, enum.Enum):
    TIMEOUT = "timeout"  # no answer in time; SaaSus may or may not have acted
    UNREACHABLE = "unreachable"  # connection refused or dropped
    REJECTED = "rejected"  # 400/404/409/410/422: SaaSus said no to this request (bad code, used token)
    DENIED = "denied"  # 401/403: a token, or our signature (keys, clock), was refused
    SERVER_ERROR = "server_error"  # 5xx, and 408/429: SaaSus cannot answer now
    BAD_RESPONSE = "bad_response"  # an answer that is not what the spec promises


class SaaSusError(Exception):
    """A SaaSus call failed. Carries no token: safe to log and to show."""

    def __init__(self, kind: ErrorKind, *, status: int | None = None, error_type: str = "", message: str = "") -> None:
        super().__init__(f"{kind.value}: status={status} type={error_type or '-'}")
        self.kind = kind
        self.status = status
        self.error_type = error_type  # SaaSus's own error "type"
        self.message = message  # SaaSus's own message, for logs; may be shown escaped


@dataclasses.dataclass(frozen=True)
class Credentials:
    id_token: str = dataclasses.field(repr=False)
    access_token: str = dataclasses.field(repr=False)
    refresh_token: str | None = dataclasses.field(repr=False, default=None)


@dataclasses.dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    completed_sign_up: bool
    plan_id: str | None
    roles: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class UserInfo:
    id: str
    email: str
    tenants: tuple[Tenant, ...]


class _Signer:
    """SAASUSSIGV1: hex HMAC-SHA256 over minute + API key + method + host + path?query + body."""

    def __init__(self, saas_id: str, api_key: str, secret: str, clock: Callable[[], float] = time.time) -> None:
        self._prefix = f", SaaSID={saas_id}, APIKey={api_key}"
        self._api_key = api_key
        self._secret = secret.encode()
        self._clock = clock

    def authorization(self, method: str, url: str, body: str) -> str:
        parts = urlsplit(url)
        target = parts.netloc + parts.path + (f"?{parts.query}" if parts.query else "")
        minute = time.strftime("%Y%m%d%H%M", time.gmtime(self._clock()))
        message = minute + self._api_key + method.upper() + target + body
        digest = hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()
        return f"SAASUSSIGV1 Sig={digest}{self._prefix}"

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
        headers = dict(headers or {})
        headers["Authorization"] = self.signer.authorization(method, url, payload)
        return super().request(  # type: ignore[misc]
            method, url, query_params, headers, post_params, body, _preload_content, _request_timeout or self.timeout
        )


class _AuthClient(_SignedRequests, AuthApiClient):  # type: ignore[misc]
    pass


class _MarketplaceClient(_SignedRequests, MarketplaceApiClient):  # type: ignore[misc]
    pass


class _DropBodies(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("response body")


for _name in ("saasus_sdk_python.src.auth.rest", "saasus_sdk_python.src.awsmarketplace.rest"):
    logging.getLogger(_name).addFilter(_DropBodies())


class _RedactQueries(logging.Filter):
    """urllib3 logs each request line at DEBUG; ours carry the ID token or the code in the query."""

    def __init__(self) -> None:
        super().__init__()
        self.hosts: set[str] = set()  # SaaSus hosts of this process

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(a in self.hosts for a in args if isinstance(a, str)):
            record.args = tuple(a.split("?", 1)[0] if isinstance(a, str) else a for a in args)
        return True


_REDACT = _RedactQueries()
logging.getLogger("urllib3.connectionpool").addFilter(_REDACT)


class SaaSus:
    """Blocking SaaSus calls over one connection pool; build one per process and reuse it."""

    def __init__(self, settings: Settings) -> None:
        signer = _Signer(
            settings.saasus_saas_id, settings.saasus_api_key, settings.saasus_secret_key.get_secret_value()
        )
        # Connect errors are safe to retry once (nothing was sent); read errors
        # are not: a PATCH that reached SaaSus must never be sent twice.
        retries = urllib3.Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0)
        self._auth = self._client(_AuthClient, AuthConfiguration, settings, "/auth", signer, retries)
        self._marketplace = self._client(
            _MarketplaceClient, MarketplaceConfiguration, settings, "/awsmarketplace", signer, retries
        )
        # One pool for both APIs: they live on the same host.
        self._marketplace.rest_client.pool_manager = self._auth.rest_client.pool_manager

    @staticmethod
    def _client(
        client_class: type[Any],
        configuration: type[Any],
        settings: Settings,
        prefix: str,
        signer: _Signer,
        retries: Any,
    ) -> Any:
        # The generated Configuration sets the process-wide "urllib3" logger to
        # WARNING as a side effect; the host app's logging is not ours to change.
        urllib3_logger = logging.getLogger("urllib3")
        level = urllib3_logger.level
        config = configuration(host=settings.saasus_base_url + prefix)
        urllib3_logger.setLevel(level)
        _REDACT.hosts.add(urlsplit(settings.saasus_base_url).hostname or "")
        config.retries = retries
        config.connection_pool_maxsize = settings.max_threads
        client = client_class(config)
        client.signer = signer
        client.timeout = settings.timeout
        client.user_agent = USER_AGENT
        return client

    def exchange_code(self, code: str) -> Credentials:
        """``GET /auth/credentials`` with the single-use code (auth flow ``tempCodeAuth``)."""
        result = _call(CredentialApi(self._auth).get_auth_credentials, code=code, auth_flow="tempCodeAuth")
        return Credentials(result.id_token, result.access_token, result.refresh_token)

    def user_info(self, id_token: str) -> UserInfo:
        """``GET /auth/userinfo``: who the user is and which tenants they belong to."""
        # The SDK's pydantic models spend ~25 ms of CPU on a user in 1,000
        # tenants (measured, bench/picker_cpu.py) on every picker and POST; the
        # few fields we use are read from the JSON directly, just as strictly.
        api = UserInfoApi(self._auth)
        answer = _call(api.get_user_info_with_http_info, token=id_token, _preload_content=False)
        return _call(_user_info_from_json, answer.raw_data)

    def link(self, tenant_id: str, access_token: str, registration_token: str) -> None:
        """``PATCH /auth/aws-marketplace/link`` (LinkAwsMarketplace)."""
        param = LinkAwsMarketplaceParam(
            tenant_id=tenant_id, access_token=access_token, registration_token=registration_token
        )
        _call(SaasUserApi(self._auth).link_aws_marketplace, param)

    def registration_token_is_unused(self, registration_token: str) -> bool:
        """``POST /awsmarketplace/registration-token/verify``: False once it has been used (or never existed)."""
        param = VerifyRegistrationTokenParam(registration_token=registration_token)
        try:
            _call(AwsMarketplaceApi(self._marketplace).verify_registration_token, param)
        except SaaSusError as exc:
            if exc.kind is ErrorKind.REJECTED:
                return False
            raise
        return True

    def linked_tenants(self, tenant_ids: list[str]) -> set[str]:
        """``GET /awsmarketplace/customers``: which of these tenants already have a Marketplace customer."""
        api, linked = AwsMarketplaceApi(self._marketplace), set[str]()
        # tenant_ids=a&tenant_ids=b...: batches keep each URL far below server limits (~8 KB).
        for start in range(0, len(tenant_ids), _IDS_PER_CALL):
            customers = _call(api.get_customers, tenant_ids=tenant_ids[start : start + _IDS_PER_CALL])
            linked.update(c.tenant_id for c in customers.customers)
        return linked

    def close(self) -> None:
        self._auth.rest_client.pool_manager.clear()

    def auth_info(self) -> AuthInfo:
        """``GET /auth/auth-info`` (signed, read-only): the callback URL registered in the SaaSus console.

        Only ``saasus-mw check --online`` asks, so its API class is imported here, not at start-up.
        """
        import email.utils  # noqa: PLC0415

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PydanticDeprecatedSince20)
            from saasus_sdk_python.src.auth.api.auth_info_api import AuthInfoApi  # noqa: PLC0415

        answer = _call(AuthInfoApi(self._auth).get_auth_info_with_http_info)
        try:  # SaaSus's clock, for the skew report; a missing or odd header only loses that
            server_time: float | None = email.utils.parsedate_to_datetime(answer.headers.get("Date", "")).timestamp()
        except (TypeError, ValueError):
            server_time = None
        return AuthInfo(callback_url=_call(_text, answer.data.callback_url), server_time=server_time)


def _call(function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    try:
        return function(*args, **kwargs)
    except _API_EXCEPTIONS as exc:
        raise _from_api_exception(exc) from None
    except urllib3.exceptions.MaxRetryError as exc:
        raise SaaSusError(_network_error_kind(exc.reason)) from None
    except urllib3.exceptions.HTTPError as exc:
        raise SaaSusError(_network_error_kind(exc)) from None
    except (ValueError, TypeError, AttributeError, LookupError):
        # Malformed JSON or a body that does not fit the SDK's models (pydantic's
        # ValidationError is a ValueError).
        raise SaaSusError(ErrorKind.BAD_RESPONSE) from None


def _user_info_from_json(raw: bytes) -> UserInfo:
    """The UserInfo schema's fields we use; anything missing or mistyped is a ValueError/TypeError/KeyError."""
    data = json.loads(raw)
    tenants = tuple(
        Tenant(
            id=_text(t["id"]),
            name=_text(t["name"]),
            completed_sign_up=_flag(t["completed_sign_up"]),
            plan_id=None if t.get("plan_id") is None else _text(t["plan_id"]),
            roles=tuple(sorted({_text(r["role_name"]) for env in t["envs"] for r in env["roles"]})),
        )
        for t in data["tenants"]
    )
    return UserInfo(id=_text(data["id"]), email=_text(data["email"]), tenants=tenants)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a boolean, got {type(value).__name__}")
    return value


def _network_error_kind(error: object) -> ErrorKind:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3, yet a
    # refused connection is not a timeout: test it first.
    if isinstance(error, urllib3.exceptions.NewConnectionError):
        return ErrorKind.UNREACHABLE
    if isinstance(error, urllib3.exceptions.TimeoutError):
        return ErrorKind.TIMEOUT
    return ErrorKind.UNREACHABLE


def _from_api_exception(exc: Any) -> SaaSusError:
    status = exc.status or None
    if not status:  # the generated client's status 0: TLS failure
        return SaaSusError(ErrorKind.UNREACHABLE)
    error_type = message = ""
    try:
        body = json.loads(exc.body or "")
        if isinstance(body, dict):
            error_type = str(body.get("type") or "")[:100]
            message = str(body.get("message") or "")[:300]
    except ValueError:
        pass
    if status in (401, 403):
        kind = ErrorKind.DENIED
    elif status < 500 and status not in (408, 429):
        kind = ErrorKind.REJECTED
    else:  # 5xx, a timeout on SaaSus's side, or too many requests: worth another try
        kind = ErrorKind.SERVER_ERROR
    return SaaSusError(kind, status=status, error_type=error_type, message=message)


@dataclasses.dataclass(frozen=True)
class AuthInfo:
    callback_url: str  # where SaaSus sends users after signing in
    server_time: float | None  # SaaSus's clock (its Date header), seconds since the epoch; None without one
