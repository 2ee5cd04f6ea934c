"""The README is tested: every code block in it is run or checked here, so none can drift.

Each block is preceded by ``<!-- readme-test: NAME -->``, and NAME is a runner below;
a block that cannot run says so where readers see it, on the line before it:
``*Not run by the tests: <why>.*``. A block with neither fails the suite, and so does
a runner whose block is gone. The configuration table is the Settings definition.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

import saasus_mw
from saasus_mw import MarketplaceMiddleware, Settings
from saasus_mw.settings import FIELDS

from .conftest import API_KEY, SAAS_ID, SECRET
from .test_pytest_plugin import EXAMPLE

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MARKER = re.compile(r"<!-- readme-test: ([\w-]+) -->")
NOT_RUN = re.compile(r"\*Not run by the tests: (.+)\.\*")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Block:
    name: str  # the runner's name, or "" for a block that says why it is not run
    lang: str
    body: str
    line: int
    reason: str = ""


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, with the marker on the line before it (if any)."""
    found: list[Block] = []
    lines = path.read_text("utf-8").splitlines()
    fence: tuple[int, str] | None = None
    for number, line in enumerate(lines):
        if not line.startswith("```"):
            continue
        if fence is None:
            fence = (number, line[3:].strip())
            continue
        start, lang = fence
        fence = None
        before = next((text for text in reversed(lines[:start]) if text.strip()), "")
        marker, not_run = MARKER.fullmatch(before.strip()), NOT_RUN.search(before)
        body = "\n".join(lines[start + 1 : number]) + "\n"
        name = marker.group(1) if marker else ""
        found.append(Block(name, lang, body, start + 1, not_run.group(1) if not_run else ""))
    assert fence is None, f"{path.name}: a code block opened on line {fence[0] + 1} is never closed"
    return found


def readme_block(name: str) -> Block:
    (block,) = [b for b in blocks(README) if b.name == name]
    return block


# -- shell commands, as a reader would type them --------------------------------------


def commands(body: str) -> list[list[str]]:
    """The commands of a shell block: comments dropped, continuations joined, VAR=value prefixes removed."""
    joined = body.replace("\\\n", " ")
    joined = re.sub(r"\$\((?:[^()']|'[^']*')*\)", "SUBSTITUTED", joined)  # $(...) runs before the command
    result = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words.pop(0)
        if words:
            result.append(words)
    return result


def options(*command: str) -> set[str]:
    """The options a command's ``--help`` lists."""
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", done.stdout))


def check_options(words: list[str], *command: str) -> None:
    shown = {word.partition("=")[0] for word in words if word.startswith("-")}
    unknown = shown - options(*command)
    assert not unknown, f"{' '.join(words)}: {' '.join(command)} has no {', '.join(sorted(unknown))}"


def check_command(words: list[str]) -> None:
    """Fails when a command shown to readers does not exist as written: make targets, saasus-mw, the stand-in."""
    program = words[0]
    makefile = (ROOT / "Makefile").read_text("utf-8")
    if program == "make":
        targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")]
        for target in targets:
            assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"the Makefile has no target {target}"
        variables = [w.partition("=")[0] for w in words[1:] if "=" in w]
        assert all(re.search(rf"^{v} \?=", makefile, re.M) for v in variables), f"unknown make variable in {words}"
    elif program == "saasus-mw":
        command = [w for w in words[1:] if not w.startswith("-")]
        assert command, f"no subcommand in {words}"
        assert command[0] in options(str(BIN / "saasus-mw")) | set(_subcommands()), f"saasus-mw has no {command[0]}"
        check_options(words, str(BIN / "saasus-mw"), command[0])
    elif words[:3] == ["python", "-m", "saasus_mw.testing"]:
        check_options(words[3:], sys.executable, "-m", "saasus_mw.testing")
    elif program in ("uvicorn", "gunicorn"):
        assert (BIN / program).exists(), f"{program} is not installed in the test environment"
        check_options(words, str(BIN / program))
        app = next(w for w in words[1:] if ":" in w and not w.startswith("-"))
        assert app.partition(":")[2], f"{app}: expected module:attribute"


