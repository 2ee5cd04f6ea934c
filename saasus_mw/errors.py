"""Stable error codes: what went wrong on a marketplace journey, as hooks and logs see it."""

from __future__ import annotations

import enum

__all__ = ["ErrorCode"]


class ErrorCode(str, enum.Enum):
    """Values are part of the public API: log queries and hooks depend on them."""

    BAD_REQUEST = "bad_request"  # malformed query or form: nothing was sent to SaaSus
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    CODE_REJECTED = "code_rejected"  # SaaSus refused the sign-in code (used or expired)
    REGISTRATION_INVALID = "registration_invalid"  # the registration token is used or unknown
    STATE_MISSING = "state_missing"  # no state cookie: cookies blocked, or a new browser
    STATE_EXPIRED = "state_expired"
    STATE_INVALID = "state_invalid"  # tampered, signed with an unknown key, or for another user
    STATE_TOO_LARGE = "state_too_large"
    CSRF_FAILED = "csrf_failed"
    TENANT_NOT_ALLOWED = "tenant_not_allowed"  # not one of the tenants offered to this user
    TENANT_ALREADY_LINKED = "tenant_already_linked"  # linked to another Marketplace purchase
    NO_TENANTS = "no_tenants"
    LINK_REJECTED = "link_rejected"  # SaaSus refused the link or the new tenant (e.g. token already used)
    IN_PROGRESS = "in_progress"  # another request is completing this purchase right now
    SAASUS_TIMEOUT = "saasus_timeout"
    SAASUS_UNAVAILABLE = "saasus_unavailable"  # 5xx, refused connection, malformed answer
    INTERNAL = "internal"  # a bug of ours: logged with its traceback, shown as a page
