"""The picker state: encrypted, expiring, chunked cookies; and the purchase-bound "done" marker.

The state carries the buyer's ID, access and refresh tokens. Signing alone would let
anything that sees the cookie (a proxy or WAF log, an APM agent, the browser's own
storage) read them, so the state is encrypted and authenticated with AES-GCM from
``cryptography``; its key is derived with HKDF from each configured key, so the key
list rotates as it always did. The lifetime counts from when the state was first
minted: re-encoding it later (to remember a link attempt) never renews it.

It never holds the tenant list: a user in 1,000 tenants would not fit in a cookie.
The ID token re-fetches it.

A cookie name can arrive several times: a sibling subdomain can toss cookies of our
names for the parent domain, and browsers send those first. Every value is read, and
the state used is the one this browser's arrival minted for the purchase the picker's
address names (:attr:`State.ref`), or the one a posted form was rendered from.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import itertools
import json
import logging
import os
import secrets
import time
import zlib
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.http import dump_cookie, parse_cookie

from .csrf import matches

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "LINKED",
    "SEEN",
    "State",
    "StateCodec",
    "StateError",
    "StateTooLarge",
    "key_fingerprint",
    "purchase_digest",
]

logger = logging.getLogger("saasus_mw")

# Browsers keep at most 4,096 bytes per cookie (name, value and attributes), and
# common proxies refuse a Cookie header above 8,190 bytes: the state's share of the
# Cookie header stays within 6,600 bytes, leaving the rest to the host app's cookies.
SET_COOKIE_LIMIT = 4096
COOKIE_HEADER_BUDGET = 6600
MAX_CHUNKS = 2
_VERSION = b"\x02"  # the first byte of every sealed state: the format, for a future change
_NONCE = 12
_AAD = b"saasus_mw.state"
_HKDF_INFO = b"saasus_mw state cookie encryption v2"
# A state minted this far in the future was not minted by a machine in sync with ours.
_CLOCK_TOLERANCE = 60
# The browser keeps the cookies this long after the state expires, so that an expired
# state is told as "expired" (sign in again), not as "your browser sent no cookie".
EXPIRED_GRACE = 24 * 3600
# How many paths' deletion headers clear() keeps (then it starts again).
_CLEARED_KEPT = 64
# A sibling subdomain can toss cookies of our names (Domain=parent): each name may come
# several times. At most this many values of each are tried (MAX_VALUES ** MAX_CHUNKS states).
MAX_VALUES = 4
REF_LENGTH = 16  # hex digits of the purchase digest that name a purchase in the picker's URL
LINKED, SEEN = "linked", "seen"  # what a purchase's "done" marker says


class StateError(Exception):
    """The state cookie is missing, expired, or not one we sealed."""

    def __init__(self, reason: str, ref: str = "") -> None:
        super().__init__(reason)
        self.reason = reason  # "missing" | "expired" | "invalid"
        self.ref = ref  # an expired state's purchase


class StateTooLarge(Exception):
    """The tokens SaaSus gave us do not fit in the cookies browsers accept."""


@dataclasses.dataclass(frozen=True)
class State:
    """What the picker and the link step need across requests. Tokens stay out of reprs."""

    registration_token: str = dataclasses.field(repr=False)
    access_token: str = dataclasses.field(repr=False)
    id_token: str = dataclasses.field(repr=False)
    refresh_token: str = dataclasses.field(repr=False, default="")  # "" when it had to be dropped
    csrf_token: str = dataclasses.field(repr=False, default_factory=lambda: secrets.token_urlsafe(24))
    minted_at: int = dataclasses.field(default_factory=lambda: int(time.time()))
    # What an attempt whose answer was lost tried: only such an attempt can later be
    # confirmed as done by this purchase. An existing tenant's id, or the name of a
    # new tenant together with the ids of the user's tenants that already had that name.
    attempted_tenant: str = ""
    attempted_name: str = ""
    name_taken_by: tuple[str, ...] = ()
    # Minted at an arrival whose registration token was already spent: the buyer is
    # signed in (once) and told, never offered a link.
    returning: bool = False

    @functools.cached_property
    def journey(self) -> str:
        return purchase_digest(self.registration_token)

    @property
    def ref(self) -> str:
        """The purchase's reference: in the picker's URL and on pages; names it, reveals nothing."""
        return self.journey[:REF_LENGTH]


# Short keys: the state's size is the cookie's size.
_REQUIRED = {"r": "registration_token", "a": "access_token", "i": "id_token", "c": "csrf_token"}
_OPTIONAL = {"f": "refresh_token", "t": "attempted_tenant", "n": "attempted_name"}


def purchase_digest(registration_token: str) -> str:
    """SHA-256 hex of a registration token: names a purchase in logs and markers, reveals nothing."""
    return hashlib.sha256(registration_token.encode()).hexdigest()


class StateCodec:
    """Turns a :class:`State` into ``Set-Cookie`` values and a ``Cookie`` header back into it.

    ``keys`` is oldest first; the last one encrypts, all of them decrypt (rotation).
    """

    @classmethod
    def for_settings(cls, settings: Settings) -> StateCodec:
        """The codec the middleware uses: its keys, lifetime and cookie attributes."""
        return cls(
            settings.signing_keys,
            max_age=settings.state_ttl,
            cookie_name=settings.cookie_name,
            secure=settings.cookie_secure,
            samesite=settings.cookie_samesite,
        )

    def __init__(self, keys: list[str], *, max_age: int, cookie_name: str, secure: bool, samesite: str = "Lax") -> None:
        if not keys or not all(keys):
            raise ValueError("at least one non-empty key is required")
        self._ciphers = [_cipher(key) for key in reversed(keys)]  # newest first
        # The marker is signed, not encrypted: it holds only a purchase digest.
        self._done_serializer = URLSafeTimedSerializer(
            keys, salt="saasus_mw.linked.v2", signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.max_age = max_age
        self._names = [f"{cookie_name}_{i}" for i in range(MAX_CHUNKS)]
        self._done_name = f"{cookie_name}_done"
        self._secure = secure
        self._samesite = samesite
        # What the sealed value may take of the Cookie header: "name=value" per chunk, "; " between.
        self._budget = COOKIE_HEADER_BUDGET - sum(len(n) + 1 for n in self._names) - 2 * (MAX_CHUNKS - 1)
        self._cleared: dict[str, tuple[str, ...]] = {}  # clear()'s headers by path

    def encode(self, state: State, path: str) -> list[str]:
        """``Set-Cookie`` header values that store ``state`` for requests under ``path``.

        Drops the refresh token (logged) when the tokens are too large to fit with
        it: the buyer is then signed in without one. Raises :class:`StateTooLarge`
        when even the ID and access tokens do not fit.
        """
        sealed = self._seal(state)
        if len(sealed) > self._budget and state.refresh_token:
            logger.warning(
                "saasus_mw: the tokens are too large for the state cookie with the refresh token "
                "(%d bytes, budget %d); the buyer will be signed in without one",
                len(sealed),
                self._budget,
            )
            sealed = self._seal(dataclasses.replace(state, refresh_token=""))
        if len(sealed) > self._budget:
            raise StateTooLarge(f"state of {len(sealed)} bytes exceeds {self._budget}")
        size = -(-len(sealed) // MAX_CHUNKS)  # ceil: equal halves keep both cookies small
        chunks = [sealed[i * size : (i + 1) * size] for i in range(MAX_CHUNKS)]
        # Empty chunks are written as deletions so a shorter state never inherits
        # a stale tail from a longer one.
        return [self._cookie(name, chunk, path) for name, chunk in zip(self._names, chunks, strict=True)]

    def decode(self, cookie_header: str | None, *, ref: str = "", csrf: str = "") -> State:
        """The state this browser's own arrival minted; :class:`StateError` unless there is one.

        Every value of every state cookie is tried (bounded): a sibling subdomain can
        toss cookies of our names, which browsers send first. ``ref`` (from the
        picker's URL, which this browser's arrival chose) keeps only states of that
        purchase; ``csrf`` (from a posted form) prefers the state that page was
        rendered from; otherwise the newest wins. An empty value is a bad state, never
        a missing one.
        """
        cookies = _parse_cookies(cookie_header)
        values = [list(dict.fromkeys(cookies.getlist(name)))[:MAX_VALUES] for name in self._names]
        if not any(values):
            raise StateError("missing")
        valid: list[State] = []
        expired, others = False, not all(all(v) for v in values)  # an empty value is not ours
        for chunks in itertools.product(*(v or [""] for v in values)):
            try:
                state = self._state(chunks)
            except StateError as exc:
                expired = expired or (exc.reason == "expired" and (not ref or exc.ref == ref))
                continue
            if not ref or state.ref == ref:
                valid.append(state)
            others = True
        if not valid:
            # With a ref, other purchases' states (or empty values) are not this purchase's.
            raise StateError("expired" if expired else "missing" if ref and others else "invalid")
        if csrf:  # the posted page's token, masked as every page carries it
            for state in valid:
                if matches(csrf, state.csrf_token):
                    return state
        return max(valid, key=lambda s: s.minted_at)  # the first of equals: max keeps the first

    def _state(self, chunks: tuple[str, ...]) -> State:
        if not all(chunks):
            raise StateError("invalid")
        sealed = "".join(chunks)
        if len(sealed) > self._budget:
            raise StateError("invalid")
        state = _state_from(self._open(sealed))
        age = time.time() - state.minted_at
        if age > self.max_age:
            raise StateError("expired", state.ref)
        if age < -_CLOCK_TOLERANCE:
            raise StateError("invalid")
        return state

    def clear(self, path: str) -> list[str]:
        """``Set-Cookie`` values that delete the state under ``path``: the same for every request
        to that path, so each path's are written once (werkzeug dates even a deletion)."""
        cleared = self._cleared.get(path)
        if cleared is None:
            if len(self._cleared) >= _CLEARED_KEPT:  # paths are few: the app's mounts, not the buyers'
                self._cleared.clear()
            cleared = self._cleared[path] = tuple(self._cookie(name, "", path) for name in self._names)
        return list(cleared)

    def done(self, path: str, registration_token: str, kind: str = LINKED) -> str:
        """A marker that this browser finished *this* purchase: Back and reload get a kind page.

        ``kind``: :data:`LINKED` (this browser completed it) or :data:`SEEN` (a returning
        buyer, told the purchase was already set up, went on signed in).
        """
        digest = purchase_digest(registration_token)
        value = self._done_serializer.dumps(digest if kind == LINKED else f"{digest}:{kind}")
        return self._cookie(self._done_name, value, path)

    def is_done(self, cookie_header: str | None, ref: str) -> str:
        """What the marker of the purchase named by ``ref`` says (:data:`LINKED`, :data:`SEEN`), or "".

        Only ever for the purchase in hand: a marker tossed by a sibling subdomain for
        another purchase says nothing about this one.
        """
        if not ref:
            return ""
        try:
            markers = _parse_cookies(cookie_header).getlist(self._done_name)[:MAX_VALUES]
        except StateError:
            return ""
        for marker in markers:
            try:
                digest, _, kind = str(self._done_serializer.loads(marker, max_age=self.max_age)).partition(":")
            except BadData:
                continue
            if digest[:REF_LENGTH] == ref and kind in ("", SEEN):
                return kind or LINKED
        return ""

    def _seal(self, state: State) -> str:
        payload: dict[str, Any] = {short: getattr(state, name) for short, name in _REQUIRED.items()}
        payload.update({short: getattr(state, name) for short, name in _OPTIONAL.items() if getattr(state, name)})
        payload["m"] = state.minted_at
        if state.name_taken_by:
            payload["x"] = list(state.name_taken_by)
        if state.returning:
            payload["o"] = 1
        # Tokens are base64url text: deflate's Huffman coding stores their 64 symbols
        # in about 6 bits each, which pays for the encryption's own base64.
        plain = zlib.compress(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), 9)
        nonce = os.urandom(_NONCE)
        sealed = _VERSION + nonce + self._ciphers[0].encrypt(nonce, plain, _AAD)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def _open(self, sealed: str) -> Any:
        try:
            raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        except (binascii.Error, ValueError):
            raise StateError("invalid") from None
        if len(raw) <= 1 + _NONCE or raw[:1] != _VERSION:
            raise StateError("invalid")
        nonce, ciphertext = raw[1 : 1 + _NONCE], raw[1 + _NONCE :]
        for cipher in self._ciphers:
            try:
                plain = cipher.decrypt(nonce, ciphertext, _AAD)
            except InvalidTag:
                continue
            try:
                # Authenticated, so ours; bounded anyway: a decompression bomb is not our format.
                return json.loads(zlib.decompressobj().decompress(plain, 64 * 1024))
            except (zlib.error, ValueError):
                raise StateError("invalid") from None
        raise StateError("invalid")

    def _cookie(self, name: str, value: str, path: str) -> str:
        header = dump_cookie(
            name,
            value,
            max_age=self.max_age + EXPIRED_GRACE if value else 0,
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


def _cipher(key: str) -> AESGCM:
    return AESGCM(_cipher_key(key))


def _cipher_key(key: str) -> bytes:
    # A purpose-bound key: the configured key itself never touches the cipher.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(key.encode())


def key_fingerprint(key: str) -> str:
    """8 hex digits naming a state key, so that workers can be compared (``saasus-mw check``); never the key.

    The first 32 bits of SHA-256 over the cipher key HKDF derives: they tell keys apart
    and tell nothing a state cookie would not (it is itself a test of any guessed key).
    """
    return hashlib.sha256(_cipher_key(key)).hexdigest()[:8]


def _state_from(payload: Any) -> State:
    if not isinstance(payload, dict) or not set(_REQUIRED) | {"m"} <= set(payload):
        raise StateError("invalid")
    if not set(payload) <= set(_REQUIRED) | set(_OPTIONAL) | {"m", "x", "o"}:
        raise StateError("invalid")
    texts = {name: payload[short] for short, name in (_REQUIRED | _OPTIONAL).items() if short in payload}
    minted, taken = payload["m"], payload.get("x", [])
    if not all(isinstance(v, str) and v for v in texts.values()) or type(minted) is not int:
        raise StateError("invalid")
    if not isinstance(taken, list) or not all(isinstance(t, str) for t in taken):
        raise StateError("invalid")
    if payload.get("o", 1) != 1:
        raise StateError("invalid")
    return State(**texts, minted_at=minted, name_taken_by=tuple(taken), returning="o" in payload)


def _parse_cookies(header: str | None) -> MultiDict[str, str]:
    """Every value of every cookie, in the order the browser sent them."""
    try:
        return parse_cookie(header or "")
    except UnicodeError:  # werkzeug re-decodes the latin-1 header as UTF-8
        raise StateError("invalid") from None
