"""saasus_mw's pytest plugin: the ``saasus_standin`` fixture, to test your own app's marketplace journey.

pytest loads it in every project where saasus_mw is installed (the ``pytest11``
entry point), so it lives outside the saasus_mw package, whose import loads the
SaaSus SDK: until a test asks for the fixture (or the session option is on),
nothing but this file is imported. ``-p no:saasus_mw`` leaves it out altogether.

Two ways to use it:

- **Per test** (the default): the fixture starts a stand-in for the test and points
  ``SAASUS_*`` at it until the test ends. Build the middleware inside the test.
- **For the session**, for an app wrapped at import time (``app =
  MarketplaceMiddleware(app)`` at module level reads ``SAASUS_*`` while pytest
  collects): ``pytest --saasus-standin``, or ``saasus_standin = true`` in the pytest
  configuration (``[tool.pytest.ini_options]``, ``pytest.ini``...). One stand-in starts
  before conftest files and test modules are imported, ``SAASUS_*`` point at it for
  the whole session (and are put back afterwards), and the fixture yields that
  stand-in, emptied before each test (no users, tokens or customers left over).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from saasus_mw.testing import SaaSusStandIn

__all__ = ["saasus_standin"]

OPTION = "saasus_standin"  # the ini key, and the dest of --saasus-standin
# The SDK's generated code warns (pydantic v1 APIs) at import and on every call; saasus_mw
# hides them when it is imported, but pytest resets the warning filters for each test.
_SDK_WARNINGS = "ignore::pydantic.warnings.PydanticDeprecatedSince20:saasus_sdk_python"
_HINT = (
    "saasus_mw: an app wrapped at import time reads SAASUS_* while pytest collects, before any fixture "
    "runs. Start the stand-in for the whole session: `pytest --saasus-standin`, or `saasus_standin = true` "
    "in [tool.pytest.ini_options]; the saasus_standin fixture then yields that stand-in."
)


class _Session:
    """The session's stand-in, and the environment as it was before it."""

    def __init__(self) -> None:
        from saasus_mw.testing import SaaSusStandIn  # noqa: PLC0415 - only when the option is on

        self.standin = SaaSusStandIn().start()
        environment = {
            "SAASUS_SAAS_ID": self.standin.saas_id,
            "SAASUS_API_KEY": self.standin.api_key,
            "SAASUS_SECRET_KEY": self.standin.secret_key,
            "SAASUS_BASE_URL": self.standin.base_url,
        }
        self._saved = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)

    def stop(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self.standin.stop()


_SESSION = pytest.StashKey[_Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = (
        "start one SaaSus stand-in before collection, with SAASUS_* pointing at it for the session, "
        "for apps wrapped at import time; the saasus_standin fixture yields it"
    )
    parser.getgroup("saasus_mw").addoption("--saasus-standin", action="store_true", dest=OPTION, help=help_text)
    parser.addini(OPTION, type="bool", default=False, help=help_text)


def _start(config: pytest.Config, option: Any) -> None:
    if _SESSION not in config.stash and (option or config.getini(OPTION)):
        config.stash[_SESSION] = _Session()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Before the rootdir's conftest.py is imported: it may import the app.
    _start(early_config, getattr(early_config.known_args_namespace, OPTION, False))


def pytest_configure(config: pytest.Config) -> None:
    # When the plugin came too late for the hook above (-p saasus_mw_pytest, pytest_plugins).
    _start(config, config.getoption(OPTION))


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None:
        del config.stash[_SESSION]
        session.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _SESSION in config.stash:  # the app's middleware calls the SDK in tests that never ask for the fixture
        for item in items:
            item.add_marker(pytest.mark.filterwarnings(_SDK_WARNINGS))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    # A module that wraps its app at import fails collection without SAASUS_*: say what to do.
    # One problem is the message itself; several are listed after a count, one per line.
    if report.failed and re.search(r"ConfigError: (?:\d+ configuration problems.*\n.*- )?SAASUS_", report.longreprtext):
        report.sections.append(("saasus_mw", _HINT))


@pytest.fixture
def saasus_standin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SaaSusStandIn]:
    """A started :class:`~saasus_mw.testing.SaaSusStandIn` for this test.

    ``SAASUS_SAAS_ID``, ``SAASUS_API_KEY``, ``SAASUS_SECRET_KEY`` and
    ``SAASUS_BASE_URL`` point at it until the test ends, so a
    ``MarketplaceMiddleware(app)`` or ``MarketplaceWSGIMiddleware(app)`` built
    inside the test talks to it. With ``--saasus-standin`` (or ``saasus_standin =
    true``) it is the session's stand-in instead, which an app wrapped at import
    time already talks to, emptied for this test.
    """
    session = request.config.stash.get(_SESSION, None)
    if session is not None:
        session.standin.reset(everything=True)
        yield session.standin
        return
    from pydantic.warnings import PydanticDeprecatedSince20  # noqa: PLC0415 - only for tests that use it

    from saasus_mw.testing import SaaSusStandIn  # noqa: PLC0415

    warnings.filterwarnings("ignore", category=PydanticDeprecatedSince20, module=r"saasus_sdk_python\.")
    with SaaSusStandIn() as standin:
        monkeypatch.setenv("SAASUS_SAAS_ID", standin.saas_id)
        monkeypatch.setenv("SAASUS_API_KEY", standin.api_key)
        monkeypatch.setenv("SAASUS_SECRET_KEY", standin.secret_key)
        monkeypatch.setenv("SAASUS_BASE_URL", standin.base_url)
        yield standin
