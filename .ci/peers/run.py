"""`make test-peers`: starlette's, Flask's and uvicorn's own test suites, plain and with every app wrapped.

The suites come from their source distributions on PyPI, at the versions installed
in the project's venv (the interpreter running this script); their test
requirements (the dependency group each declares) go into ``.venv-peers`` beside
saasus_mw, the frameworks themselves at the project venv's versions. Each suite runs twice, once
plain and once with ``SAASUS_MW_PEERS_WRAP=1`` (``peers_plugin.py`` says what is
wrapped where), and any test whose outcome differs between the two runs fails the
target, unless ``exceptions.toml`` names it with the reason.

    .venv/bin/python .ci/peers/run.py [SUITE ...]
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - saasus_mw depends on tomli there
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = ROOT / ".venv-peers"  # one venv per suite inside


@dataclass(frozen=True)
class Suite:
    name: str  # the distribution on PyPI, and its import name
    wraps: str  # what peers_plugin wraps for it: its counter must not be 0
    group: str  # the dependency group in its pyproject.toml that holds its test requirements
    extras: str = ""  # the extras its tests need installed with it
    pins: tuple[str, ...] = ()  # requirements of its own that win over the project venv's versions
    options: tuple[str, ...] = ()  # pytest options this run needs

    @property
    def version(self) -> str:
        return version(self.name)

    @property
    def venv(self) -> Path:
        return VENV / self.name

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def source(self) -> Path:
        return self.venv / "src" / f"{self.name}-{self.version}"


SUITES = (
    Suite("starlette", "starlette", "dev", "[full]"),
    # Its tests/test_cli.py imports _pytest.monkeypatch.notset, which pytest 9.1 removed (its uv.lock has 9.0.2).
    Suite("flask", "werkzeug", "tests", pins=("pytest<9.1",)),
    # Its tests mostly wait (servers, sleeps): its own default is -n 8 (pytest-xdist); 4 is enough here.
    Suite("uvicorn", "uvicorn", "dev", "[standard]", options=("-n", "4")),
)

# Installed in each suite's venv at the project venv's version: the servers and frameworks themselves.
FRAMEWORKS = frozenset({*(s.name for s in SUITES), *(s.wraps for s in SUITES)})

# Group requirements that are not for running tests: linters, type checkers, dist checks, coverage.
NOT_FOR_TESTS = re.compile(r"(ruff|mypy|pyright|twine|tox|tox-.*|pre-commit.*|coverage|coverage-.*|types-.*)")
NAME = re.compile(r"[A-Za-z0-9._-]+")

OUTCOMES_VAR = "SAASUS_MW_PEERS_OUTCOMES"
WRAP_VAR = "SAASUS_MW_PEERS_WRAP"


def run(command: list[str], **options: Any) -> None:
    subprocess.run(command, check=True, **options)  # noqa: S603 - our own fixed commands


def name_of(requirement: str) -> str:
    return NAME.match(requirement).group(0).lower().replace("_", "-")  # type: ignore[union-attr]


def requirements(pyproject: Path, group: str) -> list[str]:
    """The group's requirements (PEP 735, include-group followed), without NOT_FOR_TESTS."""
    groups = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("dependency-groups", {})

    def expand(name: str) -> list[str]:
        found: list[str] = []
        for entry in groups[name]:
            found += expand(entry["include-group"]) if isinstance(entry, dict) else [entry]
        return found

    return [r for r in expand(group) if not NOT_FOR_TESTS.fullmatch(name_of(r))]


def prepare(suite: Suite, freeze: list[str]) -> None:
    """The suite's venv: saasus_mw, the suite's source and its test requirements; kept while it matches."""
    # The frameworks at the project venv's versions (what the middleware is tested with); the rest
    # (httpx, anyio, pytest...) as the suite's own requirements ask: pinning those to the project
    # venv's newest releases can make a suite uninstallable (starlette[full] 1.10 wants httpx<0.29).
    own = {name_of(p) for p in suite.pins}
    frameworks = [line for line in freeze if name_of(line) in FRAMEWORKS - own]
    stamp = suite.venv / "stamp.json"
    wanted = {"python": sys.version, "suite": suite.version, "pins": list(suite.pins), "frameworks": frameworks}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return
    shutil.rmtree(suite.venv, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(suite.venv)])
    pip = [str(suite.python), "-m", "pip"]
    run([*pip, "install", "--quiet", "--upgrade", "pip"])
    sdists = suite.venv / "sdists"
    pin = f"{suite.name}=={suite.version}"
    run([*pip, "download", "--quiet", "--no-deps", "--no-binary", ":all:", "-d", str(sdists), pin])
    with tarfile.open(next(sdists.glob("*.tar.gz"))) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12, 3.11.4 and later
            tar.extractall(suite.venv / "src", filter="data")
        else:  # an sdist from PyPI, downloaded just now
            tar.extractall(suite.venv / "src")  # noqa: S202
    if not (suite.source / "tests").is_dir():
        raise SystemExit(f"test-peers: the sdist of {pin} has no tests/")
    constraints = suite.venv / "constraints.txt"
    constraints.write_text("".join(f"{line}\n" for line in frameworks))
    wanted_packages = [f"{suite.name}{suite.extras}=={suite.version}", *suite.pins]
    wanted_packages += requirements(suite.source / "pyproject.toml", suite.group)
    run([*pip, "install", "--quiet", "-c", str(constraints), "-e", str(ROOT), *wanted_packages])
    stamp.write_text(json.dumps(wanted))


