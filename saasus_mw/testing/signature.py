"""The SAASUSSIGV1 request signature, checked exactly as SaaSus checks it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

from .model import Call


def signature_ok(call: Call, *, saas_id: str, api_key: str, secret_key: str, skew_minutes: int, offset: float) -> bool:
    """Whether ``call`` carries a valid signature, within ``skew_minutes`` of a clock ``offset`` s ahead."""
    parts = call.headers.get("authorization", "").split(" ", 1)
    if len(parts) != 2 or parts[0] != "SAASUSSIGV1":
        return False
    fields: dict[str, str] = {}
    for item in parts[1].split(","):
        key, _, value = item.strip().partition("=")
        fields[key] = value
    if set(fields) != {"Sig", "SaaSID", "APIKey"}:
        return False
    ok = hmac.compare_digest(fields["SaaSID"].encode(), saas_id.encode())
    ok &= hmac.compare_digest(fields["APIKey"].encode(), api_key.encode())
    try:
        body = call.body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # The signed string uses the Host header and request target exactly as sent.
    target = call.path + ("?" + call.raw_query if call.raw_query else "")
    rest = api_key + call.method + call.headers.get("host", "") + target + body
    now = datetime.now(timezone.utc) + timedelta(seconds=offset)
    matched = False
    for skew in range(-skew_minutes, skew_minutes + 1):
        stamp = (now + timedelta(minutes=skew)).strftime("%Y%m%d%H%M")
        sig = hmac.new(secret_key.encode(), (stamp + rest).encode(), hashlib.sha256)
        matched |= hmac.compare_digest(sig.hexdigest().encode(), fields["Sig"].encode())
    return bool(ok and matched)
