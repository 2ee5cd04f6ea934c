"""Faults the stand-in injects: error statuses, delays, dropped connections, before or after acting."""

from __future__ import annotations

import threading
from dataclasses import dataclass

ENDPOINTS = (
    "credentials",
    "create_credentials",
    "userinfo",
    "link",
    "sign_up",
    "verify",
    "customers",
    "auth_info",
    "plans",
    "sign_in_settings",
    "marketplace_settings",
    "listing_status",
    "visibility",
    "login",
    "standin_reset",
    "other",
)


@dataclass
class Fault:
    status: int | None
    body: bytes | None
    delay: float
    drop: bool
    after: bool  # SaaSus acts, then the answer is late, lost or replaced
    remaining: int | None


class Faults:
    """The pending faults, each for the next ``times`` calls of one endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Fault]] = []

    def add(
        self,
        endpoint: str,
        status: int | None,
        body: bytes | str | None,
        delay: float,
        drop: bool,
        times: int | None,
        after: bool,
    ) -> None:
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
        with self._lock:
            self._pending.append((endpoint, Fault(status, raw, delay, drop, after, times)))

    def take(self, endpoint: str) -> Fault | None:
        with self._lock:
            for i, (name, fault) in enumerate(self._pending):
                if name == endpoint:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            del self._pending[i]
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
