"""A stand-in for the SaaSus Platform API, served over real HTTP on loopback.

It implements the handful of endpoints the login callback needs, checks the
``SAASUSSIGV1`` request signature exactly like the real service, records every
call, and can inject faults (error statuses, delays, dropped connections).
It deliberately does not use the SaaSus SDK, so it can serve as an independent
oracle for code that does.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import html
import json
import logging
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

logger = logging.getLogger("saasus_mw.testing")

CREATED_CODE_LIFETIME = 10.0  # seconds, as SaaSus documents for CreateAuthCredentials

ENDPOINTS = (
    "credentials",
    "create_credentials",
    "userinfo",
    "link",
    "sign_up",
    "verify",
    "customers",
    "auth_info",
    "login",
    "other",
)

# (method, path) -> endpoint name; paths are what SAASUS_BASE_URL (".../v1") is joined with.
_ROUTES = {
    ("GET", "/v1/auth/credentials"): "credentials",
    ("POST", "/v1/auth/credentials"): "create_credentials",
    ("POST", "/v1/auth/aws-marketplace/sign-up-confirm"): "sign_up",
    ("GET", "/v1/auth/userinfo"): "userinfo",
    ("PATCH", "/v1/auth/aws-marketplace/link"): "link",
    ("POST", "/v1/awsmarketplace/registration-token/verify"): "verify",
    ("GET", "/v1/awsmarketplace/customers"): "customers",
    ("GET", "/v1/auth/auth-info"): "auth_info",
    ("GET", "/login"): "login",
}


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Tenant:
    name: str
    _: KW_ONLY
    id: str = field(default_factory=_new_id)
    completed_sign_up: bool = True
    plan_id: str | None = None
    roles: tuple[str, ...] = ("admin",)

    def __post_init__(self) -> None:
        # A bare string would silently become a tuple of characters.
        if isinstance(self.roles, str) or not all(isinstance(r, str) for r in self.roles):
            raise TypeError("roles must be a sequence of role names, e.g. ('admin',)")
        object.__setattr__(self, "roles", tuple(self.roles))


@dataclass
class User:
    email: str
    _: KW_ONLY
    id: str = field(default_factory=_new_id)
    tenants: list[Tenant] = field(default_factory=list)


class _Headers(dict[str, str]):
    """Header names stored lower-cased; lookups are case-insensitive."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class Call:
    """One request the stand-in received. ``status`` is 0 while in flight or when dropped."""

    endpoint: str
    method: str
    path: str
    raw_query: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response_body: bytes = b""


@dataclass
class _Fault:
    status: int | None
    body: bytes | None
    delay: float
    drop: bool
    after: bool
    remaining: int | None


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    location: str | None = None


def _error(status: int, type_: str, message: str) -> _Response:
    return _Response(status, json.dumps({"type": type_, "message": message}).encode())


