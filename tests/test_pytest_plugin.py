"""The saasus_standin pytest plugin, as a user's project meets it: a separate pytest run in a temporary directory.

Self-contained (this file and the README beside its directory): ``make test-wheel``
also runs it against the installed wheel, away from the source tree.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
# The README's example test, run as it is printed.
EXAMPLE = re.search(r"```python\n(# test_purchase\.py.*?)```", README.read_text("utf-8"), re.S)

MYAPP = """
def product(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Welcome"]
"""

ENVIRONMENT_RESTORED = """
import os


def test_the_environment_is_restored_after_the_test():
    assert not [name for name in os.environ if name.startswith("SAASUS_")]
"""

NOTHING_LOADED = """
import sys


def test_nothing_is_loaded_until_the_fixture_is_used(request):
    assert request.config.pluginmanager.has_plugin("saasus_mw")
    assert not [m for m in sys.modules if m.split(".")[0] in ("saasus_mw", "saasus_sdk_python", "pydantic")]
"""


def pytest_in(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` in ``project``, with none of this suite's configuration or SAASUS_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAASUS_", "PYTEST_"))}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", "-q", *args]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_users_test_runs_a_journey_with_the_fixture_alone(tmp_path: Path) -> None:
    assert EXAMPLE, "the README's example test is missing"
    (tmp_path / "myapp.py").write_text(MYAPP)
    (tmp_path / "test_purchase.py").write_text(EXAMPLE.group(1))
    (tmp_path / "test_restored.py").write_text(ENVIRONMENT_RESTORED)
    done = pytest_in(tmp_path, "test_purchase.py", "test_restored.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout and "warning" not in done.stdout


def test_the_plugin_loads_nothing_in_a_project_that_does_not_use_it(tmp_path: Path) -> None:
    (tmp_path / "test_unrelated.py").write_text(NOTHING_LOADED)
    done = pytest_in(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
