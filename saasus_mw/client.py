"""The public SaaSus client for the app's own sign-in, and the "is this tenant a Marketplace customer" helper.

::

    from saasus_mw import Client

    client = Client()  # SAASUS_* from the environment (or the TOML file), as the middleware reads them
    creds = client.exchange_code(request.query_params["code"])
    user = client.user_info(creds.id_token)

Built on :class:`saasus_mw.saasus.SaaSus`, so it has the middleware's connection pool,
timeouts, signing and log redaction, and none of the SDK helpers' defects (the SDK's
``Callback`` is a process-wide singleton that keeps the first base URL it saw).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .hooks import Credentials
from .saasus import ErrorKind, SaaSus, SaaSusError, Tenant, UserInfo
from .settings import FIELDS, ConfigError, Settings

if TYPE_CHECKING:
    from types import TracebackType

    import anyio

__all__ = ["Client", "Credentials", "ErrorKind", "SaaSusError", "Tenant", "User"]

_T = TypeVar("_T")
# The spec types sign-in codes and tenant IDs as UUIDs.
_UUID = re.compile(r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_KEYS = ("saasus_saas_id", "saasus_api_key", "saasus_secret_key")
# How long an answer of is_marketplace_tenant is reused, per process. A "no" is kept
# briefly: the tenant may be linked to a purchase at any moment, and showing "change
# plan" to a Marketplace buyer is what the listing review checks. A "yes" longer.
MARKETPLACE_TTL = 60.0
NOT_MARKETPLACE_TTL = 10.0
_REMEMBERED = 4096  # tenants whose answer is kept; beyond that the oldest is forgotten


@dataclasses.dataclass(frozen=True)
class User:
    """Who signed in (``GET /auth/userinfo``) and the tenants they belong to.

    ``email`` is ``""`` for a user who signs in with a sign-in ID (SaaSus, since
    2026-04), and ``sign_in_id`` is ``""`` for an e-mail user: :attr:`login_name`
    is whichever of the two they sign in with. ``tenants`` holds
    :class:`~saasus_mw.client.Tenant` objects (``id``, ``name``,
    ``completed_sign_up``, ``plan_id`` (a UUID, or None), ``roles`` (role names
    in any environment)).
    """

    id: str
    email: str
    sign_in_id: str
    tenants: tuple[Tenant, ...]

    @property
    def login_name(self) -> str:
        """The e-mail address, or the sign-in ID for a sign-in-ID user: what to show as "signed in as"."""
        return self.email or self.sign_in_id

    @classmethod
    def _from(cls, info: UserInfo) -> User:
        return cls(id=info.id, email=info.email, sign_in_id=info.sign_in_id, tenants=tuple(info.tenants))


class Client:
    """SaaSus calls for the app's own sign-in; build one per process and share it (thread-safe).

    ``Client()`` reads the settings as the middleware does (keyword arguments >
    environment > the TOML file named by ``SAASUS_MW_CONFIG``); pass ``settings=`` or
    keyword overrides such as ``timeout=5``, not both. It needs ``SAASUS_SAAS_ID``,
    ``SAASUS_API_KEY`` and ``SAASUS_SECRET_KEY`` (even with ``SAASUS_MW_ENABLED=false``);
    a missing or malformed setting raises :class:`~saasus_mw.ConfigError` here, at
    construction. ``SAASUS_MW_TIMEOUT`` bounds every call; ``SAASUS_MW_MAX_THREADS``
    bounds the async methods' worker threads.

    Every SaaSus failure raises :class:`~saasus_mw.SaaSusError`, whose ``kind`` says what
    to do (it is a ``str`` enum: ``exc.kind == "rejected"`` works):

    - ``"rejected"``: SaaSus refused the code or refresh token (unknown, used, expired), or
      it was malformed and not sent (``status`` is None): sign the user in again.
    - ``"denied"``: 401/403, an ID token SaaSus no longer accepts (refresh it), or this
      client's keys or clock are wrong.
    - ``"timeout"``, ``"unreachable"``, ``"server_error"``: SaaSus cannot answer now; try later.
    - ``"bad_response"``, ``"unexpected_status"``: an answer the SaaSus spec does not describe
      (often a wrong ``SAASUS_BASE_URL``; logged at ERROR).

    No code or token is logged, and none is in any repr or error message.
    """

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        if settings is not None and overrides:
            raise TypeError(f"pass either settings= or keyword settings, not both (got {', '.join(sorted(overrides))})")
        settings = settings or Settings.load(**overrides)
        for name in _KEYS:  # Settings skips them when the middleware is disabled; the app's sign-in still needs them
            value = getattr(settings, name)
            if not (value.get_secret_value() if hasattr(value, "get_secret_value") else value):
                raise ConfigError(
                    f"{FIELDS[name].env} is required by saasus_mw.Client, even with SAASUS_MW_ENABLED=false "
                    "(set it in the environment or the TOML file)"
                )
        self.settings = settings
        self._saasus = SaaSus(settings)
        self._recent = _Recent()
        self._closed = False

    def __repr__(self) -> str:
        return f"<saasus_mw.Client saas_id={self.settings.saasus_saas_id!r} base_url={self.settings.saasus_base_url!r}>"

    # -- blocking calls: from WSGI views, FastAPI ``def`` endpoints, scripts --------------

    def exchange_code(self, code: str) -> Credentials:
        """The ID, access and refresh tokens for a sign-in ``code`` (single use, short-lived).

        The code arrives in the query of the app's callback: from the SaaSus login, or
        handed off by the middleware after a purchase. ``GET /auth/credentials``
        (``tempCodeAuth``). A code that is not a UUID is rejected without asking SaaSus.
        """
        self._open()
        if not isinstance(code, str) or not _UUID.match(code):
            raise SaaSusError(ErrorKind.REJECTED, message="not a SaaSus sign-in code: nothing was sent to SaaSus")
        return self._saasus.exchange_code(code)

    def user_info(self, id_token: str) -> User:
        """Who the ID token belongs to, with their tenants (``GET /auth/userinfo``).

        An expired or unknown ID token raises SaaSusError with kind ``"denied"``.
        """
        self._open()
        if not isinstance(id_token, str) or not id_token:
            raise SaaSusError(ErrorKind.DENIED, message="no ID token: nothing was sent to SaaSus")
        return User._from(self._saasus.user_info(id_token))

    def refresh(self, refresh_token: str) -> Credentials:
        """New ID and access tokens for a refresh token (``GET /auth/credentials``, ``refreshTokenAuth``).

        The result's ``refresh_token`` is the one SaaSus sent, or else the one given, so the
        three can be stored together. An unknown or expired refresh token is ``"rejected"``.
        """
        self._open()
        if not isinstance(refresh_token, str) or not refresh_token:
            raise SaaSusError(ErrorKind.REJECTED, message="no refresh token: nothing was sent to SaaSus")
        return self._saasus.refresh(refresh_token)

    def is_marketplace_tenant(self, tenant_id: str) -> bool:
        """Whether the tenant came from AWS Marketplace: it has a Marketplace customer.

        SaaSus's listing review (criterion 5) checks that such tenants cannot change
        their plan or withdraw in the SaaS: hide those actions when this is True.
        ``GET /awsmarketplace/customers?tenant_ids=...``; the answer is reused for
        ``MARKETPLACE_TTL`` seconds (60), a False one for ``NOT_MARKETPLACE_TTL`` (10, as
        the tenant may be linked to a purchase at any moment), per Client. A tenant ID
        that is not a UUID raises ValueError (an empty list would mean "all customers").
        """
        self._open()
        if not isinstance(tenant_id, str) or not _UUID.match(tenant_id):
            raise ValueError(f"not a SaaSus tenant ID (a UUID): {tenant_id!r}")
        known = self._recent.get(tenant_id)
        if known is not None:
            return known
        answer = tenant_id in self._saasus.linked_tenants([tenant_id])
        self._recent.put(tenant_id, answer)
        return answer

    # -- the same from async code: in worker threads, never blocking the event loop ------

    async def aexchange_code(self, code: str) -> Credentials:
        """:meth:`exchange_code`, in a worker thread of this client's own limiter."""
        return await self._in_thread(self.exchange_code, code)

    async def auser_info(self, id_token: str) -> User:
        """:meth:`user_info`, in a worker thread of this client's own limiter."""
        return await self._in_thread(self.user_info, id_token)

    async def arefresh(self, refresh_token: str) -> Credentials:
        """:meth:`refresh`, in a worker thread of this client's own limiter."""
        return await self._in_thread(self.refresh, refresh_token)

    async def ais_marketplace_tenant(self, tenant_id: str) -> bool:
        """:meth:`is_marketplace_tenant`; a remembered answer comes without a thread."""
        self._open()
        if isinstance(tenant_id, str) and (known := self._recent.get(tenant_id)) is not None:
            return known
        return await self._in_thread(self.is_marketplace_tenant, tenant_id)

    @functools.cached_property
    def _limiter(self) -> anyio.CapacityLimiter:
        import anyio  # noqa: PLC0415 - only for async callers

        # Our own: a slow SaaSus cannot take the threads the app's own sync endpoints need.
        return anyio.CapacityLimiter(self.settings.max_threads)

    async def _in_thread(self, call: Callable[[str], _T], argument: str) -> _T:
        import anyio.to_thread  # noqa: PLC0415

        return await anyio.to_thread.run_sync(call, argument, limiter=self._limiter)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections; the client refuses calls afterwards. Idempotent."""
        if not self._closed:
            self._closed = True
            self._saasus.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _open(self) -> None:
        if self._closed:
            raise RuntimeError("this saasus_mw.Client is closed")


class _Recent:
    """The last answers of is_marketplace_tenant, per tenant: thread-safe, expiring, bounded.

    The lock is never held across a SaaSus call: two threads asking about the same
    new tenant at once both ask SaaSus, and neither waits for the other.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, size: int = _REMEMBERED) -> None:
        self._clock, self._size = clock, size
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[bool, float]] = {}  # tenant id -> (answer, expiry); oldest first

    def get(self, tenant_id: str) -> bool | None:
        with self._lock:
            answer, expiry = self._answers.get(tenant_id, (None, 0.0))
            if answer is not None and expiry <= self._clock():
                del self._answers[tenant_id]
                return None
            return answer

    def put(self, tenant_id: str, answer: bool) -> None:
        expiry = self._clock() + (MARKETPLACE_TTL if answer else NOT_MARKETPLACE_TTL)
        with self._lock:
            self._answers.pop(tenant_id, None)  # re-inserted last: the newest
            while len(self._answers) >= self._size:
                del self._answers[next(iter(self._answers))]
            self._answers[tenant_id] = (answer, expiry)

    def __len__(self) -> int:
        return len(self._answers)
