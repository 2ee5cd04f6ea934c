"""Finishing: the purchase has its tenant; on to on_linked's URL, the success URL, or signed in.

The sign-in hand-off turns the buyer's tokens into a fresh code (CreateAuthCredentials)
for the app's own sign-in URL, so the buyer arrives signed in. A failed hand-off
is never shown as a failed purchase: the buyer gets a page saying it is linked.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from urllib.parse import quote

from ..completion import Completed
from ..hooks import Credentials, Linked
from ..pages import Response
from ..request import Request
from ..saasus import SaaSus, SaaSusError, UserInfo
from ..state import LINKED, State, StateCodec, purchase_digest
from ..urls import Urls, join
from .answers import Answers
from .handoff import EarlyCode, EarlySignIn

__all__ = ["Finish"]

logger = logging.getLogger("saasus_mw")


class Finish:
    def __init__(
        self,
        saasus: SaaSus,
        codec: StateCodec,
        answers: Answers,
        urls: Urls,
        on_linked: Callable[[Linked], str | None] | None,
    ) -> None:
        self._saasus, self._codec, self._answers, self._urls = saasus, codec, answers, urls
        self._on_linked = on_linked
        self.early = EarlySignIn(saasus, urls)  # the link step asks for the sign-in code as it acts

    def __call__(
        self, request: Request, state: State, done: Completed, *, first: bool, early: EarlyCode | None = None
    ) -> Response:
        """The purchase went to ``done``'s tenant: its ``first`` finish, or a double click's repeat."""
        event = ("created" if done.created else "linked") if first else "already linked"
        log = {"saasus_mw_event": event, "saasus_mw_tenant_id": done.tenant_id}
        destination = ""
        if first and self._on_linked is not None and done.user is not None:
            log["saasus_mw_user_id"] = done.user.id
            destination = self._hook(request.root_path, done, done.user, state)
        return self.sign_in(request, state, log, destination, early=early)

    def sign_in(
        self,
        request: Request,
        state: State,
        log: dict[str, str],
        destination: str = "",
        kind: str = LINKED,
        *,
        early: EarlyCode | None = None,  # a code asked for alongside the purchase (journey/handoff.py)
    ) -> Response:
        """To ``destination``, the success URL, or signed in with a fresh code; the state is spent.

        The caller decides that this request may be signed in: never a replayed state.
        """
        root = request.root_path
        path = self._urls.callback(root)
        cookies = [*self._codec.clear(path), self._codec.done(path, state.registration_token, kind)]
        credentials = _credentials(state)
        if not destination:
            destination = self._urls.success(root)
        if not destination:
            try:
                code = (early and early.code()) or self._saasus.create_auth_credentials(credentials)
            except SaaSusError as exc:
                # Linked all the same: never shown as a failed purchase.
                logger.warning(
                    "saasus_mw: the purchase has its tenant, but the sign-in hand-off failed (%s; SaaSus trace %s)",
                    exc,
                    exc.trace_id or "-",
                )
                pages, language = self._answers.pages, self._answers.language(request)
                page = pages.handoff_failed(self._urls.continue_(root), language=language)
                headers = [*page.headers, *(("set-cookie", c) for c in cookies)]
                return dataclasses.replace(page, headers=headers, log={**log, "saasus_mw_handoff": "failed"})
            destination = join(self._urls.signin(root), "code=" + quote(code, safe=""))
        return dataclasses.replace(self._answers.pages.redirect(destination, cookies), log=log)

    def _hook(self, root: str, done: Completed, user: UserInfo, state: State) -> str:
        """on_linked's URL if it is one we may redirect to, else "" (logged)."""
        assert self._on_linked is not None  # noqa: S101 - checked by the caller
        result = Linked(
            tenant_id=done.tenant_id,
            tenant_name=done.tenant_name,
            user_id=user.id,
            email=user.email,
            sign_in_id=user.sign_in_id,
            registration_token_hash=purchase_digest(state.registration_token),
            credentials=_credentials(state),
            created=done.created,
        )
        try:
            chosen = self._on_linked(result)
        except Exception:  # the purchase is linked: a broken hook must not hide that
            logger.exception("saasus_mw: on_linked hook raised")
            return ""
        if not chosen:
            return ""
        try:
            if not isinstance(chosen, str):
                raise TypeError(f"on_linked returned a {type(chosen).__name__}, not a URL")
            return self._urls.hook_target(root, chosen)
        except (TypeError, ValueError) as exc:
            logger.warning("saasus_mw: on_linked returned an unusable URL (%s); using the success URL", exc)
            return ""


def _credentials(state: State) -> Credentials:
    return Credentials(state.id_token, state.access_token, state.refresh_token or None)
