"""A user's tenants as ``/auth/userinfo`` lists them: kept as columns, a Tenant built only when read.

Some users are in 1,000 tenants, read on every picker and POST. Built as 1,000 tuples,
they cost more CPU than reading the answer (and a garbage collection or two), while the
picker only needs whole columns: the ids to ask ``/customers`` about, the names to sort,
the rows to write. :class:`Tenants` holds the columns and is a sequence of :class:`Tenant`
for everyone else.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, overload

__all__ = ["Tenant", "Tenants", "alike", "find"]


class Tenant(NamedTuple):
    """One of the user's tenants."""

    id: str
    name: str
    completed_sign_up: bool
    plan_id: str | None
    roles: tuple[str, ...]


_build = functools.partial(tuple.__new__, Tenant)  # what Tenant(...) does, without its Python frame


class Tenants(Sequence[Tenant]):
    """Tenants as five columns of the same length, in userinfo's order; equal to any sequence of the same tenants."""

    __slots__ = ("completed", "ids", "names", "plan_ids", "roles")

    def __init__(
        self,
        ids: Sequence[str],
        names: Sequence[str],
        completed: Sequence[bool],
        plan_ids: Sequence[str | None],
        roles: Sequence[tuple[str, ...]],
    ) -> None:
        if not len(ids) == len(names) == len(completed) == len(plan_ids) == len(roles):
            raise ValueError("every column needs a value for every tenant")
        self.ids, self.names, self.completed = tuple(ids), tuple(names), tuple(completed)
        self.plan_ids, self.roles = tuple(plan_ids), tuple(roles)

    @classmethod
    def of(cls, tenants: Iterable[Tenant]) -> Tenants:
        """``tenants`` as columns (already: as they are)."""
        if isinstance(tenants, Tenants):
            return tenants
        columns = tuple(zip(*tenants, strict=True)) or ((), (), (), (), ())
        return cls(*columns)

    def find(self, tenant_id: str) -> Tenant | None:
        """The tenant with this id, if the user is in it."""
        try:
            return self[self.ids.index(tenant_id)]
        except ValueError:
            return None

    def sorted_order(self) -> list[int]:
        """Their indices in the picker's order: by name, case-insensitively (casefold), then by id."""
        names = self.names
        # All names casefolded in one call, split again on a character no casefolding makes;
        # a name holding that character itself makes more pieces: one by one, then.
        joined = "\0".join(names)
        folded_joined = joined.casefold()
        if folded_joined == joined:  # nothing to fold (kana and kanji, lower-case names): the names themselves
            folded: Sequence[str] = names
        elif len(folded := folded_joined.split("\0")) != len(names):
            folded = [name.casefold() for name in names]
        order = list(range(len(names)))
        if len(set(folded)) < len(folded):  # the same name twice: by id among them (the sort is stable)
            order.sort(key=self.ids.__getitem__)
        order.sort(key=folded.__getitem__)
        return order

    def taken(self, order: Sequence[int]) -> Tenants:
        """The tenants at ``order``'s indices, in that order."""
        if len(order) < 2:  # itemgetter of one index gives the value, not a tuple of it
            return Tenants(*([column[i] for i in order] for column in self._columns()))
        pick = operator.itemgetter(*order)  # each column taken in one call of C, as a tuple
        return Tenants(*map(pick, self._columns()))

    def _columns(self) -> tuple[tuple[Any, ...], ...]:
        return self.ids, self.names, self.completed, self.plan_ids, self.roles

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Tenant: ...
    @overload
    def __getitem__(self, index: slice) -> Tenants: ...
    def __getitem__(self, index: int | slice) -> Tenant | Tenants:
        if isinstance(index, slice):
            return Tenants(*(column[index] for column in self._columns()))
        return _build(column[index] for column in self._columns())

    def __iter__(self) -> Iterator[Tenant]:
        return map(_build, zip(*self._columns(), strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Tenants):
            return self._columns() == other._columns()
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))  # as the tuple of the same tenants, which it equals

    def __repr__(self) -> str:
        return f"Tenants({list(self)!r})"


def alike(column: Sequence[Any]) -> bool:
    """Whether every value of a non-empty column is its first (compared by identity first, in C)."""
    return bool(column) and column.count(column[0]) == len(column)


def find(tenants: Sequence[Tenant], tenant_id: str) -> Tenant | None:
    """The tenant with this id among ``tenants`` (columns or not, neither converted), if any."""
    if isinstance(tenants, Tenants):
        return tenants.find(tenant_id)
    return next((t for t in tenants if t.id == tenant_id), None)
