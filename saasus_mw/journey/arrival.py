"""The arrival: ``GET /callback?code=…&registration_token=…`` from the SaaSus login.

Check the token and exchange the code, at once (the code lives 10 seconds), seal
what the next steps need in the state cookie, and redirect (303) to the picker so
the address bar forgets both.
"""

from __future__ import annotations

import logging
import re

from ..errors import ErrorCode
from ..pages import Response
from ..request import Request
from ..saasus import ErrorKind, SaaSus, SaaSusError
from ..settings import Settings
from ..state import REF_LENGTH, State, StateCodec, StateError, StateTooLarge, purchase_digest
from ..urls import Urls, join, loopback
from .answers import Answers

__all__ = ["PURCHASE_PARAM", "Arrival"]

logger = logging.getLogger("saasus_mw")

_UUID = re.compile(r"\A[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
# The spec types registration_token as a plain string: any printable ASCII without spaces.
_TOKEN = re.compile(r"\A[\x21-\x7e]{1,1024}\Z")
# The picker's URL names its purchase (state.ref: a digest, nothing secret), so that the
# state this browser's arrival minted wins over any a sibling subdomain tossed in.
PURCHASE_PARAM = "purchase"


class Arrival:
    def __init__(self, settings: Settings, saasus: SaaSus, codec: StateCodec, answers: Answers, urls: Urls) -> None:
        self._secure_cookies = settings.cookie_secure  # which browsers drop on plain http
        self._saasus, self._codec, self._answers, self._urls = saasus, codec, answers, urls

    def __call__(self, request: Request) -> Response:
        codes, tokens = request.query.get("code", []), request.query.get("registration_token", [])
        if len(codes) != 1 or len(tokens) != 1 or not _UUID.match(codes[0]) or not _TOKEN.match(tokens[0]):
            return self._answers.fail(ErrorCode.BAD_REQUEST, request)
        if request.head:
            # Link previewers and probes: the single-use code must survive them.
            return self._answers.pages.empty()
        code, registration_token = codes[0], tokens[0]
        self._warn_if_insecure(request)
        root = request.root_path
        ref = purchase_digest(registration_token)[:REF_LENGTH]
        # Back button or reload of the callback URL after we already took the
        # code: the state we minted still holds everything, so go on from it.
        try:
            if self._codec.decode(request.cookie, ref=ref).registration_token == registration_token:
                return self._answers.pages.redirect(self._picker(root, ref))
        except StateError:
            pass

        # Both at once: nothing else is needed before the redirect.
        unused, credentials = self._saasus.settle(
            lambda: self._saasus.registration_token_is_unused(registration_token),
            lambda: self._saasus.exchange_code(code),
        )
        if isinstance(credentials, SaaSusError):
            done = self._codec.is_done(request.cookie, ref)
            if done:  # Back to the first URL after success: its code is spent, the purchase is not lost
                return self._answers.marked(request, done, self._urls.continue_(root))
            if unused is False:  # a used or unknown token would only fail at the very end: say so now
                return self._answers.fail(ErrorCode.REGISTRATION_INVALID, request)
            if isinstance(unused, SaaSusError) and unused.kind is ErrorKind.UNEXPECTED_STATUS:
                raise unused  # SaaSus is misconfigured (SAASUS_BASE_URL): the code is not to blame
            if credentials.kind is ErrorKind.REJECTED:
                return self._answers.fail(ErrorCode.CODE_REJECTED, request)
            raise credentials
        # When the token check went unanswered the picker checks it again. A spent
        # token with a fresh code is a returning buyer: signed in, and told (journey/returning.py).
        state = State(
            registration_token=registration_token,
            access_token=credentials.access_token,
            id_token=credentials.id_token,
            refresh_token=credentials.refresh_token or "",
            returning=unused is False,
        )
        try:
            cookies = self._codec.encode(state, self._urls.callback(root))
        except StateTooLarge:
            return self._answers.fail(ErrorCode.STATE_TOO_LARGE, request)
        return self._answers.pages.redirect(self._picker(root, ref), cookies)

    def _picker(self, root: str, ref: str) -> str:
        """The picker, naming the purchase: of several states in a browser, this arrival's is used."""
        return join(self._urls.picker(root), f"{PURCHASE_PARAM}={ref}")

    def _warn_if_insecure(self, request: Request) -> None:
        if self._secure_cookies and request.scheme == "http" and not loopback(request.host):
            logger.warning(
                "saasus_mw: the callback arrived over plain http, but SAASUS_MW_COOKIE_SECURE is true: browsers "
                "drop Secure cookies on http, and buyers will see 'we could not find your sign-in'. Serve the "
                "callback over https (behind a proxy, pass X-Forwarded-Proto through ProxyFix or --proxy-headers)."
            )
