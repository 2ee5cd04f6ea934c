"""The sign-in code asked for early: alongside the POST's own SaaSus calls, not after them.

CreateAuthCredentials depends only on the buyer's tokens, not on the link's answer, so
the link step asks for it in the same round as the act (LinkAwsMarketplace or the
sign-up), once the look found the purchase this request's to complete: the buyer waits
no round trip of its own for it, and a spent or replayed state never has one made.
:class:`~saasus_mw.journey.finish.Finish` hands it over only when the purchase completed,
and only while it is fresh; otherwise it asks again. A code nobody uses (the act was
refused or went unanswered) is never shown, and expires at SaaSus (10 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..hooks import Credentials
from ..request import Request
from ..saasus import SaaSus
from ..state import State
from ..urls import Urls

__all__ = ["CODE_FRESH", "EarlyCode", "EarlySignIn"]

# SaaSus's code lives 10 s from its creation; the redirect and the app's own exchange
# need the rest. Older than this when the purchase completes (a slow link): asked again.
CODE_FRESH = 6.0


class EarlyCode:
    """A sign-in code on its way; :meth:`code` waits for it."""

    def __init__(self, result: Callable[[], Any], asked: float) -> None:
        self._result, self._asked = result, asked  # asked: before the request left, so never late

    def code(self) -> str:
        """The code if it came and is fresh enough to hand over, else ""."""
        result = self._result()
        if not isinstance(result, str) or time.monotonic() - self._asked > CODE_FRESH:
            return ""
        return result


class EarlySignIn:
    def __init__(self, saasus: SaaSus, urls: Urls) -> None:
        self._saasus, self._urls = saasus, urls

    def __call__(self, request: Request, state: State) -> EarlyCode | None:
        """Ask for the buyer's sign-in code now, when finishing may hand one off (no success URL)."""
        if self._urls.success(request.root_path):
            return None
        credentials = Credentials(state.id_token, state.access_token, state.refresh_token or None)
        asked = time.monotonic()
        return EarlyCode(self._saasus.begin(lambda: self._saasus.create_auth_credentials(credentials)), asked)
