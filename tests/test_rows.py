"""The picker's rows, rendered without the template loop, escape every value as the loop did."""

from __future__ import annotations

import jinja2
import pytest

from saasus_mw import choices as choices_module
from saasus_mw.choices import Choice, Choices, eligible, rows
from saasus_mw.tenants import Tenant, Tenants

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


def _rows(choices: list[Choice] | Choices, selected: str) -> str:
    """The rows as the page carries them: UTF-8."""
    return rows(choices, selected).decode()


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


def test_choices_built_when_read_are_the_choices_a_list_would_hold() -> None:
    tenants = [
        Tenant(f"id-{i}", name, True, "plan", ("admin",)) for i, name in enumerate(["Acme <b>", "Beta", "株式会社"])
    ]
    details, reasons = ["Plan: <x>", "", "Plan: <x>"], ["", "Linked & <y>", ""]
    lazy = Choices(tenants, details, reasons)
    built = [Choice(t.id, t.name, t.plan_id, t.roles, d, r) for t, d, r in zip(tenants, details, reasons, strict=True)]
    assert list(lazy) == built and len(lazy) == 3 and bool(lazy)
    assert lazy[1] == built[1] and lazy[-1] == built[-1] and list(lazy[1:]) == built[1:]
    assert eligible(lazy) == eligible(built) == ["id-0", "id-2"]
    assert _rows(lazy, "id-2") == _rows(built, "id-2") == _one_by_one(built, "id-2")
    with pytest.raises(ValueError, match="a detail and a reason"):
        Choices(tenants, details[:2], reasons)


@pytest.mark.parametrize("selected", ["id-0", "id-1", "id-2", "elsewhere", ""])
def test_only_the_selected_enabled_row_is_checked(selected: str) -> None:
    # From columns (Tenants), as the picker hands them over, and as the template loop wrote them.
    tenants = Tenants.of(Tenant(f"id-{i}", name, True, None, ()) for i, name in enumerate(["A & B", "C", "D"]))
    reasons = ["", "Already linked <x>", ""]
    lazy = Choices(tenants, ["Plan: P"] * 3, reasons)
    assert _rows(lazy, selected) == _one_by_one(list(lazy), selected)
    assert _rows(lazy, selected).count(" checked ") == (selected in ("id-0", "id-2"))


def test_rows_past_the_numbers_kept_are_numbered_alike() -> None:
    many = choices_module._NUMBERED_KEPT + 5
    choices = [Choice(f"id-{i}", f"n{i}", None, ()) for i in range(many)]
    written = _rows(choices, "")
    assert f'id="t{many}" value="id-{many - 1}"' in written and f'<label for="t{many}">' in written
    assert len(choices_module._numbered_known[0]) <= choices_module._NUMBERED_KEPT  # not kept past its bound
    assert _rows(choices[:3], "") == _one_by_one(choices[:3], "")  # and fewer rows still numbered from 1
