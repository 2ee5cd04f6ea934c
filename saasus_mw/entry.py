"""Zero-code enable: wrap an existing app named by ``SAASUS_MW_APP``; only the server command changes.

    SAASUS_MW_APP=myproject.asgi:application uvicorn saasus_mw.entry:asgi_app --factory
    SAASUS_MW_APP=myproject.wsgi:application gunicorn 'saasus_mw.entry:wsgi_app()'

``SAASUS_MW_APP`` is ``module:attribute`` (the attribute may be dotted) and names
the application object itself, as you would give it to the server - not a
factory such as ``create_app``: expose ``app = create_app()`` in a module and
name that. The middleware's settings come from the environment as usual.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Mapping
from typing import Any, Literal

from .asgi import MarketplaceMiddleware, is_double_callable
from .settings import ConfigError, Settings
from .wsgi import MarketplaceWSGIMiddleware

__all__ = ["APP_VAR", "asgi_app", "wsgi_app"]

APP_VAR = "SAASUS_MW_APP"


# The arguments each protocol calls its app with: anything that cannot take them is not such an app.
_ARGUMENTS = {"ASGI": ("scope", "receive", "send"), "WSGI": ("environ", "start_response")}


def asgi_app(environ: Mapping[str, str] | None = None) -> MarketplaceMiddleware:
    """The ASGI app named by ``SAASUS_MW_APP``, wrapped; for ``uvicorn --factory``."""
    environ = os.environ if environ is None else environ
    return MarketplaceMiddleware(load_app(environ, "ASGI"), settings=Settings.load(environ))


def wsgi_app(environ: Mapping[str, str] | None = None) -> MarketplaceWSGIMiddleware:
    """The WSGI app named by ``SAASUS_MW_APP``, wrapped; for ``gunicorn 'saasus_mw.entry:wsgi_app()'``."""
    environ = os.environ if environ is None else environ
    return MarketplaceWSGIMiddleware(load_app(environ, "WSGI"), settings=Settings.load(environ))


def load_app(environ: Mapping[str, str], kind: Literal["ASGI", "WSGI"]) -> Any:
    """Import the object ``SAASUS_MW_APP`` names; :class:`ConfigError` unless it is a ``kind`` app."""
    target = environ.get(APP_VAR, "").strip()
    if not target:
        raise ConfigError(
            f"{APP_VAR} is not set: name the {kind} application, e.g. myproject.{kind.lower()}:application"
        )
    module_name, _, attribute = target.partition(":")
    names = [*module_name.split("."), *attribute.split(".")]
    if not all(name.isidentifier() for name in names):
        raise ConfigError(
            f"{APP_VAR} must name the {kind} application object as module:attribute, "
            f"e.g. myproject.{kind.lower()}:application (got {target!r})"
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the named module (or its package) missing is a configuration
        # error; a dependency missing inside the app is the app's own failure.
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise
        raise ConfigError(
            f"{APP_VAR}={target}: no module named {exc.name!r} (is the server started in the project directory?)"
        ) from None
    for name in attribute.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise ConfigError(f"{APP_VAR}={target}: {module_name} has no attribute {attribute!r}") from None
    arguments = _ARGUMENTS[kind]
    # An ASGI2 ("double callable") class is built with the scope; an ASGI3 one (with
    # __await__, starlette's endpoints) with all three, as the middleware will call them.
    # Only classes: a plain function taking one argument looks just like a factory.
    if kind == "ASGI" and inspect.isclass(obj) and is_double_callable(obj):
        arguments = ("scope",)
    try:
        # follow_wrapped=False: a decorator's wrapper is what the server will
        # call (werkzeug's Request.application turns f(request) into an app).
        inspect.signature(obj, follow_wrapped=False).bind(*arguments)
    except TypeError:
        other = "WSGI" if kind == "ASGI" else "ASGI"
        raise ConfigError(
            f"{APP_VAR}={target} cannot be the {kind} application: it does not accept "
            f"({', '.join(arguments)}). Name the application object itself, not a factory; "
            f"{other} applications go through saasus_mw.entry:{other.lower()}_app"
        ) from None
    except ValueError:  # no signature to inspect (some builtins): the server will find out
        pass
    return obj
