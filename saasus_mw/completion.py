"""Completing a purchase: link an existing tenant, or create a new one, exactly once.

The protocol, the same for both ways:

1. **Look** (one round of concurrent calls): the user's tenants, the registration
   token, and for a link the chosen tenant's Marketplace customer.
2. **Act once**, and only when the look says nothing is done yet.
3. **Confirm after a lost answer**: SaaSus may have acted before a timeout, a dropped
   connection or a 5xx. Look again; conclude "done by this purchase" only from facts
   this purchase alone could have caused: the registration token is spent *and* the
   very tenant this purchase attempted (a link to a tenant that had no customer when
   we looked, or a tenant of the requested name that was not there before) now has a
   Marketplace customer. A tenant that had a customer before our attempt is never
   ours, whatever the token says.
4. When even the confirmation goes unanswered, :class:`Unanswered` carries what was
   attempted, so the state can remember it and the next try confirms instead of acting.

Across requests of one process a :class:`PurchaseGuard` lets one request at a time
work on a purchase and remembers the ones completed; across processes the look
before acting is the backstop (whether SaaSus still accepts the registration token,
and whether the tenant has a customer): what SaaSus answers to a second link with
the same token is not documented, so nothing here relies on it.
"""

from __future__ import annotations

import collections
import dataclasses
import hmac
import itertools
import operator
import threading
import time
from collections.abc import Callable, Set
from typing import Any

from .errors import ErrorCode
from .saasus import ErrorKind, SaaSus, SaaSusError, Tenant, UserInfo
from .state import State
from .tenants import Tenants, find

__all__ = [
    "DOUBLE_CLICK_WINDOW",
    "Completed",
    "Completion",
    "PurchaseGuard",
    "Record",
    "Refused",
    "SessionOver",
    "Spent",
    "Unanswered",
    "ineligibility",
    "ineligible",
]


@dataclasses.dataclass(frozen=True)
class Completed:
    """The purchase went to this tenant; ``created``: ConfirmSignUpWithAwsMarketplace made it."""

    tenant_id: str
    tenant_name: str
    created: bool
    user: UserInfo | None  # None when another request of this process completed it


@dataclasses.dataclass(frozen=True)
class Refused:
    """Nothing was done, and trying again will not help: the page to show."""

    code: ErrorCode
    error: SaaSusError | None = None


@dataclasses.dataclass(frozen=True)
class Spent:
    """The registration token can no longer be used, and no attempt of this state completed it.

    Nothing was done. Maybe this purchase was set up before (another worker, another
    browser, or another account), maybe the token expired: only the user's tenants
    and their Marketplace customers are known, so the buyer is told just that.
    """

    user: UserInfo


class SessionOver(Exception):
    """SaaSus refused the buyer's ID token: the session is over, nothing was done."""


class Unanswered(Exception):
    """SaaSus did not answer, and may have acted: ``state`` remembers what was attempted."""

    def __init__(self, error: SaaSusError, state: State) -> None:
        super().__init__(str(error))
        self.error, self.state = error, state


def ineligible(tenant: Tenant, linked: Set[str], required_roles: Set[str]) -> str:
    """Why this tenant cannot take the purchase (a catalogue key), or "": the picker and the link agree."""
    if tenant.id in linked:
        return "reason_linked"
    if not tenant.completed_sign_up:
        return "reason_signup"
    if required_roles and required_roles.isdisjoint(tenant.roles):
        return "reason_role"
    return ""


def ineligibility(tenants: Tenants, linked: Set[str], required_roles: Set[str]) -> list[str]:
    """:func:`ineligible` of every tenant, in order, column by column: the usual tenant (signed up,
    not linked, no roles required) costs no Python step. The rules are applied weakest first."""
    reasons = [""] * len(tenants)
    if required_roles:
        for i in itertools.compress(range(len(tenants)), map(required_roles.isdisjoint, tenants.roles)):
            reasons[i] = "reason_role"
    for i in itertools.compress(range(len(tenants)), map(operator.not_, tenants.completed)):
        reasons[i] = "reason_signup"
    if linked:
        for i in itertools.compress(range(len(tenants)), map(linked.__contains__, tenants.ids)):
            reasons[i] = "reason_linked"
    return reasons


def _nothing() -> None:
    """What ``acting`` does unless told: the caller's hook, called just before SaaSus is asked to act."""


