"""saasus_mw: the SaaSus AWS Marketplace existing-user linking flow, as ASGI and WSGI middleware."""

from .asgi import MarketplaceMiddleware
from .errors import ErrorCode
from .hooks import Failure, Linked
from .settings import ConfigError, Settings
from .wsgi import MarketplaceWSGIMiddleware

__all__ = [
    "ConfigError",
    "ErrorCode",
    "Failure",
    "Linked",
    "MarketplaceMiddleware",
    "MarketplaceWSGIMiddleware",
    "Settings",
]
__version__ = "0.1.0"