def _subcommands() -> list[str]:
    done = subprocess.run([str(BIN / "saasus-mw"), "--help"], capture_output=True, text=True, timeout=60, check=True)
    match = re.search(r"\{([\w,-]+)\}", done.stdout)
    assert match, done.stdout
    return match.group(1).split(",")


# -- the runners, one per README block ---------------------------------------------------


def credentials(monkeypatch: pytest.MonkeyPatch, base_url: str = "http://127.0.0.1:9/v1") -> None:
    for name in [n for n in os.environ if n.startswith("SAASUS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SAASUS_SAAS_ID", SAAS_ID)
    monkeypatch.setenv("SAASUS_API_KEY", API_KEY)
    monkeypatch.setenv("SAASUS_SECRET_KEY", SECRET)
    monkeypatch.setenv("SAASUS_BASE_URL", base_url)


def run_one_line(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    credentials(monkeypatch)

    async def product(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover - never called
        raise AssertionError

    namespace: dict[str, Any] = {"product": product}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # wrapping twice would warn
        exec(compile(block.body, "README.md", "exec"), namespace)  # noqa: S102 - running the README is the point
    assert isinstance(namespace["app"], MarketplaceMiddleware)
    assert namespace["app"].settings.callback_path == "/auth/callback"


def run_shell(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for words in commands(block.body):
        check_command(words)


def run_install(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    assert re.search(r'^name = "saasus_mw"$', text, re.M)
    wheel = f"dist/saasus_mw-{saasus_mw.__version__}-py3-none-any.whl"
    installs = [words for words in commands(block.body) if words[:2] == ["pip", "install"]]
    vcs = "saasus_mw @ git+https://<forge>/<org>/saasus_mw"
    assert [words[2] for words in installs] == [wheel, "/path/to/saasus_mw", vcs]
    assert commands(block.body)[0] == ["python", "-m", "build"]
    __import__("build")  # `python -m build` works in a checkout: make test-wheel runs it


def run_variables(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exported = dict(words[1].split("=", 1) for words in commands(block.body) if words[0] == "export")
    by_env = {field.env: field for field in FIELDS.values()}
    assert set(exported) <= set(by_env)
    required = {field.env for field in FIELDS.values() if field.default is None}
    assert required <= set(exported), "the quick start must name every required variable"
    assert exported["SAASUS_BASE_URL"] == by_env["SAASUS_BASE_URL"].default
    assert [line for line in block.body.splitlines() if "required" in line] == [
        line for line in block.body.splitlines() if any(f"export {env}=" in line for env in required)
    ]


def run_quick_start_app(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The app is driven through a purchase by the asgi-test block; here, what can be checked without it.
    compile(block.body, "myapp.py", "exec")
    assert block.body.startswith("# myapp.py\n")
    assert 'os.environ["SESSION_SECRET"]' in block.body  # what the run block sets
    assert "app = MarketplaceMiddleware(product)" in block.body


def run_run(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    export, words = commands(block.body)
    assert export == ["export", "SESSION_SECRET=SUBSTITUTED"]
    assert words == ["uvicorn", "myapp:app"]
    check_command(words)
    secret = re.search(r"\$\((python -c '.*?')\)", block.body)
    assert secret
    done = subprocess.run(
        [sys.executable, *shlex.split(secret.group(1))[1:]], capture_output=True, text=True, check=True
    )
    assert len(done.stdout.strip()) >= 32


def run_toml(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "saasus_mw.toml"
    path.write_text(block.body, "utf-8")
    settings = Settings.load(environ={"SAASUS_MW_CONFIG": str(path)})
    assert (settings.callback_path, settings.success_url) == ("/auth/callback", "/home")
    assert block.body.startswith("# SAASUS_MW_CONFIG=")


def run_wsgi_test(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Run as a user's project runs it by tests/test_pytest_plugin.py (and by make test-wheel, from the wheel).
    assert EXAMPLE and EXAMPLE.group(1) == block.body


def run_asgi_test(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The quick start's app and this test, as files of a user's project: a purchase ends signed in."""
    (tmp_path / "myapp.py").write_text(readme_block("quick-start-app").body, "utf-8")
    (tmp_path / "pyproject.toml").write_text(readme_block("pytest-option").body, "utf-8")
    (tmp_path / "test_signin.py").write_text(block.body, "utf-8")
    # The same journey for a sign-in-ID user (email "", sign_in_id set): the app shows the sign-in ID.
    by_id = block.body.replace('add_user("buyer@example.com", ', 'add_user("", sign_in_id="buyer-0001", ')
    by_id = by_id.replace('"Signed in as buyer@example.com"', '"Signed in as buyer-0001"')
    assert by_id.count("buyer-0001") == 2
    (tmp_path / "test_signin_by_id.py").write_text(by_id, "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAASUS_", "PYTEST_", "SESSION_"))}
    env["SESSION_SECRET"] = "test-session-secret-0123456789"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "test_signin.py", "test_signin_by_id.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def run_pytest_option(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The option itself is exercised by the asgi-test block, which writes this very file.
    assert tomllib.loads(block.body)["tool"]["pytest"]["ini_options"] == {"saasus_standin": True}


def run_layout(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every file and directory the Layout names exists, nested by indentation (descriptions are the lead's)."""
    parents: list[tuple[int, str]] = []  # (indent, directory) of the enclosing entries
    named: set[Path] = set()
    for line in block.body.splitlines():
        indent = len(line) - len(line.lstrip())
        names = []  # the first word, or a comma-separated run of them ("faults.py, server.py  …")
        for word in line.split():
            names.append(word.rstrip(","))
            if not word.endswith(","):
                break
        if not names or not all(re.fullmatch(r"[\w.]+(\.py|/)|LICENSE", n) for n in names):
            continue
        while parents and parents[-1][0] >= indent:
            parents.pop()
        where = "".join(d for _, d in parents)
        for name in names:
            assert (ROOT / where / name).exists(), f"Layout names {where}{name}, which does not exist"
            named.add(ROOT / where / name)
        if names[0].endswith("/"):
            parents.append((indent, names[0]))
    modules = {p for p in (ROOT / "saasus_mw").rglob("*.py") if not p.name.startswith("__")}
    assert sorted(str(p.relative_to(ROOT)) for p in modules - named) == [], "modules the Layout leaves out"


RUNNERS: dict[str, Callable[[Block, pytest.MonkeyPatch, Path], None]] = {
    "one-line": run_one_line,
    "make": run_shell,
    "install": run_install,
    "variables": run_variables,
    "quick-start-app": run_quick_start_app,
    "run": run_run,
    "toml": run_toml,
    "check": run_shell,
    "standin-cli": run_shell,
    "wsgi-test": run_wsgi_test,
    "asgi-test": run_asgi_test,
    "pytest-option": run_pytest_option,
    "layout": run_layout,
}


def test_every_block_is_run_or_says_why_not() -> None:
    found = blocks(README)
    unmarked = [b.line for b in found if not b.name and not b.reason]
    assert not unmarked, f"README blocks on lines {unmarked} have neither a readme-test marker nor a visible reason"
    names = [b.name for b in found if b.name]
    assert len(names) == len(set(names)), "two README blocks share a readme-test name"
    assert set(names) == set(RUNNERS), "every runner has its block, every marked block its runner"
    assert len([b for b in found if b.reason]) <= 2, "keep the blocks that cannot run few"


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_readme_block(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    RUNNERS[name](readme_block(name), monkeypatch, tmp_path)


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_docs_commands_exist(page: Path) -> None:
    """The docs' shell blocks name only make targets, saasus-mw flags and stand-in options that exist."""
    for block in blocks(page):
        if block.lang in ("sh", "shell", "bash", "console"):
            for words in commands(block.body):
                check_command(words)


PAGES = [README, ROOT / "CHANGELOG.md", *DOCS]


def anchors(page: Path) -> set[str]:
    """The fragment ids a forge gives the page's headings (lower case, punctuation dropped, spaces to -)."""
    headings = re.findall(r"^#+ (.+)$", page.read_text("utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    """Every link to a file of the repository, and every #fragment, points at something that exists."""
    text = re.sub(r"```.*?```", "", page.read_text("utf-8"), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, fragment = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        assert path.exists(), f"{page.name} links to {target}, which does not exist"
        if fragment and path.suffix == ".md":
            assert fragment in anchors(path), f"{page.name} links to {target}: no such heading"


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
