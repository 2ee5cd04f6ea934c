"""What the hooks receive: ``on_linked`` a :class:`Linked` (with the buyer's :class:`Credentials`),
``on_error`` a :class:`Failure`.

Light on purpose: importing saasus_mw loads this, not the SDK.
"""

from __future__ import annotations

import dataclasses

from .errors import ErrorCode

__all__ = ["Credentials", "Failure", "Linked"]


@dataclasses.dataclass(frozen=True)
class Credentials:
    """A buyer's SaaSus tokens; never in a repr (and so never in a log line)."""

    id_token: str = dataclasses.field(repr=False)
    access_token: str = dataclasses.field(repr=False)
    refresh_token: str | None = dataclasses.field(repr=False, default=None)


@dataclasses.dataclass(frozen=True)
class Failure:
    """What ``on_error`` receives: a stable code, the status shown, and what SaaSus said (if it did)."""

    code: ErrorCode
    status: int
    step: str  # "start" | "picker" | "link" | "not_allowed"
    saasus_error: str = ""  # "kind:status:type", e.g. "rejected:400:invalid_registration_token"
    # SaaSus's X-Saasus-Trace-Id of the step's calls ("" when none was made): quote it to SaaSus support.
    saasus_trace_id: str = ""


@dataclasses.dataclass(frozen=True)
class Linked:
    """What ``on_linked`` receives once the purchase has a tenant.

    ``created`` is True when the tenant was made for this purchase (the picker's
    "A new account"). ``credentials`` holds the user's ID, access and refresh
    tokens (hidden from reprs); return a URL to send the user there instead of the
    success URL or the sign-in hand-off.
    """

    tenant_id: str
    tenant_name: str
    user_id: str
    email: str
    registration_token_hash: str  # SHA-256 hex of the registration token: matches saasus_mw_journey
    credentials: Credentials
    created: bool = False
    sign_in_id: str = ""  # a sign-in-ID user's login name ("" for e-mail users, whose ``email`` is set)
