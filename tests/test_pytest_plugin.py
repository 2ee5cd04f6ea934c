"""The saasus_standin pytest plugin, as a user's project meets it: a separate pytest run in a temporary directory.

Self-contained (this file and the README beside its directory): ``make test-wheel``
also runs it against the installed wheel, away from the source tree.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

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


# -- an app wrapped at import time: the session's stand-in ------------------------------

WRAPPED_AT_IMPORT = """
from saasus_mw import MarketplaceWSGIMiddleware


def product(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Welcome"]


app = MarketplaceWSGIMiddleware(product)  # at import: reads SAASUS_* while pytest collects
"""

# Two tests adding the same buyer: each starts with an empty stand-in.
JOURNEYS_OF_THE_IMPORTED_APP = """
import os
import re

import httpx
import pytest
from myapp import app


@pytest.mark.parametrize("tenant", [0, 1])
def test_a_purchase_through_the_app_wrapped_at_import(saasus_standin, tenant):
    assert os.environ["SAASUS_BASE_URL"] == saasus_standin.base_url
    buyer = saasus_standin.add_user("buyer@example.com", tenants=["Acme", "Globex"])
    token = saasus_standin.issue_registration_token()
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://myapp.test") as client:
        arrival = {"code": saasus_standin.issue_code(buyer), "registration_token": token}
        picker = client.get("/callback", params=arrival, follow_redirects=True)
        csrf_token = re.search(r'name="csrf_token" value="([^"]+)"', picker.text).group(1)
        done = client.post(picker.url, data={"csrf_token": csrf_token, "tenant_id": buyer.tenants[tenant].id})
    assert done.status_code == 303
    assert saasus_standin.links == [(buyer.tenants[tenant].id, buyer.id, token)]


def test_the_app_answers_in_a_test_without_the_fixture():
    with httpx.Client(transport=httpx.WSGITransport(app=app), base_url="https://myapp.test") as client:
        assert client.get("/").text == "Welcome"
        arrival = {"code": "9b2f8f5e-4c1a-4c55-9d0e-4b4f5bde3a11", "registration_token": "token"}
        assert client.get("/callback", params=arrival).status_code == 400  # SaaSus (the stand-in) refused the code
"""

# A conftest that imports the app: loaded before pytest_configure runs.
CONFTEST_IMPORTING_THE_APP = """
import myapp  # noqa: F401
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A user's project: the app wrapped at import, its tests, and no SAASUS_ variables around."""
    for name in [n for n in os.environ if n.startswith(("SAASUS_", "PYTEST_"))]:
        monkeypatch.delenv(name)
    pytester.makepyfile(myapp=WRAPPED_AT_IMPORT, test_journeys=JOURNEYS_OF_THE_IMPORTED_APP)
    return pytester


@pytest.mark.parametrize(
    ("ini", "args"),
    [
        pytest.param("[pytest]\nsaasus_standin = true\n", (), id="ini"),
        pytest.param("", ("--saasus-standin",), id="flag"),
        pytest.param('[tool.pytest.ini_options]\nsaasus_standin = "true"\n', (), id="pyproject"),
    ],
)
def test_an_app_wrapped_at_import_is_tested_with_the_session_standin(
    project: pytest.Pytester, ini: str, args: tuple[str, ...]
) -> None:
    if ini.startswith("[tool"):
        project.makepyprojecttoml(ini)
    elif ini:
        project.makeini(ini)
    project.makeconftest(CONFTEST_IMPORTING_THE_APP)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", *args)
    result.assert_outcomes(passed=3)
    assert "warning" not in result.stdout.str()


def test_without_the_option_an_app_wrapped_at_import_fails_collection_with_the_way_out(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ConfigError: 3 configuration problems*",  # every missing credential at once
            "*- SAASUS_SAAS_ID is required*",
            "*pytest --saasus-standin*saasus_standin = true*",
        ]
    )


def test_the_session_standin_puts_the_environment_back(project: pytest.Pytester) -> None:
    # pytest.main in a fresh interpreter: what the environment holds once pytest has finished.
    script = """
import json, os, pytest
os.environ["SAASUS_API_KEY"] = "the developer's own key"
status = pytest.main(["-p", "no:cacheprovider", "-q", "--saasus-standin"])
print(json.dumps([int(status), {k: v for k, v in os.environ.items() if k.startswith("SAASUS_")}]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=project.path, capture_output=True, text=True, timeout=120, check=False
    )
    status, environment = json.loads(done.stdout.strip().splitlines()[-1])
    assert status == 0, done.stdout + done.stderr
    assert environment == {"SAASUS_API_KEY": "the developer's own key"}


def test_apps_built_inside_tests_still_get_a_standin_per_test(pytester: pytest.Pytester) -> None:
    assert EXAMPLE, "the README's example test is missing"
    pytester.makepyfile(myapp=MYAPP, test_purchase=EXAMPLE.group(1), test_restored=ENVIRONMENT_RESTORED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)
