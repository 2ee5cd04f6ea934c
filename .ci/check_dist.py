"""What the built wheel and sdist must carry, checked by listing them.

    python .ci/check_dist.py dist

The wheel: the package with its templates, locales and the stand-in, the pytest
plugin, the licence. The sdist: the licence, and everything the test suite
needs to run from it.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

WHEEL = [
    "saasus_mw/__init__.py",
    "saasus_mw/py.typed",
    "saasus_mw/templates/picker.html",
    "saasus_mw/templates/error.html",
    "saasus_mw/locales/en.json",
    "saasus_mw/locales/ja.json",
    "saasus_mw/testing/standin.py",
    "saasus_mw_pytest.py",
    "saasus_mw-{version}.dist-info/licenses/LICENSE",
    "saasus_mw-{version}.dist-info/entry_points.txt",
]
SDIST = [
    "LICENSE",
    "pyproject.toml",
    "Makefile",
    "saasus_mw_pytest.py",
    "saasus_mw/templates/picker.html",
    "tests/conftest.py",
    "tests/servers.py",
    "tests/openapi/authapi.yml",
    "tests/openapi/awsmarketplaceapi.yml",
    "tests/test_journey.py",
    "examples/starlette_app.py",
    "examples/django_project/settings.py",
    "bench/__main__.py",
    ".ci/lowest.py",
]


def main(dist: Path) -> int:
    (wheel,), (sdist,) = dist.glob("*.whl"), dist.glob("*.tar.gz")
    version = wheel.name.split("-")[1]
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
    with tarfile.open(sdist) as archive:
        root = sdist.name.removesuffix(".tar.gz") + "/"
        in_sdist = {name.removeprefix(root) for name in archive.getnames()}
    missing = [f"{wheel.name}: {name}" for name in (n.format(version=version) for n in WHEEL) if name not in in_wheel]
    missing += [f"{sdist.name}: {name}" for name in SDIST if name not in in_sdist]
    stray = [f"{wheel.name}: {name}" for name in in_wheel if name.startswith(("tests/", "examples/", "bench/"))]
    stray += [f"{sdist.name}: {name}" for name in in_sdist if "__pycache__" in name or name.endswith(".pyc")]
    for problem in missing:
        print(f"missing {problem}", file=sys.stderr)
    for problem in stray:
        print(f"should not be there: {problem}", file=sys.stderr)
    if not (missing or stray):
        print(f"{wheel.name}: {len(in_wheel)} files, {sdist.name}: {len(in_sdist)} files: complete")
    return 1 if missing or stray else 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
