"""Each runtime dependency of pyproject.toml pinned to its declared lower bound, as pip constraints.

    python .ci/lowest.py 3.10 > constraints.txt
    python .ci/lowest.py --check 3.10    # in the venv: is each one what is installed?

For ``make test-lowest``: pip has no "lowest" resolution of its own, and a
bound that was never installed is a bound nobody knows to work.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the .venv's Python may be 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def pins(python_version: str) -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text("utf-8"))["project"]
    lines = []
    for text in project["dependencies"]:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"python_version": python_version}):
            continue
        lowest = [s.version for s in requirement.specifier if s.operator in (">=", "==", "~=")]
        if len(lowest) != 1:
            raise SystemExit(f"{text!r} must declare exactly one lower bound (>=, == or ~=)")
        lines.append(f"{requirement.name}=={lowest[0]}")
    return lines


def check(python_version: str) -> int:
    """0 when every pin is what this Python has installed (pip honours constraints only for what it installs)."""
    wrong = []
    for pin in pins(python_version):
        name, _, wanted = pin.partition("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "nothing"
        if Version(installed if installed != "nothing" else "0") != Version(wanted):
            wrong.append(f"{name}: {installed} installed, {wanted} declared")
        else:
            print(f"{name}=={installed}")
    for line in wrong:
        print(line, file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    usage = "usage: python .ci/lowest.py [--check] PYTHON_VERSION (e.g. 3.10)"
    arguments = sys.argv[1:]
    if arguments[:1] == ["--check"] and len(arguments) == 2:
        raise SystemExit(check(arguments[1]))
    if len(arguments) != 1:
        raise SystemExit(usage)
    print("\n".join(pins(arguments[0])))
