"""The picker's list: each tenant as a Choice, and the rows of the page, written as HTML at once.

Some users are in 1,000 tenants, and every picker writes them all. The template loop spent
~5 µs per row on Jinja's attribute lookups, tests and Markup objects, and 1,000 Choice
objects cost more than the rows themselves: the picker hands over :class:`Choices`, which
builds a Choice only when a template of the operator's own asks for one, and the page's own
rows are written from its columns by :func:`rows`, as bytes joined once.
"""

from __future__ import annotations

import html
import itertools
import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, overload

from .tenants import Tenants, alike

__all__ = ["Choice", "Choices", "eligible", "row_pieces", "rows"]


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


def rows(choices: Sequence[Choice], selected: str) -> bytes:
    """The picker's ``<li>`` of every choice, as UTF-8 HTML; ``selected`` is the id checked."""
    return b"".join(row_pieces(choices, selected))


def row_pieces(choices: Sequence[Choice], selected: str) -> Iterator[bytes]:
    """:func:`rows` in pieces, for a page to join once with its own text.

    It writes what the template loop wrote, every value escaped (html.escape, which writes
    &quot; and &#x27; where Jinja wrote &#34; and &#39;). Written as bytes from whole columns
    and joined once: an f-string per row, and then encoding 400 KB of rows with the page,
    cost more than all the rest of a 1,000-tenant page (docs/performance.md).
    """
    ids, names, details, reasons = _columns(choices)
    if not ids:
        return iter(())
    states = [_DISABLED if reason else _ENABLED for reason in reasons]
    # The first row of that id is checked unless it is disabled (SaaSus lists a tenant once).
    if selected in ids and not reasons[index := ids.index(selected)]:
        states[index] = _CHECKED
    # A row's end (its reason, plan and role) repeats from row to row: each is written once.
    if alike(reasons) and alike(details):  # one end for every row: the usual, looked up once
        ends: Iterable[bytes] = itertools.repeat(_Ends()[reasons[0], details[0]], len(ids))
    else:
        ends = map(_Ends().__getitem__, zip(reasons, details, strict=True))
    opens, labels = _numbered(len(ids))
    pieces = zip(opens, _escaped(ids), states, labels, _escaped(names), ends, strict=True)
    return itertools.chain.from_iterable(pieces)  # every value in them escaped: written as they are


# A row: its number's opening, the id, its state, its number's label, the name, its end.
_ENABLED, _DISABLED, _CHECKED = b'" required>', b'" disabled required>', b'" checked required>'
_ESCAPES = ((b"&", b"&amp;"), (b"<", b"&lt;"), (b">", b"&gt;"), (b'"', b"&quot;"), (b"'", b"&#x27;"))


def _escaped(values: Sequence[str]) -> list[bytes]:
    """Each value HTML-escaped as html.escape does, in UTF-8.

    Usually nothing needs escaping (looked for in all values at once): each is encoded. Else
    all are encoded at once, escaped as bytes, and split again on a character escaping leaves
    alone; if a value holds that character itself, the pieces do not add up: one by one.
    """
    joined = "\0".join(values)
    if not any(map(joined.__contains__, "&<>\"'")):
        return list(map(str.encode, values))
    data = joined.encode()
    for character, entity in _ESCAPES:  # "&" first, as the entities hold it
        if character in data:
            data = data.replace(character, entity)
    escaped = data.split(b"\0")
    if len(escaped) != len(values):
        escaped = [html.escape(value).encode() for value in values]
    return escaped


class _Ends(dict[tuple[str, str], bytes]):
    """A row's end by its (reason, detail), written when first asked for."""

    def __missing__(self, key: tuple[str, str]) -> bytes:
        reason, detail = key
        end = "</span>"
        if reason:
            end += f'<span class="reason">{html.escape(reason)}</span>'
        if detail:
            end += f'<span class="meta">{html.escape(detail)}</span>'
        written = self[key] = (end + "</label></li>").encode()
        return written


# Each row's numbered pieces (id="t1" and its label's for="t1"), as bytes: for the most rows
# yet asked for, kept up to a bound (replaced whole, so threads never see them half-built).
_NUMBERED_KEPT = 10_000
_numbered_known: tuple[tuple[bytes, ...], tuple[bytes, ...]] = ((), ())


def _numbered(count: int) -> tuple[Sequence[bytes], Sequence[bytes]]:
    global _numbered_known  # noqa: PLW0603 - a cache, replaced whole
    opens, labels = _numbered_known
    if count > len(opens):
        numbers = range(1, count + 1)
        opens = tuple(f'\n<li><input type="radio" name="tenant_id" id="t{i}" value="'.encode() for i in numbers)
        labels = tuple(f'<label for="t{i}"><span class="name">'.encode() for i in numbers)
        if count <= _NUMBERED_KEPT:
            _numbered_known = opens, labels
    return opens[:count], labels[:count]
