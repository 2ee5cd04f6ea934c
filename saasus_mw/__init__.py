"""saasus_mw: the SaaSus AWS Marketplace existing-user linking flow, as ASGI and WSGI middleware."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .asgi import MarketplaceMiddleware
from .errors import ErrorCode
from .hooks import Credentials, Failure, Linked
from .settings import ConfigError, Settings
from .wsgi import MarketplaceWSGIMiddleware

if TYPE_CHECKING:
    from .client import Client, SaaSusError, User

__all__ = [
    "Client",
    "ConfigError",
    "Credentials",
    "ErrorCode",
    "Failure",
    "Linked",
    "MarketplaceMiddleware",
    "MarketplaceWSGIMiddleware",
    "SaaSusError",
    "Settings",
    "User",
]
__version__ = "0.1.0"

# Loaded on first use: `import saasus_mw` stays light (the client's module brings the SDK's room).
_LAZY = {"Client": "client", "SaaSusError": "client", "User": "client"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # found directly from now on
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
