"""The README's configuration table is the Settings definition, so docs and code never drift."""

from __future__ import annotations

import re
from pathlib import Path

from saasus_mw.settings import FIELDS

README = Path(__file__).resolve().parent.parent / "README.md"


def _default(name: str, default: str | None) -> str:
    if default is None:
        return "*(required)*"
    if name == "secret_key":
        return "*(derived)*"
    return f"`{default}`" if default else "*(empty)*"


def test_config_table_matches_settings() -> None:
    text = README.read_text("utf-8")
    table = re.search(r"<!-- config-table.*?-->\n(.*?)<!-- /config-table -->", text, re.S)
    assert table, "config table markers missing"
    expected = ["| keyword / TOML key | environment variable | default | meaning |", "|---|---|---|---|"]
    expected += [f"| `{n}` | `{f.env}` | {_default(n, f.default)} | {f.doc} |" for n, f in FIELDS.items()]
    assert table.group(1).strip().splitlines() == expected


def test_readme_shows_the_two_commands() -> None:
    text = README.read_text("utf-8")
    assert "make demo" in text and "make test" in text
