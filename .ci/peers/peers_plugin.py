"""pytest plugin for `make test-peers` (``-p peers_plugin``): records every test's outcome, and wraps.

Outcomes go to the JSON file named by ``SAASUS_MW_PEERS_OUTCOMES`` (node id -> outcome).
With ``SAASUS_MW_PEERS_WRAP=1`` every app the suite hands to a test client or a
server is wrapped by an enabled saasus_mw middleware first, where a user's own
wrapping would sit, so the suite's assertions judge the wrapped app:

* starlette: ``TestClient(app)`` is given ``MarketplaceMiddleware(app)``;
* Flask and werkzeug: each ``werkzeug.test.Client`` (Flask's ``app.test_client()``)
  calls ``MarketplaceWSGIMiddleware(app)``, built once per client; the client keeps
  ``application`` (Flask's client reads its app's contexts from it);
* uvicorn: its HTTP and websocket protocols and its lifespan run
  ``MarketplaceMiddleware(config.loaded_app)``, outermost, so the server sees
  exactly what the middleware gives back (``config.loaded_app`` itself is unchanged).

The middleware is enabled with fake SaaSus credentials and a base URL nothing
listens on: pass-through never calls SaaSus. Its callback path is one no suite uses.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib.abc
import importlib.machinery
import json
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

OUTCOMES_VAR = "SAASUS_MW_PEERS_OUTCOMES"
WRAP_VAR = "SAASUS_MW_PEERS_WRAP"
CALLBACK_PATH = "/saasus-mw-peers/callback"


# -- outcomes -----------------------------------------------------------------------------------

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One outcome per test over its phases: error (setup/teardown), failed, xfailed, xpassed, skipped, passed."""
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
    elif hasattr(report, "wasxfail"):
        outcome = "xfailed" if report.skipped else "xpassed"
    elif report.skipped:
        outcome = "skipped"
    elif report.when == "call":
        outcome = "passed"
    else:
        return  # a passing setup or teardown says nothing yet
    if _outcomes.get(report.nodeid) not in ("error", "failed"):  # the first failure of a test stands
        _outcomes[report.nodeid] = outcome


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _outcomes[f"collect:{report.nodeid}"] = "error"


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(OUTCOMES_VAR)
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: the controller sees its reports
        session.config.workeroutput["saasus_mw_peers_wrapped"] = _wrapped  # type: ignore[attr-defined]
    elif path:
        with open(path, "w", encoding="utf-8") as file:
            json.dump({"outcomes": _outcomes, "wrapped": _wrapped}, file, indent=0, sort_keys=True)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: a worker is done; count the middlewares it built."""
    for name, built in getattr(node, "workeroutput", {}).get("saasus_mw_peers_wrapped", {}).items():
        _wrapped[name] += built


# -- wrapping -----------------------------------------------------------------------------------

# Middlewares built, per framework: a run that wrapped nothing proves nothing.
_wrapped = {"starlette": 0, "werkzeug": 0, "uvicorn": 0}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches a module as it is imported, every time it is (uvicorn's suite re-imports some)."""

    def __init__(self, patches: dict[str, Callable[[ModuleType], None]]) -> None:
        self.patches = patches  # module name, or package prefix ending in ".": its patch

    def patch_for(self, name: str) -> Callable[[ModuleType], None] | None:
        for key, patch in self.patches.items():
            if name == key or (key.endswith(".") and name.startswith(key)):
                return patch
        return None

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        patch = self.patch_for(name)
        spec = importlib.machinery.PathFinder.find_spec(name, path) if patch else None
        if patch is None or spec is None or not isinstance(spec.loader, importlib.abc.Loader):
            return None
        exec_module = spec.loader.exec_module

        def exec_and_patch(module: ModuleType) -> None:
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch  # type: ignore[method-assign]
        return spec


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(WRAP_VAR) != "1":
        return
    from saasus_mw import Settings  # noqa: PLC0415 - the plain run never loads saasus_mw

    settings = Settings.load(
        environ={},
        saasus_saas_id="saas-peers",
        saasus_api_key="key-peers",
        saasus_secret_key="secret-peers-0123456789",  # noqa: S106 - no SaaSus is ever called
        saasus_base_url="http://127.0.0.1:9/v1",  # the discard port: nothing answers
        callback_path=CALLBACK_PATH,
    )
    # One of each built now: the core's first import (the SDK, pydantic: seconds on a busy machine)
    # happens here, as at a server's start-up, and not inside a test's timeout.
    from saasus_mw import MarketplaceMiddleware, MarketplaceWSGIMiddleware  # noqa: PLC0415

    MarketplaceMiddleware(_asgi_noop, settings=settings)
    MarketplaceWSGIMiddleware(_wsgi_noop, settings=settings)
    finder = _PatchOnImport(
        {
            "starlette.testclient": functools.partial(_wrap_starlette, settings),
            "werkzeug.test": functools.partial(_wrap_werkzeug, settings),
            "uvicorn.protocols.": functools.partial(_wrap_uvicorn_protocols, settings),
            "uvicorn.lifespan.on": functools.partial(_wrap_uvicorn_lifespan, settings),
        }
    )
    for name, module in list(sys.modules.items()):  # already imported (by another plugin, say)
        if (patch := finder.patch_for(name)) is not None:
            patch(module)
    sys.meta_path.insert(0, finder)


