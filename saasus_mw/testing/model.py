"""What the stand-in knows: users, tenants, plans, recorded calls, and the shape of its answers."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any, Protocol

__all__ = ["Call", "Plan", "Tenant", "User"]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Tenant:
    name: str
    _: KW_ONLY
    id: str = field(default_factory=new_id)
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
    """A SaaSus user: an e-mail user, or (since April 2026) a sign-in-ID user whose ``email`` is ""."""

    email: str
    _: KW_ONLY
    id: str = field(default_factory=new_id)
    sign_in_id: str = ""
    tenants: list[Tenant] = field(default_factory=list)

    @property
    def login_name(self) -> str:
        """What the hosted login knows the user by: the e-mail address, or else the sign-in ID."""
        return self.email or self.sign_in_id


@dataclass(frozen=True)
class Plan:
    """A pricing plan (GET /pricing/plans): tenants name it by its UUID ``id``."""

    display_name: str
    _: KW_ONLY
    name: str = ""
    id: str = field(default_factory=new_id)
    description: str = ""


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
class Store:
    """Everything SaaSus would remember, shared by the endpoints; guarded by ``lock``."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    users: dict[str, User] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    # unused temp code -> (user id, stored credentials or None, expiry or None)
    codes: dict[str, tuple[str, dict[str, str] | None, float | None]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token -> (user id, "id"|"access"|"refresh")
    registration_tokens: dict[str, bool] = field(default_factory=dict)  # token -> already used
    customers: dict[str, dict[str, str]] = field(default_factory=dict)  # tenant id -> Customer
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (tenant id, user id, registration token)
    created: list[tuple[str, str, str]] = field(default_factory=list)  # (new tenant id, user id, registration token)

    def clear(self) -> None:
        """Forget everything: a SaaSus as just started (the lock stays)."""
        with self.lock:
            for name in (f.name for f in fields(self) if f.name != "lock"):
                getattr(self, name).clear()

    def user_for(self, token: str, kind: str) -> User | None:
        user_id, token_kind = self.tokens.get(token, ("", ""))
        return self.users.get(user_id) if token_kind == kind else None

    def issue_code(self, user: User) -> str:
        with self.lock:
            if self.users.get(user.id) is not user:
                raise ValueError(f"user was not added to this stand-in: {user.login_name}")
            code = new_id()
            self.codes[code] = (user.id, None, None)
        return code

    def issue_registration_token(self) -> str:
        # Opaque, as AWS Marketplace's are: base64 with "+", "/" and "=", not a UUID.
        token = base64.b64encode(secrets.token_bytes(180)).decode()
        with self.lock:
            self.registration_tokens[token] = False
        return token

    def link_customer(self, tenant_id: str) -> None:
        with self.lock:
            self.customers[tenant_id] = {
                "customer_identifier": secrets.token_hex(6),
                "customer_aws_account_id": str(secrets.randbelow(10**12)).zfill(12),
                "tenant_id": tenant_id,
            }


class Config(Protocol):
    """What the endpoints read of the stand-in's configuration (some of it settable by tests)."""

    @property
    def url(self) -> str: ...

    secret_key: str
    token_size: int
    refresh_token_size: int
    callback_url: str


class Headers(dict[str, str]):
    """Header names stored lower-cased; lookups are case-insensitive."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    location: str | None = None


def error(status: int, type_: str, message: str) -> Answer:
    return Answer(status, json.dumps({"type": type_, "message": message}).encode())


def ok(payload: object, status: int = 200) -> Answer:
    return Answer(status, json.dumps(payload, ensure_ascii=False).encode())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def json_fields(call: Call, names: tuple[str, ...]) -> dict[str, str] | None:
    """The named string fields of a JSON body, or None if any is missing or not a string."""
    try:
        data = json.loads(call.body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(n), str) for n in names):
        return None
    return {n: data[n] for n in names}
