"""The picker's list: each tenant as a Choice, and the rows of the page, written as HTML at once.

Some users are in 1,000 tenants, and every picker writes them all. The template loop spent
~5 µs per row on Jinja's attribute lookups, tests and Markup objects, and 1,000 Choice
objects cost more than the rows themselves: the picker hands over :class:`Choices`, which
builds a Choice only when a template of the operator's own asks for one, and the page's own
rows are written from its parts by :func:`rows`, one f-string each.
"""

from __future__ import annotations

import html
import itertools
import operator
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, overload

from .tenants import Tenants

__all__ = ["Choice", "Choices", "eligible", "rows"]


class Choice(NamedTuple):
    """A tenant as the picker shows it; ``reason`` is empty when it can take the purchase."""

    id: str
    name: str
    plan_id: str | None
    roles: tuple[str, ...]
    detail: str = ""  # plan (its display name, never its id) and role, as shown
    reason: str = ""


class Choices(Sequence[Choice]):
    """``tenants`` (anything with ``id``, ``name``, ``plan_id`` and ``roles``) as Choices, each with
    its detail and reason (already in the page's language), in that order; built when read."""

    __slots__ = ("_details", "_reasons", "_tenants")

    def __init__(self, tenants: Sequence[Any], details: Sequence[str], reasons: Sequence[str]) -> None:
        if not len(tenants) == len(details) == len(reasons):
            raise ValueError("a detail and a reason for every tenant")
        self._tenants, self._details, self._reasons = tenants, details, reasons

    def __len__(self) -> int:
        return len(self._tenants)

    @overload
    def __getitem__(self, index: int) -> Choice: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Choice]: ...
    def __getitem__(self, index: int | slice) -> Choice | Sequence[Choice]:
        if isinstance(index, slice):
            return Choices(self._tenants[index], self._details[index], self._reasons[index])
        t = self._tenants[index]
        return Choice(t.id, t.name, t.plan_id, t.roles, self._details[index], self._reasons[index])

    def __iter__(self) -> Iterator[Choice]:
        for t, detail, reason in zip(self._tenants, self._details, self._reasons, strict=True):
            yield Choice(t.id, t.name, t.plan_id, t.roles, detail, reason)

    def parts(self) -> tuple[Sequence[Any], Sequence[str], Sequence[str]]:
        """The tenants, their details and their reasons: what the rows are written from."""
        return self._tenants, self._details, self._reasons


def _columns(choices: Sequence[Choice]) -> tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[str]]:
    """The ids, names, details and reasons of any sequence of choices; of Choices without building one."""
    if not isinstance(choices, Choices):
        ids, names = [c.id for c in choices], [c.name for c in choices]
        return ids, names, [c.detail for c in choices], [c.reason for c in choices]
    tenants, details, reasons = choices.parts()
    if isinstance(tenants, Tenants):
        return tenants.ids, tenants.names, details, reasons
    return [t.id for t in tenants], [t.name for t in tenants], details, reasons


def eligible(choices: Sequence[Choice]) -> list[str]:
    """The ids of the choices that can take the purchase, in order."""
    ids, _, _, reasons = _columns(choices)
    return list(itertools.compress(ids, map(operator.not_, reasons)))


def rows(choices: Sequence[Choice], selected: str) -> str:
    """The picker's ``<li>`` of every choice, as HTML; ``selected`` is the id checked.

    It writes what the template loop wrote, every value escaped (html.escape: a plain str,
    which formats much faster than markupsafe's Markup; it writes &quot; and &#x27; where
    Jinja wrote &#34; and &#39;).
    """
    ids, names, details, reasons = _columns(choices)
    # Names and ids escaped in one call each, split again on a character escaping leaves
    # alone; if a value holds that character itself, the pieces do not add up: one by one.
    escaped_names = html.escape("\0".join(names)).split("\0") if names else []
    escaped_ids = html.escape("\0".join(ids)).split("\0") if ids else []
    if len(escaped_names) != len(names) or len(escaped_ids) != len(ids):
        escaped_names, escaped_ids = [html.escape(name) for name in names], [html.escape(i) for i in ids]
    # A row's end (its reason, plan and role) repeats from row to row: each is written once.
    ends: dict[tuple[str, str], str] = {}
    written = []
    rows = zip(ids, escaped_names, escaped_ids, details, reasons, strict=True)
    for i, (tenant_id, name, value, detail, reason) in enumerate(rows, 1):
        end = ends.get((reason, detail))
        if end is None:
            end = ends[reason, detail] = (
                "</span>"
                + (f'<span class="reason">{html.escape(reason)}</span>' if reason else "")
                + (f'<span class="meta">{html.escape(detail)}</span>' if detail else "")
                + "</label></li>"
            )
        state = " disabled" if reason else " checked" if tenant_id == selected else ""
        written.append(
            f'\n<li><input type="radio" name="tenant_id" id="t{i}" value="{value}"{state} required>'
            f'<label for="t{i}"><span class="name">{name}{end}'
        )
    return "".join(written)  # every value in it escaped just above: the template writes it as it is