async def _asgi_noop(scope: Any, receive: Any, send: Any) -> None:
    return None


def _wsgi_noop(environ: Any, start_response: Any) -> list[bytes]:
    return []


def _wrap_starlette(settings: Any, module: ModuleType) -> None:
    from saasus_mw import MarketplaceMiddleware  # noqa: PLC0415

    original = module.TestClient.__init__

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        _wrapped["starlette"] += 1
        if "app" in kwargs:
            kwargs["app"] = MarketplaceMiddleware(kwargs["app"], settings=settings)
        else:
            args = (MarketplaceMiddleware(args[0], settings=settings), *args[1:])
        original(self, *args, **kwargs)

    module.TestClient.__init__ = __init__


# The wrapped app of the werkzeug Client running a request in this thread or task.
_client_app: contextvars.ContextVar[Any] = contextvars.ContextVar("saasus_mw_peers_client_app", default=None)


def _wrap_werkzeug(settings: Any, module: ModuleType) -> None:
    from saasus_mw import MarketplaceWSGIMiddleware  # noqa: PLC0415

    run_app, client_run_app = module.run_wsgi_app, module.Client.run_wsgi_app

    @functools.wraps(run_app)
    def run_wsgi_app(app: Any, environ: Any, buffered: bool = False) -> Any:
        wrapped = _client_app.get()
        return run_app(wrapped if wrapped is not None and wrapped.app is app else app, environ, buffered)

    @functools.wraps(client_run_app)
    def client_run_wsgi_app(self: Any, environ: Any, buffered: bool = False) -> Any:
        wrapped = self.__dict__.get("_saasus_mw_peers")
        if wrapped is None or wrapped.app is not self.application:
            _wrapped["werkzeug"] += 1
            wrapped = self.__dict__["_saasus_mw_peers"] = MarketplaceWSGIMiddleware(self.application, settings=settings)
        token = _client_app.set(wrapped)
        try:
            return client_run_app(self, environ, buffered)
        finally:
            _client_app.reset(token)

    module.run_wsgi_app = run_wsgi_app
    module.Client.run_wsgi_app = client_run_wsgi_app


def _uvicorn_app(settings: Any, config: Any) -> Any:
    """The config's app wrapped, built once per config (again if the config loads another app)."""
    from saasus_mw import MarketplaceMiddleware  # noqa: PLC0415

    loaded, wrapped = config.__dict__.get("_saasus_mw_peers", (None, None))
    if loaded is not config.loaded_app:
        _wrapped["uvicorn"] += 1
        loaded, wrapped = config.loaded_app, MarketplaceMiddleware(config.loaded_app, settings=settings)
        config.__dict__["_saasus_mw_peers"] = (loaded, wrapped)
    return wrapped


def _wrap_uvicorn_protocols(settings: Any, module: ModuleType) -> None:
    """Each protocol class (HTTP/1.1, HTTP/2, websockets) defined here runs the wrapped app."""
    for protocol in list(vars(module).values()):
        if not (isinstance(protocol, type) and issubclass(protocol, asyncio.Protocol)):
            continue
        if protocol.__module__ != module.__name__ or "__init__" not in vars(protocol):  # patched where defined
            continue
        original = protocol.__init__

        def __init__(self: Any, config: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            _original(self, config, *args, **kwargs)
            if hasattr(self, "app"):  # what the protocol runs, read from the config once, here
                self.app = _uvicorn_app(settings, config)

        protocol.__init__ = functools.wraps(original)(__init__)  # type: ignore[misc]


def _wrap_uvicorn_lifespan(settings: Any, module: ModuleType) -> None:
    class WrappedConfig:
        """The config as LifespanOn reads it: its ``loaded_app`` wrapped, the rest as it is."""

        def __init__(self, config: Any) -> None:
            self._config = config

        def __getattr__(self, name: str) -> Any:
            return _uvicorn_app(settings, self._config) if name == "loaded_app" else getattr(self._config, name)

    original = module.LifespanOn.__init__

    @functools.wraps(original)
    def __init__(self: Any, config: Any) -> None:
        original(self, config)
        self.config = WrappedConfig(self.config)

    module.LifespanOn.__init__ = __init__
