"""The picker's rows, rendered without the template loop, escape every value as the loop did."""

from __future__ import annotations

import jinja2
import pytest

from saasus_mw.pages import Choice, _rows

# The loop picker.html used to hold, row markup and all: what _rows must write.
_LOOP = jinja2.Environment(autoescape=True).from_string(
    "{%- for choice in choices %}\n"
    '<li><input type="radio" name="tenant_id" id="t{{ loop.index }}" value="{{ choice.id }}"'
    "{% if choice.reason %} disabled{% elif choice.id == selected %} checked{% endif %} required>"
    '<label for="t{{ loop.index }}"><span class="name">{{ choice.name }}</span>'
    '{% if choice.reason %}<span class="reason">{{ choice.reason }}</span>{% endif %}'
    '{% if choice.detail %}<span class="meta">{{ choice.detail }}</span>{% endif %}</label></li>'
    "{%- endfor %}"
)


def _one_by_one(choices: list[Choice], selected: str) -> str:
    """The rows as the template loop wrote them (quotes aside: html.escape's spelling)."""
    written = _LOOP.render(choices=choices, selected=selected)
    return written.replace("&#34;", "&quot;").replace("&#39;", "&#x27;")


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
