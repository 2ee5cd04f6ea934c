"""saasus_mw.entry: what SAASUS_MW_APP may name, and the messages when it names something else.

The servers running these entry points are in tests/test_examples.py.
"""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from saasus_mw import ConfigError, MarketplaceMiddleware, MarketplaceWSGIMiddleware, Settings
from saasus_mw.entry import APP_VAR, asgi_app, wsgi_app
from saasus_mw.settings import WrappedTwiceWarning

from .conftest import API_KEY, SAAS_ID, SECRET, asgi_host, wsgi_host

CREDENTIALS = {"SAASUS_SAAS_ID": SAAS_ID, "SAASUS_API_KEY": API_KEY, "SAASUS_SECRET_KEY": SECRET}

HOST_MODULE = """
    import functools
    import types

    async def asgi(scope, receive, send):
        pass

    def wsgi(environ, start_response):
        return []

    def create_app():  # a factory: SAASUS_MW_APP must name what it returns
        return wsgi

    def create_configured_app(config=None):
        return wsgi

    @functools.wraps(create_app)
    def decorated(*args):  # a decorator's wrapper is what a server calls
        return wsgi(*args)

    class Handler:
        def __call__(self, environ, start_response):
            return []

    handler = Handler()
    nested = types.SimpleNamespace(app=types.SimpleNamespace(asgi=asgi))
    NOT_CALLABLE = 42
"""


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh importable module holding apps, factories and mistakes; returns its name."""
    name = f"host_{uuid.uuid4().hex}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(HOST_MODULE))
    (tmp_path / f"broken_{name}.py").write_text("import saasus_mw_test_no_such_dependency\napp = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


@pytest.mark.parametrize(
    ("factory", "attribute", "wrapper"),
    [
        pytest.param(asgi_app, "asgi", MarketplaceMiddleware, id="asgi-function"),
        pytest.param(asgi_app, "nested.app.asgi", MarketplaceMiddleware, id="asgi-dotted-attribute"),
        pytest.param(wsgi_app, "wsgi", MarketplaceWSGIMiddleware, id="wsgi-function"),
        pytest.param(wsgi_app, "handler", MarketplaceWSGIMiddleware, id="wsgi-callable-instance"),
        pytest.param(wsgi_app, "decorated", MarketplaceWSGIMiddleware, id="wsgi-decorated-function"),
    ],
)
def test_wraps_the_named_app(host: str, factory: Any, attribute: str, wrapper: type[Any]) -> None:
    wrapped = factory({APP_VAR: f"{host}:{attribute}", **CREDENTIALS})
    assert isinstance(wrapped, wrapper)
    expected: Any = __import__(host)
    for name in attribute.split("."):
        expected = getattr(expected, name)
    assert wrapped.app is expected


@pytest.mark.parametrize(
    ("factory", "target", "expected"),
    [
        pytest.param(asgi_app, None, "SAASUS_MW_APP is not set: name the ASGI application", id="unset"),
        pytest.param(wsgi_app, "  ", "SAASUS_MW_APP is not set: name the WSGI application", id="blank"),
        pytest.param(asgi_app, "{host}", "must name the ASGI application object as module:attribute", id="no-colon"),
        pytest.param(asgi_app, "{host}:", "as module:attribute", id="no-attribute"),
        pytest.param(asgi_app, ":app", "as module:attribute", id="no-module"),
        pytest.param(wsgi_app, "src/{host}.py:wsgi", "as module:attribute", id="file-path"),
        pytest.param(wsgi_app, "{host}:create_app()", "as module:attribute", id="call-syntax"),
        pytest.param(
            asgi_app, "saasus_mw_no_such_module:app", "no module named 'saasus_mw_no_such_module'", id="module"
        ),
        pytest.param(asgi_app, "saasus_mw.nope:app", "no module named 'saasus_mw.nope'", id="submodule"),
        pytest.param(asgi_app, "{host}:missing", "{host} has no attribute 'missing'", id="attribute"),
        pytest.param(asgi_app, "{host}:nested.nope", "{host} has no attribute 'nested.nope'", id="dotted-attribute"),
        pytest.param(asgi_app, "{host}:create_app", "does not accept (scope, receive, send)", id="asgi-factory"),
        pytest.param(wsgi_app, "{host}:create_app", "not a factory", id="wsgi-factory"),
        pytest.param(wsgi_app, "{host}:create_configured_app", "does not accept (environ, start_response)", id="arg"),
        pytest.param(wsgi_app, "{host}:NOT_CALLABLE", "cannot be the WSGI application", id="not-callable"),
        pytest.param(
            wsgi_app, "{host}:asgi", "ASGI applications go through saasus_mw.entry:asgi_app", id="asgi-as-wsgi"
        ),
        pytest.param(
            asgi_app, "{host}:wsgi", "WSGI applications go through saasus_mw.entry:wsgi_app", id="wsgi-as-asgi"
        ),
    ],
)
def test_a_bad_target_is_a_config_error_naming_the_variable(
    host: str, factory: Any, target: str | None, expected: str
) -> None:
    environ = {**CREDENTIALS, **({APP_VAR: target.format(host=host)} if target is not None else {})}
    with pytest.raises(ConfigError) as raised:
        factory(environ)
    message = str(raised.value)
    assert message.startswith(APP_VAR) and expected.format(host=host) in message


def test_an_import_error_inside_the_app_is_the_apps_own(host: str) -> None:
    # Not "SAASUS_MW_APP is wrong": the operator needs the app's own traceback.
    with pytest.raises(ModuleNotFoundError, match="saasus_mw_test_no_such_dependency"):
        wsgi_app({APP_VAR: f"broken_{host}:app", **CREDENTIALS})


def test_the_middleware_settings_come_from_the_same_environment(host: str) -> None:
    with pytest.raises(ConfigError, match="SAASUS_API_KEY is required"):
        asgi_app({APP_VAR: f"{host}:asgi", "SAASUS_SAAS_ID": SAAS_ID})
    assert isinstance(wsgi_app({APP_VAR: f"{host}:wsgi", "SAASUS_MW_ENABLED": "false"}), MarketplaceWSGIMiddleware)


@pytest.mark.parametrize(
    ("factory", "target"),
    [
        pytest.param(asgi_app, "examples.django_project.asgi:django_application", id="django-asgi"),
        pytest.param(wsgi_app, "examples.django_project.wsgi:django_application", id="django-wsgi"),
    ],
)
def test_djangos_own_handlers_are_apps(factory: Any, target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The example modules also build their wrapped `application` from os.environ at import.
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")
    assert type(factory({APP_VAR: target, **CREDENTIALS}).app).__module__.startswith("django.core.handlers")


def _twice(adapter: Any, host: Any) -> Any:
    settings = Settings.load(CREDENTIALS)
    return adapter(adapter(host, settings=settings), settings=settings)


@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda: _twice(MarketplaceMiddleware, asgi_host), id="asgi-in-code"),
        pytest.param(lambda: _twice(MarketplaceWSGIMiddleware, wsgi_host), id="wsgi-in-code"),
        pytest.param(lambda: asgi_app({APP_VAR: "examples.starlette_app:app", **CREDENTIALS}), id="entry-asgi"),
        # Flask keeps the wrapped WSGI app in app.wsgi_app.
        pytest.param(lambda: wsgi_app({APP_VAR: "examples.flask_app:app", **CREDENTIALS}), id="entry-flask"),
        pytest.param(
            lambda: wsgi_app({APP_VAR: "examples.django_project.wsgi:application", **CREDENTIALS}), id="entry-django"
        ),
    ],
)
def test_wrapping_an_app_twice_warns_once(wrap: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.items():  # the example modules wrap their app at import
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "examples.django_project.settings")
    with pytest.warns(WrappedTwiceWarning) as caught:
        wrap()
    assert len(caught) == 1, [str(w.message) for w in caught]
    assert "already wraps" in str(caught[0].message) and "Wrap the app once" in str(caught[0].message)
    assert caught[0].filename == __file__  # points at the code that wrapped it, not at saasus_mw