@dataclass(frozen=True)
class Run:
    code: int  # pytest's exit code
    outcomes: dict[str, str]  # node id -> outcome
    wrapped: int  # middlewares built for the suite's clients
    log: Path


def run_both(suite: Suite, tests: list[str], tag: str = "", deselect: tuple[str, ...] = ()) -> dict[str, Run]:
    """The suite's ``tests`` run plain and wrapped, both at once (they mostly wait): a Run per mode."""
    results = VENV / "results"
    results.mkdir(parents=True, exist_ok=True)
    command = [str(suite.python), "-m", "pytest", "-p", "peers_plugin", "-p", "no:cacheprovider", "-q", "-rfE"]
    started = {}
    for mode in ("plain", "wrapped"):
        outcomes, log = results / f"{suite.name}-{mode}{tag}.json", results / f"{suite.name}-{mode}{tag}.log"
        outcomes.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAASUS_")}
        env.update(PYTHONPATH=str(HERE), PYTHONDONTWRITEBYTECODE="1", **{OUTCOMES_VAR: str(outcomes)})
        if mode == "wrapped":
            env[WRAP_VAR] = "1"
        with log.open("w") as out:
            process = subprocess.Popen(  # noqa: S603
                [*command, *suite.options, *deselect, *tests],
                cwd=suite.source,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        started[mode] = (process, outcomes, log)
    runs = {}
    for mode, (process, outcomes, log) in started.items():
        code = process.wait()
        recorded = json.loads(outcomes.read_text()) if outcomes.exists() else {"outcomes": {}, "wrapped": {}}
        runs[mode] = Run(code, recorded["outcomes"], recorded["wrapped"].get(suite.wraps, 0), log)
    return runs


def differing(runs: dict[str, Run]) -> list[str]:
    plain, wrapped = runs["plain"].outcomes, runs["wrapped"].outcomes
    return sorted(t for t in plain.keys() | wrapped.keys() if plain.get(t) != wrapped.get(t))


@dataclass(frozen=True)
class Exceptions:
    """exceptions.toml: what is not run, and whose differing outcome is excused; (suite, test) -> reason."""

    not_run: dict[tuple[str, str], str]
    excused: dict[tuple[str, str], str]

    @classmethod
    def load(cls) -> Exceptions:
        listed = tomllib.loads((HERE / "exceptions.toml").read_text(encoding="utf-8"))
        return cls(
            *({(e["suite"], e["test"]): e["reason"] for e in listed.get(k, [])} for k in ("not-run", "exception"))
        )

    def deselect(self, suite: Suite) -> list[str]:
        return [f"--deselect={test}" for name, test in self.not_run if name == suite.name]


def summary(outcomes: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda item: -item[1]))


def check(suite: Suite, exceptions: Exceptions) -> bool:
    """Both runs of one suite, compared; prints what it found; True when nothing unexcused differs."""
    ok, begun, excused = True, time.monotonic(), exceptions.excused
    runs = run_both(suite, ["tests"], deselect=tuple(exceptions.deselect(suite)))
    print(f"{suite.name} {suite.version}, both runs at once: {time.monotonic() - begun:.0f} s")
    for (name, test), reason in exceptions.not_run.items():
        if name == suite.name:
            print(f"  not run: {test} ({' '.join(reason.split())})")
    for mode, run in runs.items():
        built = f", {run.wrapped} middlewares built for {suite.wraps}'s clients" if mode == "wrapped" else ""
        print(f"  {mode}: {summary(run.outcomes)}{built}")
        if run.code not in (0, 1) or not run.outcomes:  # 0 all passed, 1 some failed: both can be compared
            print(f"  {mode}: pytest exited with {run.code}; see {run.log}")
            ok = False
    if not runs["wrapped"].wrapped:
        print(f"  nothing was wrapped: peers_plugin.py no longer fits {suite.wraps}")
        ok = False
    tests = differing(runs)
    # Once more, both ways, what differed: a test that then agrees was flaky (timing, a busy machine).
    again = differing(run_both(suite, tests, "-again")) if tests else []
    unexcused = [t for t in again if (suite.name, t) not in excused]
    print(f"  {len(runs['plain'].outcomes)} tests, {len(unexcused)} differing, {len(again) - len(unexcused)} excused")
    for test in tests:
        plain, wrapped = (runs[m].outcomes.get(test, "absent") for m in ("plain", "wrapped"))
        reason = excused.get((suite.name, test))
        if test not in again:
            note = "flaky: the same both ways when run again"
        else:
            note = f"excused: {reason}" if reason else f"see {VENV.name}/results/{suite.name}-*.log"
        print(f"  {test}: plain {plain}, wrapped {wrapped} ({note})")
    for name, test in excused:
        if name == suite.name and test not in again:
            print(f"  (in exceptions.toml, yet not differing: {test})")
    return ok and not unexcused


def main(names: list[str]) -> int:
    suites = tuple(s for s in SUITES if not names or s.name in names)
    started = time.monotonic()
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout
    pinned = [line for line in freeze.splitlines() if "==" in line]
    with concurrent.futures.ThreadPoolExecutor(len(suites)) as pool:  # three pip runs, mostly waiting
        list(pool.map(lambda suite: prepare(suite, pinned), suites))
    print(f"test-peers: {VENV.name} ready in {time.monotonic() - started:.0f} s")
    exceptions = Exceptions.load()
    results = [check(suite, exceptions) for suite in suites]  # every suite, even after one fails
    print(f"test-peers: {'passed' if all(results) else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
