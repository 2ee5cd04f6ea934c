"""The picker state: signed, salted, expiring and, when it must be, chunked cookies.

Signed is not encrypted: the browser can read the payload. It holds only what the
link step needs and cannot be re-fetched: who the user is, the registration token,
the access token (LinkAwsMarketplace wants it) and the ID token (to re-fetch the
tenant list, which for a user in 1,000 tenants could never fit in a cookie), plus
the CSRF token bound to this state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import secrets
from collections.abc import Mapping

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from werkzeug.http import dump_cookie, parse_cookie

__all__ = ["State", "StateCodec", "StateError", "StateTooLarge"]

# Browsers keep at most 4,096 bytes per cookie (name, value and attributes) and
# common proxies refuse a Cookie header above 8,190 bytes; two chunks of at most
# 3,600 bytes leave room for the host app's own cookies.
SET_COOKIE_LIMIT = 4096
MAX_CHUNKS = 2
MAX_TOKEN_LENGTH = 7200


class StateError(Exception):
    """The state cookie is missing, expired, or not one we signed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "missing" | "expired" | "invalid"


class StateTooLarge(Exception):
    """The tokens SaaSus gave us do not fit in the cookies browsers accept."""


@dataclasses.dataclass(frozen=True)
class State:
    """What a picker needs across requests. Tokens stay out of reprs (and so out of logs)."""

    user_id: str
    registration_token: str = dataclasses.field(repr=False)
    access_token: str = dataclasses.field(repr=False)
    id_token: str = dataclasses.field(repr=False)
    csrf_token: str = dataclasses.field(repr=False, default_factory=lambda: secrets.token_urlsafe(24))
    # The tenant of a link attempt whose answer was lost: SaaSus may have linked
    # it, so the picker offers it again and the next POST can confirm it.
    pending_tenant: str = ""


_KEYS = {"u": "user_id", "r": "registration_token", "a": "access_token", "i": "id_token", "c": "csrf_token"}
_OPTIONAL = {"p": "pending_tenant"}


class StateCodec:
    """Turns a :class:`State` into ``Set-Cookie`` values and a ``Cookie`` header back into it.

    ``keys`` is oldest first; the last one signs, all of them verify (rotation).
    """

    def __init__(self, keys: list[str], *, max_age: int, cookie_name: str, secure: bool, samesite: str = "Lax") -> None:
        if not keys or not all(keys):
            raise ValueError("at least one non-empty signing key is required")
        sha256 = {"digest_method": hashlib.sha256}
        self._serializer = URLSafeTimedSerializer(keys, salt="saasus_mw.state.v1", signer_kwargs=sha256)
        # A second purpose, a second salt: a "done" marker can never pass as a state.
        self._done_serializer = URLSafeTimedSerializer(keys, salt="saasus_mw.linked.v1", signer_kwargs=sha256)
        self.max_age = max_age
        self._names = [f"{cookie_name}_{i}" for i in range(MAX_CHUNKS)]
        self._done_name = f"{cookie_name}_done"
        self._secure = secure
        self._samesite = samesite

    def encode(self, state: State, path: str) -> list[str]:
        """``Set-Cookie`` header values that store ``state`` for requests under ``path``."""
        payload = {short: getattr(state, name) for short, name in _KEYS.items()}
        payload.update({short: getattr(state, name) for short, name in _OPTIONAL.items() if getattr(state, name)})
        token = self._serializer.dumps(payload)
        if len(token) > MAX_TOKEN_LENGTH:
            raise StateTooLarge(f"state of {len(token)} bytes exceeds {MAX_TOKEN_LENGTH}")
        size = -(-len(token) // MAX_CHUNKS)  # ceil: equal halves keep both cookies small
        chunks = [token[i * size : (i + 1) * size] for i in range(MAX_CHUNKS)]
        # Empty chunks are written as deletions so a shorter state never inherits
        # a stale tail from a longer one.
        return [self._cookie(name, chunk, path) for name, chunk in zip(self._names, chunks, strict=True)]

    def clear(self, path: str) -> list[str]:
        return [self._cookie(name, "", path) for name in self._names]

    def done(self, path: str) -> str:
        """A small marker that this browser completed a link: Back and reload get a kind page."""
        return self._cookie(self._done_name, self._done_serializer.dumps(1), path)

    def is_done(self, cookie_header: str | None) -> bool:
        try:
            marker = _parse_cookies(cookie_header).get(self._done_name, "")
            return bool(marker) and self._done_serializer.loads(marker, max_age=self.max_age) == 1
        except (StateError, BadData):
            return False

    def decode(self, cookie_header: str | None) -> State:
        """Raise :class:`StateError` unless the header carries a valid, unexpired state."""
        cookies = _parse_cookies(cookie_header)
        token = "".join(cookies.get(name, "") for name in self._names)
        if not token:
            raise StateError("missing")
        if len(token) > MAX_TOKEN_LENGTH:
            raise StateError("invalid")
        try:
            payload = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise StateError("expired") from None
        except (BadData, json.JSONDecodeError, UnicodeDecodeError):
            # BadData covers BadPayload too, which is not a BadSignature.
            raise StateError("invalid") from None
        if not isinstance(payload, dict) or not set(_KEYS) <= set(payload) <= set(_KEYS) | set(_OPTIONAL):
            raise StateError("invalid")
        values = {name: payload[short] for short, name in (_KEYS | _OPTIONAL).items() if short in payload}
        if not all(isinstance(v, str) and v for v in values.values()):
            raise StateError("invalid")
        return State(**values)

    def _cookie(self, name: str, value: str, path: str) -> str:
        header = dump_cookie(
            name,
            value,
            max_age=self.max_age if value else 0,
            path=path,
            secure=self._secure,
            httponly=True,
            # Lax by default, not Strict: the browser arrives from the SaaSus login
            # on another site, and Strict cookies are dropped along that redirect chain.
            samesite=self._samesite,
            max_size=0,  # checked below, as an error rather than a warning
        )
        if len(header) > SET_COOKIE_LIMIT:  # only with an absurdly long cookie path
            raise StateTooLarge(f"Set-Cookie of {len(header)} bytes exceeds {SET_COOKIE_LIMIT}")
        return header


def _parse_cookies(header: str | None) -> Mapping[str, str]:
    try:
        return parse_cookie(header or "")
    except UnicodeError:  # werkzeug re-decodes the latin-1 header as UTF-8
        raise StateError("invalid") from None
