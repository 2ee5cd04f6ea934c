"""Which purchase and step the running request is about, for SaaSus's ``X-Saasus-Trace-Id``.

SaaSus answers every call with an ``X-Saasus-Trace-Id`` and inherits one sent with
the request. The router begins a :class:`Trace` for each step; once the step knows
its purchase (:func:`follow`), every SaaSus call of the step, in whichever thread it
runs, carries one id derived from the purchase's journey digest and the step - never
from a token - so an operator can hand SaaSus support the exact calls of a purchase.
Light: no third-party import.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import uuid

__all__ = ["HEADER", "Trace", "begin", "current", "end", "follow", "journey"]

HEADER = "X-Saasus-Trace-Id"


@dataclasses.dataclass
class Trace:
    step: str
    journey: str = ""  # saasus_mw_journey of the logs; "" until the purchase is known
    sent: bool = False  # whether a SaaSus call of this step carried the id

    # The id as last derived, with what it was derived from: each of a step's calls asks for it
    # (twelve for a large picker), and a SHA-256 and a UUID each time cost more than the call's headers.
    _derived: tuple[str, str, str] = dataclasses.field(default=("", "", ""), init=False, repr=False, compare=False)

    @property
    def id(self) -> str:
        """The same for every call of one step of one purchase (a retry too); "" before the purchase is known."""
        if not self.journey:
            return ""
        journey, step, derived = self._derived
        if (journey, step) != (self.journey, self.step):
            digest = hashlib.sha256(f"saasus_mw trace {self.journey} {self.step}".encode()).digest()
            derived = str(uuid.UUID(bytes=digest[:16], version=4))
            self._derived = self.journey, self.step, derived
        return derived


_current: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("saasus_mw_trace", default=None)


def begin(step: str) -> contextvars.Token[Trace | None]:
    return _current.set(Trace(step))


def end(token: contextvars.Token[Trace | None]) -> None:
    _current.reset(token)


def current() -> Trace | None:
    return _current.get()


def follow(journey: str) -> None:
    """The purchase the running step is about, once it is known (its journey digest)."""
    trace = _current.get()
    if trace is not None:
        trace.journey = journey


def journey() -> str:
    """The journey digest the running step follows, or "" before it is known."""
    trace = _current.get()
    return trace.journey if trace is not None else ""
