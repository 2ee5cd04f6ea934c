"""The CSRF token as a page carries it: masked afresh on every page, so compression cannot leak it.

A compressed page's size depends on how much of it repeats: when a page carries a
secret and text an attacker can choose (a tenant's name, an e-mail address), the
attacker can guess the secret a character at a time by watching sizes (BREACH).
So the token never appears as itself: each page carries ``pad || (pad XOR token)``
with a fresh random pad, as Django and Rails do. Two pages of the same state carry
different strings; the POST unmasks and compares in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets

__all__ = ["mask", "matches"]

_MAX_MASKED = 256  # our tokens mask to 86 characters; anything much longer is not one of ours


def mask(token: str) -> str:
    """``token`` as one page carries it: a fresh random pad, then the token XOR that pad (base64url)."""
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    return _b64(pad + _xor(pad, raw))


def matches(masked: str, token: str) -> bool:
    """Whether ``masked`` (from a form) is ``token`` under some pad; compared in constant time."""
    if len(masked) > _MAX_MASKED or "=" in masked:  # we never pad: one spelling per mask
        return False
    try:
        data = base64.b64decode(masked.encode("ascii") + b"=" * (-len(masked) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):  # not base64url (UnicodeEncodeError is a ValueError)
        return False
    half, odd = divmod(len(data), 2)
    if odd or not half:
        return False
    return hmac.compare_digest(_xor(data[:half], data[half:]), token.encode())


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
