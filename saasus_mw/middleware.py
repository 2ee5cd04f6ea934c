"""What both adapters share: settings validated at construction, one core, the path watched.

Light on purpose: the core (and with it the SDK, the templates and the cipher) is
loaded only when an enabled middleware is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .hooks import Failure, Linked
from .settings import Settings

if TYPE_CHECKING:
    from .flow import Flow

__all__ = ["Middleware"]

AppT = TypeVar("AppT")


class Middleware(Generic[AppT]):
    """What both adapters share: settings validated at construction, one core, the path watched.

    ``settings`` (a :class:`Settings`) or keyword overrides of the environment;
    ``on_linked`` and ``on_error`` are the hooks described on :class:`Linked` and
    :class:`Failure`. A disabled middleware has no core and passes everything on.
    """

    def __init__(
        self,
        app: AppT,
        *,
        settings: Settings | None = None,
        on_linked: Callable[[Linked], str | None] | None = None,
        on_error: Callable[[Failure], object] | None = None,
        **overrides: Any,
    ) -> None:
        if settings is not None and overrides:
            raise TypeError(f"pass either settings= or keyword settings, not both (got {', '.join(sorted(overrides))})")
        if isinstance(inner := getattr(app, "wsgi_app", app), Middleware):  # Flask keeps its WSGI app in .wsgi_app
            from .settings import warn_wrapped_twice  # noqa: PLC0415 - only on this mistake

            warn_wrapped_twice(type(self), type(inner))
        self.app = app
        self.settings = settings or Settings.load(**overrides)
        self._path = self.settings.callback_path
        self._flow: Flow | None = None
        if self.settings.enabled:
            from .flow import Flow  # noqa: PLC0415 - a disabled middleware never loads the SDK

            self._flow = Flow(self.settings, on_linked=on_linked, on_error=on_error)
            if self.settings.redact_access_logs:
                # The arrival URL carries the code and the registration token: the server's access log would keep them.
                from .redact import install_access_log_redaction  # noqa: PLC0415

                install_access_log_redaction(self.settings.cookie_name)
