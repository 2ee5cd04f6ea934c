"""The picker's rows, rendered without the template loop, escape every value as the loop did."""

from __future__ import annotations

import html

import pytest

from saasus_mw.pages import Choice, _rows


def _one_by_one(choices: list[Choice], selected: str) -> str:
    """The rows as the template loop wrote them (quotes aside: html.escape's spelling)."""
    out = []
    for i, c in enumerate(choices, 1):
        state = f' disabled aria-describedby="r{i}"' if c.reason else " checked" if c.id == selected else ""
        detail = f'<span class="meta">{html.escape(c.detail)}</span>' if c.detail else ""
        reason = f'<span class="reason" id="r{i}">{html.escape(c.reason)}</span>' if c.reason else ""
        out.append(
            f'\n<li><input type="radio" name="tenant_id" id="t{i}" value="{html.escape(c.id)}"{state} required>'
            f'<label for="t{i}">{html.escape(c.name)}{detail}</label>{reason}</li>'
        )
    return "".join(out)


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["Acme <b>&</b>", 'O\'Brien "Ltd"', "株式会社サンプル"], id="markup-and-quotes"),
        pytest.param(["A\x00B", "<C>"], id="a-name-holding-the-split-character"),
        pytest.param([], id="none"),
    ],
)
def test_rows_escape_every_value(names: list[str]) -> None:
    choices = [
        Choice(f'id-{i}"<&\x00' if i == 1 else f"id-{i}", name, None, (), "Plan: <x>", "Linked & <y>" if i else "")
        for i, name in enumerate(names)
    ]
    selected = choices[-1].id if choices else ""
    assert _rows(choices, selected) == _one_by_one(choices, selected)
    assert "<b>" not in _rows(choices, selected) and "<x>" not in _rows(choices, selected)