class Completion:
    """Completes purchases through one :class:`SaaSus` client; holds no per-request state."""

    def __init__(self, saasus: SaaSus, *, required_roles: Set[str] = frozenset()) -> None:
        self._saasus = saasus
        self._required_roles = required_roles

    def link(
        self, state: State, tenant_id: str, *, acting: Callable[[], object] = _nothing
    ) -> Completed | Refused | Spent:
        """LinkAwsMarketplace for one of the user's eligible tenants; ``acting()`` just before it."""
        user, linked, unused = self._look(state, tenant_id)
        done = self._remembered(state, user, linked, unused)
        if done is not None:
            return done
        tenant = find(user.tenants, tenant_id)
        if tenant is None or ineligible(tenant, set(), self._required_roles):
            return Refused(ErrorCode.TENANT_NOT_ALLOWED)
        if not unused:
            return Spent(user)
        if tenant_id in linked:  # before our attempt: never ours, whatever the token says
            return Refused(ErrorCode.TENANT_ALREADY_LINKED)
        attempted = dataclasses.replace(state, attempted_tenant=tenant_id, attempted_name="", name_taken_by=())
        acting()
        try:
            self._saasus.link(tenant_id, state.access_token, state.registration_token)
        except SaaSusError as exc:
            return self._after_loss(exc, attempted)
        return Completed(tenant.id, tenant.name, created=False, user=user)

    def create(
        self, state: State, name: str, *, acting: Callable[[], object] = _nothing
    ) -> Completed | Refused | Spent:
        """ConfirmSignUpWithAwsMarketplace: a new tenant named ``name``, linked to the purchase; ``acting()`` first."""
        user, linked, unused = self._look(state)
        done = self._remembered(state, user, linked, unused)
        if done is not None:
            return done
        if not unused:
            return Spent(user)
        # The user's tenants of this name now are "before": one that appears later
        # with this name and a customer can only be the one this attempt created.
        taken = tuple(t.id for t in user.tenants if t.name == name)
        attempted = dataclasses.replace(state, attempted_tenant="", attempted_name=name, name_taken_by=taken)
        acting()
        try:
            tenant = self._saasus.sign_up(name, state.access_token, state.registration_token)
        except SaaSusError as exc:
            return self._after_loss(exc, attempted)
        return Completed(tenant.id, tenant.name, created=True, user=user)

    def _look(self, state: State, *tenant_ids: str) -> tuple[UserInfo, set[str], bool]:
        """The user, which of these tenants (and the remembered one) have a customer, and the token."""
        ids = [*tenant_ids, *([state.attempted_tenant] if state.attempted_tenant else [])]
        user, unused, linked, _ = self._saasus.look(state.id_token, state.registration_token, ids)
        if isinstance(user, SaaSusError) and user.kind in (ErrorKind.REJECTED, ErrorKind.DENIED):
            raise SessionOver from None  # the ID token expired or was revoked
        if isinstance(user, SaaSusError):
            raise user
        if isinstance(linked, SaaSusError):
            raise linked
        if isinstance(unused, SaaSusError):
            raise unused
        return user, linked, unused

    def _remembered(self, state: State, user: UserInfo, linked: set[str], unused: bool) -> Completed | None:
        """The tenant an earlier, unanswered attempt of this purchase completed, if it did."""
        if unused or not (state.attempted_tenant or state.attempted_name):
            return None
        if state.attempted_tenant in linked:
            tenant = find(user.tenants, state.attempted_tenant)
            if tenant is not None:
                return Completed(tenant.id, tenant.name, created=False, user=user)
        if state.attempted_name:
            before = set(state.name_taken_by)
            new = [t for t in user.tenants if t.name == state.attempted_name and t.id not in before]
            linked_new = self._saasus.linked_tenants([t.id for t in new]) if new else set()
            tenant = next((t for t in new if t.id in linked_new), None)
            if tenant is not None:
                return Completed(tenant.id, tenant.name, created=True, user=user)
        return None

    def _after_loss(self, error: SaaSusError, attempted: State) -> Completed | Refused:
        """The act failed: SaaSus may have acted anyway (or another worker did, for this purchase)."""
        try:
            user, linked, unused = self._look(attempted)
            done = self._remembered(attempted, user, linked, unused)
        except (SaaSusError, SessionOver):
            raise Unanswered(error, attempted) from None
        if done is not None:
            return done
        if error.kind is ErrorKind.REJECTED:
            return Refused(ErrorCode.LINK_REJECTED, error)
        raise Unanswered(error, attempted) from None