def _ok(payload: object) -> _Response:
    return _Response(200, json.dumps(payload, ensure_ascii=False).encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


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
        self.links: list[tuple[str, str, str]] = []  # (tenant id, user id, registration token)
        self.created: list[tuple[str, str, str]] = []  # (new tenant id, user id, registration token)
        self._lock = threading.RLock()
        self._users: dict[str, User] = {}
        # unused temp code -> (user id, stored credentials or None, expiry or None)
        self._codes: dict[str, tuple[str, dict[str, str] | None, float | None]] = {}
        self._tokens: dict[str, tuple[str, str]] = {}  # token -> (user id, "id"|"access"|"refresh")
        self._registration_tokens: dict[str, bool] = {}  # token -> already used
        self._customers: dict[str, dict[str, str]] = {}  # tenant id -> Customer
        self._faults: list[tuple[str, _Fault]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------

    def start(self) -> SaaSusStandIn:
        if self._server is not None:
            raise RuntimeError("stand-in already started")
        self._server = _Server((self.host, self.port), _Handler, self)
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

    # -- test set-up -----------------------------------------------------

    def add_user(self, email: str, tenants: Iterable[Tenant | str] = ()) -> User:
        if not isinstance(email, str) or "@" not in email:
            raise ValueError(f"not an e-mail address: {email!r}")
        if isinstance(tenants, str):
            raise TypeError("tenants must be a list of Tenant objects or names, not a string")
        user = User(email, tenants=[t if isinstance(t, Tenant) else Tenant(t) for t in tenants])
        with self._lock:
            if any(u.email == email for u in self._users.values()):
                raise ValueError(f"user already exists: {email}")
            self._users[user.id] = user
        return user

    def issue_code(self, user: User) -> str:
        with self._lock:
            if self._users.get(user.id) is not user:
                raise ValueError(f"user was not added to this stand-in: {user.email}")
            code = _new_id()
            self._codes[code] = (user.id, None, None)
        return code

    def issue_registration_token(self) -> str:
        # Opaque, as AWS Marketplace's are: base64 with "+", "/" and "=", not a UUID.
        token = base64.b64encode(secrets.token_bytes(180)).decode()
        with self._lock:
            self._registration_tokens[token] = False
        return token

    def link_customer(self, tenant_id: str) -> None:
        with self._lock:
            self._customers[tenant_id] = {
                "customer_identifier": secrets.token_hex(6),
                "customer_aws_account_id": str(secrets.randbelow(10**12)).zfill(12),
                "tenant_id": tenant_id,
            }

    def login_url(self, redirect_uri: str, email: str | None = None, marketplace: bool = True) -> str:
        return self.url + _login_path(redirect_uri, email, marketplace)

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
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {ENDPOINTS}")
        if status is not None and not 200 <= status <= 599:
            raise ValueError(f"status must be an HTTP status in 200..599, got {status!r}")
        if body is not None and status is None:
            raise ValueError("body only makes sense together with status")
        if drop and status is not None:
            raise ValueError("drop and status are mutually exclusive")
        if delay < 0:
            raise ValueError("delay must be >= 0")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None")
        if status is None and not drop and not delay:
            raise ValueError("nothing to inject: give status, delay or drop")
        raw = body.encode() if isinstance(body, str) else body
        fault = _Fault(status, raw, delay, drop, after, times)
        with self._lock:
            self._faults.append((endpoint, fault))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget recorded calls, recorded links and pending faults.

        Users, issued tokens and which tenants are linked stay: SaaSus would not forget them.
        """
        with self._lock:
            self.calls.clear()
            self.links.clear()
            self.created.clear()
            self._faults.clear()

    # -- request handling (called from server threads) --------------------

    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self._lock:
            for i, (name, fault) in enumerate(self._faults):
                if name == endpoint:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            del self._faults[i]
                    return fault
        return None

    def _verify_signature(self, call: Call) -> bool:
        parts = call.headers.get("authorization", "").split(" ", 1)
        if len(parts) != 2 or parts[0] != "SAASUSSIGV1":
            return False
        fields: dict[str, str] = {}
        for item in parts[1].split(","):
            key, _, value = item.strip().partition("=")
            fields[key] = value
        if set(fields) != {"Sig", "SaaSID", "APIKey"}:
            return False
        ok = hmac.compare_digest(fields["SaaSID"].encode(), self.saas_id.encode())
        ok &= hmac.compare_digest(fields["APIKey"].encode(), self.api_key.encode())
        try:
            body = call.body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        # The signed string uses the Host header and request target exactly as sent.
        target = call.path + ("?" + call.raw_query if call.raw_query else "")
        rest = self.api_key + call.method + call.headers.get("host", "") + target + body
        now = datetime.now(timezone.utc) + timedelta(seconds=self.clock_offset)
        matched = False
        for skew in range(-self.clock_skew_minutes, self.clock_skew_minutes + 1):
            stamp = (now + timedelta(minutes=skew)).strftime("%Y%m%d%H%M")
            sig = hmac.new(self.secret_key.encode(), (stamp + rest).encode(), hashlib.sha256)
            matched |= hmac.compare_digest(sig.hexdigest().encode(), fields["Sig"].encode())
        return bool(ok and matched)

    def _dispatch(self, call: Call) -> _Response:
        if call.endpoint == "login":
            return self._login(call)
        if call.endpoint == "other":  # unknown routes are 404 with or without a signature
            return _error(404, "not_found", f"no such endpoint: {call.method} {call.path}")
        if not self._verify_signature(call):
            return _error(401, "invalid_signature", "missing or invalid SAASUSSIGV1 signature")
        handler = {
            "credentials": self._credentials,
            "create_credentials": self._create_credentials,
            "userinfo": self._userinfo,
            "link": self._link,
            "sign_up": self._sign_up,
            "verify": self._verify,
            "customers": self._get_customers,
            "auth_info": self._auth_info,
        }[call.endpoint]
        with self._lock:
            return handler(call)

    def _mint(self, user: User, kind: str, size: int | None = None) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "saasus-standin"}).encode())
        claims = {
            "sub": user.id,
            "email": user.email,
            "token_use": kind,
            "jti": _new_id(),
            "iss": self.url,
            "exp": int(time.time()) + 3600,
            "pad": "",
        }
        # Real Cognito tokens are large; padding them exercises cookie-size limits.
        room = ((size or self.token_size) - len(header) - 43 - 2) * 3 // 4
        # Random, not "xxx": real tokens do not compress, and the cookie-size
        # test must not pass only because zlib shrank the padding to nothing.
        claims["pad"] = secrets.token_urlsafe(room)[: max(0, room - len(json.dumps(claims)))]
        signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
        sig = hmac.new(self.secret_key.encode(), signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64(sig)}"
        self._tokens[token] = (user.id, kind)
        return token

    def _user_for(self, token: str, kind: str) -> User | None:
        user_id, token_kind = self._tokens.get(token, ("", ""))
        return self._users.get(user_id) if token_kind == kind else None

    def _credentials(self, call: Call) -> _Response:
        flow = call.query.get("auth-flow", ["tempCodeAuth"])[-1]
        if flow == "refreshTokenAuth":
            user = self._user_for(call.query.get("refresh-token", [""])[0], "refresh")
            if user is None:
                return _error(404, "not_found", "unknown refresh token")
            return _ok({"id_token": self._mint(user, "id"), "access_token": self._mint(user, "access")})
        if flow != "tempCodeAuth":
            return _error(400, "invalid_request", f"unsupported auth-flow: {flow}")
        code = call.query.get("code", [""])[0]
        if not code:
            return _error(400, "invalid_request", "code is required")
        user_id, stored, expires = self._codes.pop(code, ("", None, None))  # single use
        if user_id not in self._users or (expires is not None and time.monotonic() > expires):
            return _error(404, "not_found", "unknown, expired or already used code")
        if stored is not None:  # a code from CreateAuthCredentials: the tokens stored with it
            return _ok(stored)
        user = self._users[user_id]
        return _ok(
            {
                "id_token": self._mint(user, "id"),
                "access_token": self._mint(user, "access"),
                "refresh_token": self._mint(user, "refresh", self.refresh_token_size),
            }
        )

    def _create_credentials(self, call: Call) -> _Response:
        """CreateAuthCredentials: store the tokens, answer a temp code valid for 10 seconds."""
        param = self._json_fields(call, ("id_token", "access_token"))
        if param is None:
            return _error(400, "invalid_request", "expected JSON with id_token and access_token")
        user = self._user_for(param["id_token"], "id")
        if user is None or self._user_for(param["access_token"], "access") is not user:
            return _error(401, "invalid_token", "unknown tokens, or tokens of different users")
        stored = dict(param)
        refresh = json.loads(call.body).get("refresh_token")
        if refresh is not None:
            if self._user_for(refresh, "refresh") is not user:
                return _error(401, "invalid_token", "unknown refresh token")
            stored["refresh_token"] = refresh
        code = _new_id()
        self._codes[code] = (user.id, stored, time.monotonic() + CREATED_CODE_LIFETIME)
        return _Response(201, json.dumps({"code": code}).encode())

    def _userinfo(self, call: Call) -> _Response:
        user = self._user_for(call.query.get("token", [""])[0], "id")
        if user is None:
            return _error(401, "invalid_token", "unknown or non-ID token")
        tenants = []
        for t in user.tenants:
            roles = [{"role_name": r, "display_name": r.title()} for r in t.roles]
            tenant: dict[str, Any] = {
                "id": t.id,
                "name": t.name,
                "completed_sign_up": t.completed_sign_up,
                "envs": [{"id": 1, "name": "prod", "display_name": "Production", "roles": roles}],
                "user_attribute": {},
                "back_office_staff_email": "staff@example.com",
            }
            if t.plan_id is not None:  # optional in the spec, StrictStr in the SDK: omit, never null
                tenant["plan_id"] = t.plan_id
            tenants.append(tenant)
        return _ok({"id": user.id, "email": user.email, "sign_in_id": "", "user_attribute": {}, "tenants": tenants})

    @staticmethod
    def _json_fields(call: Call, names: Sequence[str]) -> dict[str, str] | None:
        try:
            data = json.loads(call.body)
        except ValueError:
            return None
        if not isinstance(data, dict) or not all(isinstance(data.get(n), str) for n in names):
            return None
        return {n: data[n] for n in names}

    def _purchase(self, call: Call, what: str) -> tuple[dict[str, str], User] | _Response:
        """The shared checks of link and sign-up-confirm: the fields, the user, the tenant, the token."""
        names = (what, "access_token", "registration_token")
        param = self._json_fields(call, names)
        if param is None:
            return _error(400, "invalid_request", f"expected JSON with {', '.join(names)}")
        user = self._user_for(param["access_token"], "access")
        if user is None:
            return _error(401, "invalid_token", "unknown access token")
        if what == "tenant_id" and not any(t.id == param["tenant_id"] for t in user.tenants):
            return _error(400, "tenant_not_found", "the user does not belong to that tenant")
        if what == "tenant_name" and not param["tenant_name"].strip():
            return _error(400, "invalid_request", "tenant_name is required")
        if self._registration_tokens.get(param["registration_token"]) is not False:
            return _error(400, "invalid_registration_token", "unknown or already used registration token")
        self._registration_tokens[param["registration_token"]] = True  # spent: single use
        return param, user

    def _link(self, call: Call) -> _Response:
        checked = self._purchase(call, "tenant_id")
        if isinstance(checked, _Response):
            return checked
        param, user = checked
        self.links.append((param["tenant_id"], user.id, param["registration_token"]))
        self.link_customer(param["tenant_id"])
        return _Response(200)

    def _sign_up(self, call: Call) -> _Response:
        """ConfirmSignUpWithAwsMarketplace: a new tenant, the user in it, linked to the purchase."""
        checked = self._purchase(call, "tenant_name")
        if isinstance(checked, _Response):
            return checked
        param, user = checked
        tenant = Tenant(param["tenant_name"])
        user.tenants.append(tenant)
        self.link_customer(tenant.id)
        self.created.append((tenant.id, user.id, param["registration_token"]))
        body = {
            "id": tenant.id,
            "name": tenant.name,
            "attributes": {},
            "back_office_staff_email": "staff@example.com",
            "plan_histories": [],
        }
        return _Response(201, json.dumps(body, ensure_ascii=False).encode())

    def _verify(self, call: Call) -> _Response:
        param = self._json_fields(call, ("registration_token",))
        if param is None:
            return _error(400, "invalid_request", "expected JSON with registration_token")
        if self._registration_tokens.get(param["registration_token"]) is not False:
            return _error(400, "invalid_registration_token", "unknown or already used registration token")
        return _Response(200)

    def _get_customers(self, call: Call) -> _Response:
        # OpenAPI form/explode array, which is also what the SDK sends: tenant_ids=a&tenant_ids=b
        wanted = call.query.get("tenant_ids")
        ids = list(dict.fromkeys(wanted)) if wanted is not None else list(self._customers)
        return _ok({"customers": [self._customers[i] for i in ids if i in self._customers]})

    def _auth_info(self, call: Call) -> _Response:
        return _ok({"callback_url": self.callback_url})

    def _login(self, call: Call) -> _Response:
        redirect_uri = call.query.get("redirect_uri", [""])[0]
        if not redirect_uri:
            return _page(400, "Bad request", "<p>redirect_uri is required.</p>")
        marketplace = call.query.get("marketplace", [""])[0] in ("1", "true")
        email = call.query.get("email", [""])[0]
        with self._lock:
            users = sorted(self._users.values(), key=lambda u: u.email)
        if not email:
            items = "".join(
                # Relative, so the page works under whatever host name the browser used.
                f'<li><a href="{html.escape(_login_path(redirect_uri, u.email, marketplace))}">'
                f"{html.escape(u.email)}</a></li>"
                for u in users
            )
            return _page(200, "Sign in", f"<p>Choose a user:</p><ul>{items}</ul>")
        user = next((u for u in users if u.email == email), None)
        if user is None:
            return _page(404, "Unknown user", f"<p>No user {html.escape(email)}.</p>")
        params = {"code": self.issue_code(user)}
        if marketplace:
            params["registration_token"] = self.issue_registration_token()
        parts = urlsplit(redirect_uri)
        query = "&".join(q for q in (parts.query, urlencode(params)) if q)
        return _Response(302, content_type="text/html; charset=utf-8", location=urlunsplit(parts._replace(query=query)))


def _page(status: int, title: str, content: str) -> _Response:
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><h1>SaaSus stand-in: {title}</h1>{content}</body></html>"
    )
    return _Response(status, page.encode(), "text/html; charset=utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], standin: SaaSusStandIn) -> None:
        self.standin = standin
        self.connections: set[socket.socket] = set()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        with self.standin._lock:
            conns, self.connections = self.connections, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (e.g. after a timeout on a delayed answer) are expected here.
        logger.debug("error while serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK add ~40 ms to every small answer.
    disable_nagle_algorithm = True
    server: _Server
    timeout = 60  # idle keep-alive connections go away eventually

    def setup(self) -> None:
        super().setup()
        with self.server.standin._lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.standin._lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header, from the stand-in's own (possibly offset) clock.
        now = time.time() if timestamp is None else timestamp
        return super().date_time_string(now + self.server.standin.clock_offset)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        standin = self.server.standin
        if "transfer-encoding" in (k.lower() for k in self.headers):
            self.close_connection = True
            self._send(None, _error(411, "invalid_request", "send a Content-Length"))
            return
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        except ValueError:
            self.close_connection = True
            self._send(None, _error(400, "invalid_request", "bad Content-Length"))
            return
        path, _, raw_query = self.path.partition("?")
        call = Call(
            endpoint=_ROUTES.get((self.command, path), "other"),
            method=self.command,
            path=path,
            raw_query=raw_query,
            query=parse_qs(raw_query, keep_blank_values=True),
            headers=_Headers((k.lower(), v) for k, v in self.headers.items()),
            body=body,
        )
        with standin._lock:
            standin.calls.append(call)
        fault = standin._take_fault(call.endpoint)
        if fault is not None and not fault.after:
            time.sleep(fault.delay)
            if fault.drop:
                self._drop()
                return
            if fault.status is not None:  # the real handler never runs: nothing is consumed
                self._send(call, self._fault_response(fault))
                return
        response = standin._dispatch(call)
        if fault is not None and fault.after:  # SaaSus acted, but the answer is late or lost
            time.sleep(fault.delay)
            if fault.drop:
                self._drop()
                return
            if fault.status is not None:
                response = self._fault_response(fault)
        self._send(call, response)

    @staticmethod
    def _fault_response(fault: _Fault) -> _Response:
        status = fault.status or 500  # inject() guarantees a status on this path
        if fault.body is None:
            return _error(status, "injected_fault", f"injected HTTP {status}")
        try:
            json.loads(fault.body)
            return _Response(status, fault.body)
        except ValueError:
            return _Response(status, fault.body, "text/plain; charset=utf-8")

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, call: Call | None, response: _Response) -> None:
        if call is not None:
            call.status, call.response_body = response.status, response.body
        self.send_response(response.status)
        if response.body:
            self.send_header("Content-Type", response.content_type)
        if response.location is not None:
            self.send_header("Location", response.location)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)


def _login_path(redirect_uri: str, email: str | None, marketplace: bool) -> str:
    params = {"redirect_uri": redirect_uri}
    if email is not None:
        params["email"] = email
    if marketplace:
        params["marketplace"] = "1"
    return f"/login?{urlencode(params)}"
