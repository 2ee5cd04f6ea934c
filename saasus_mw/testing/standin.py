"""A stand-in for the SaaSus Platform API, served over real HTTP on loopback.

It implements the handful of endpoints the login callback needs, checks the
``SAASUSSIGV1`` request signature exactly like the real service, records every
call, and can inject faults (error statuses, delays, dropped connections).
It deliberately does not use the SaaSus SDK, so it can serve as an independent
oracle for code that does.

This module holds the set-up API and the dispatch; the endpoints live in
:mod:`.auth` and :mod:`.marketplace`, the data in :mod:`.model`, the server in
:mod:`.server`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from .auth import AuthApi, login_path
from .control import ControlApi
from .faults import ENDPOINTS, Faults
from .listing import Listing, ListingApi
from .marketplace import MarketplaceApi
from .model import Answer, Call, Plan, Store, Tenant, User, error
from .server import Server
from .signature import signature_ok

__all__ = ["ENDPOINTS", "Call", "Listing", "Plan", "SaaSusStandIn", "Tenant", "User"]


class SaaSusStandIn:
    """In-process fake SaaSus API server. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        saas_id: str = "saas-1",
        api_key: str = "key-1",
        secret_key: str = "secret-1",  # noqa: S107 - a test double's default, not a credential
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token_size: int = 2048,
        refresh_token_size: int = 1800,
        clock_skew_minutes: int = 1,
        callback_url: str = "http://127.0.0.1:8000/callback",
        clock_offset: float = 0.0,
    ) -> None:
        for name, value in (("saas_id", saas_id), ("api_key", api_key), ("secret_key", secret_key)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must be a non-empty string")
        if not 0 <= port <= 65535:
            raise ValueError(f"port out of range: {port!r}")
        if token_size < 256 or refresh_token_size < 256:
            raise ValueError("token_size and refresh_token_size must be at least 256 bytes")
        if clock_skew_minutes < 0:
            raise ValueError("clock_skew_minutes must be >= 0")
        if not callback_url.startswith(("https://", "http://")):
            raise ValueError(f"callback_url must be an http(s) URL, got {callback_url!r}")
        self.saas_id, self.api_key, self.secret_key = saas_id, api_key, secret_key
        self.host, self.port = host, port
        self.token_size, self.clock_skew_minutes = token_size, clock_skew_minutes
        self.refresh_token_size = refresh_token_size
        # The callback URL registered in the SaaSus console (GET /auth/auth-info),
        # and how far this SaaSus's clock is ahead of ours, in seconds (its
        # signature window and its Date header follow it).
        self.callback_url, self.clock_offset = callback_url, clock_offset
        self.calls: list[Call] = []
        self.faults = Faults()
        # What the SaaSus console holds about the listing (check --online reads it); replace it to change it.
        self.listing = Listing()
        self._store = Store()
        self._lock = self._store.lock
        auth, market = AuthApi(self, self._store), MarketplaceApi(self._store)
        self._unsigned: dict[str, Callable[[Call], Answer]] = {
            "login": auth.login,
            **ControlApi(self._store).endpoints(),
        }
        self._signed: dict[str, Callable[[Call], Answer]] = {
            "credentials": auth.credentials,
            "create_credentials": auth.create_credentials,
            "userinfo": auth.userinfo,
            "auth_info": auth.auth_info,
            "link": market.link,
            "sign_up": market.sign_up,
            "verify": market.verify,
            "customers": market.customers,
            "plans": market.plans,
        }
        self._signed |= ListingApi(self).endpoints()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> SaaSusStandIn:
        if self._server is not None:
            raise RuntimeError("stand-in already started")
        self._server = Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="saasus-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()  # keep-alive handler threads would otherwise linger
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> SaaSusStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("stand-in is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def links(self) -> list[tuple[str, str, str]]:
        """Every link made: (tenant id, user id, registration token)."""
        return self._store.links

    @property
    def created(self) -> list[tuple[str, str, str]]:
        """Every tenant made by sign-up-confirm: (new tenant id, user id, registration token)."""
        return self._store.created

    # -- test set-up -----------------------------------------------------

    def add_user(self, email: str, tenants: Iterable[Tenant | str] = (), *, sign_in_id: str = "") -> User:
        """A user known by e-mail, or with ``email=""`` and a ``sign_in_id`` (SaaSus's sign-in-ID users)."""
        if not isinstance(email, str) or not isinstance(sign_in_id, str):
            raise TypeError("email and sign_in_id must be strings")
        if sign_in_id and email:
            raise ValueError("a sign-in-ID user has no e-mail address: pass email=''")
        if not sign_in_id and "@" not in email:
            raise ValueError(f"not an e-mail address: {email!r}")
        if isinstance(tenants, str):
            raise TypeError("tenants must be a list of Tenant objects or names, not a string")
        user = User(email, sign_in_id=sign_in_id, tenants=[t if isinstance(t, Tenant) else Tenant(t) for t in tenants])
        with self._lock:
            if any(u.login_name == user.login_name for u in self._store.users.values()):
                raise ValueError(f"user already exists: {user.login_name}")
            self._store.users[user.id] = user
        return user

    def add_plan(self, display_name: str, *, name: str = "", description: str = "") -> Plan:
        """A pricing plan; give its ``id`` (a UUID, as SaaSus's are) to ``Tenant(plan_id=...)``."""
        plan = Plan(display_name, name=name, description=description)
        with self._lock:
            self._store.plans[plan.id] = plan
        return plan

    def issue_code(self, user: User) -> str:
        """A code for the user, as the hosted login hands out after a sign-in."""
        return self._store.issue_code(user)

    def issue_registration_token(self) -> str:
        """A fresh purchase's registration token, unused."""
        return self._store.issue_registration_token()

    def spend_registration_token(self, token: str) -> None:
        """Mark a registration token used, as if another request had completed its purchase."""
        with self._lock:
            self._store.registration_tokens[token] = True

    def link_customer(self, tenant_id: str) -> None:
        """Give the tenant a Marketplace customer, as if a purchase had been linked to it."""
        self._store.link_customer(tenant_id)

    def login_url(self, redirect_uri: str, email: str | None = None, marketplace: bool = True) -> str:
        """The hosted login; ``email`` (or a sign-in ID) picks the user, else a list to choose from."""
        return self.url + login_path(redirect_uri, email, marketplace)

    def inject(
        self,
        endpoint: str,
        status: int | None = None,
        body: bytes | str | None = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int | None = 1,
        after: bool = False,
    ) -> None:
        """Make the next ``times`` calls to ``endpoint`` misbehave (``times=None``: until cleared)."""
        self.faults.add(endpoint, status, body, delay, drop, times, after)

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset(self, *, everything: bool = False) -> None:
        """Forget recorded calls, recorded links and pending faults.

        Users, issued tokens and which tenants are linked stay: SaaSus would not forget them.
        ``everything=True`` forgets those too: an empty SaaSus at the same address with the
        same keys (the pytest plugin's session-wide stand-in, before each test).
        """
        with self._lock:
            self.calls.clear()
            self._store.links.clear()
            self._store.created.clear()
            if everything:
                self._store.clear()
        self.faults.clear()

    # -- request handling (called from server threads) --------------------

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def dispatch(self, call: Call) -> Answer:
        unsigned = self._unsigned.get(call.endpoint)
        if call.endpoint == "other":  # unknown routes are 404 with or without a signature
            return error(404, "not_found", f"no such endpoint: {call.method} {call.path}")
        if unsigned is None and not signature_ok(
            call,
            saas_id=self.saas_id,
            api_key=self.api_key,
            secret_key=self.secret_key,
            skew_minutes=self.clock_skew_minutes,
            offset=self.clock_offset,
        ):
            return error(401, "invalid_signature", "missing or invalid SAASUSSIGV1 signature")
        with self._lock:
            return (unsigned or self._signed[call.endpoint])(call)