# A double click posts the picker's form twice, and the browser shows the second answer:
# within this many seconds after the first completed the purchase, the second POST of
# that very page (its state's CSRF token) is finished as the first was, once.
DOUBLE_CLICK_WINDOW = 5.0


@dataclasses.dataclass(frozen=True)
class Record:
    """A purchase this process completed: the tenant, for whom, and from which state."""

    completed: Completed
    user_id: str
    csrf_token: str = dataclasses.field(repr=False)

    def by(self, state: State) -> bool:
        """Whether ``state`` is the very state that completed it (not only the same purchase)."""
        return hmac.compare_digest(self.csrf_token.encode(), state.csrf_token.encode())


class PurchaseGuard:
    """One request at a time per purchase in this process, and a memory of the completed ones.

    Entering never blocks: a request that finds its purchase busy is told so and
    waits *outside* any worker thread (see the adapters), so a buyer who reposts
    the same form cannot queue everyone else behind SaaSus calls.

    What it remembers is per process: another worker knows nothing of it, and there a
    copy of a state cookie is judged by what SaaSus says alone.
    """

    def __init__(self, ttl: int, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()  # held only for these dict operations, never across a call
        self._busy: set[str] = set()
        self._done: collections.OrderedDict[str, tuple[float, Record]] = collections.OrderedDict()
        self._attempts: collections.OrderedDict[str, State] = collections.OrderedDict()
        # A state's sign-in hand-offs: (first at, how many), by its CSRF token.
        self._uses: collections.OrderedDict[str, tuple[float, int]] = collections.OrderedDict()
        self._ttl, self._max = ttl, max_entries

    def enter(self, journey: str) -> bool:
        """True if this request may work on the purchase now; then :meth:`leave` must follow."""
        with self._lock:
            if journey in self._busy:
                return False
            self._busy.add(journey)
            return True

    def leave(self, journey: str) -> None:
        with self._lock:
            self._busy.discard(journey)

    def completed(self, journey: str) -> Record | None:
        with self._lock:
            entry = self._done.get(journey)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def attempt(self, journey: str, state: State) -> None:
        """Remember an unanswered attempt, for a POST that waited on it with the older cookie."""
        with self._lock:
            self._attempts[journey] = state
            _bound(self._attempts, self._max)

    def attempted(self, journey: str) -> State | None:
        with self._lock:
            return self._attempts.get(journey)

    def complete(self, journey: str, completed: Completed, state: State) -> None:
        """Remember that ``state`` completed the purchase, for its user; its hand-off is the first use."""
        user_id = completed.user.id if completed.user is not None else ""
        record = Record(dataclasses.replace(completed, user=None), user_id, state.csrf_token)
        with self._lock:
            self._done[journey] = (time.monotonic() + self._ttl, record)
            self._attempts.pop(journey, None)
            self._uses[state.csrf_token] = (time.monotonic(), 1)
            _bound(self._done, self._max)
            _bound(self._uses, self._max)

    def hand_off(self, state: State, *, first: bool) -> bool:
        """Whether ``state`` may be signed in now: its ``first`` time, or a double click's repeat.

        A repeat is allowed once, within :data:`DOUBLE_CLICK_WINDOW` of the first: a copy
        of the cookie replayed later never mints another sign-in code in this process.
        """
        now = time.monotonic()
        with self._lock:
            used = self._uses.get(state.csrf_token)
            if used is None:
                if not first:
                    return False
                self._uses[state.csrf_token] = (now, 1)
                _bound(self._uses, self._max)
                return True
            at, count = used
            if count > 1 or now - at > DOUBLE_CLICK_WINDOW:
                return False
            self._uses[state.csrf_token] = (at, count + 1)
            return True

    def handed_off(self, state: State) -> bool:
        with self._lock:
            return state.csrf_token in self._uses


def _bound(entries: collections.OrderedDict[str, Any], limit: int) -> None:
    while len(entries) > limit:  # oldest first out: memory stays bounded
        entries.popitem(last=False)
