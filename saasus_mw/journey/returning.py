"""After the purchase: what a buyer is told once its registration can no longer be used.

A state cookie is a bearer credential until it expires: encryption hides the tokens,
not their use. So once a purchase is completed, nothing here mints a sign-in code for
whoever presents its state. Only two requests are signed in:

- the completing page's own double click (see :class:`~saasus_mw.completion.PurchaseGuard`);
- a *returning* buyer: one who arrived from the SaaSus login with a fresh, single-use
  code for a purchase already spent (clicked "Set up your account" again, another
  browser). Their "Continue" hands off one sign-in (a double click: two).

Everyone else is told truthfully what is known: linked (this process completed it for
this user), set up by another account (for another user), most likely set up (the
token is spent and one of the user's tenants has a Marketplace customer), or the
registration was used or expired (none has). Never an error for a purchase that may
have succeeded, and always a way on.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..completion import PurchaseGuard, Record, SessionOver
from ..errors import ErrorCode
from ..pages import Response
from ..request import Request
from ..saasus import ErrorKind, SaaSus, SaaSusError, UserInfo
from ..state import SEEN, State
from ..tenants import Tenants
from ..urls import Urls
from .answers import Answers
from .finish import Finish

__all__ = ["Returning"]


class Returning:
    """The answers once a purchase's registration is spent; holds no per-request state."""

    def __init__(self, saasus: SaaSus, guard: PurchaseGuard, answers: Answers, urls: Urls, finish: Finish) -> None:
        self._saasus, self._guard, self._answers, self._urls, self._finish = saasus, guard, answers, urls, finish

    def completed(self, request: Request, state: State, record: Record) -> Response:
        """This process completed the purchase: "linked" for its own state, the truth for any other."""
        if record.by(state):
            return self._answers.linked(request, self._urls.continue_(request.root_path))
        try:
            user = self._user(state)  # another state of this purchase: whose?
        except SessionOver:
            return self._answers.fail(ErrorCode.STATE_EXPIRED, request)
        return self.spent(request, state, user, set(), record)

    def spent(
        self, request: Request, state: State, user: UserInfo, linked: set[str], record: Record | None = None
    ) -> Response:
        """The registration token is spent: by this process (``record``), or by what, we cannot tell."""
        text = self._text(request)
        if state.returning and self._guard.handed_off(state):
            return self._notice(request, state, "seen", text["seen_text"])
        names = [text["quoted"].format(name=t.name) for t in user.tenants if t.id in linked]
        log = {"saasus_mw_event": "already set up"}
        if record is not None and record.user_id != user.id:
            title, message = "other_account", text["other_account_text"]
            log["saasus_mw_event"] = "set up by another account"
        elif record is not None:
            title, message = "linked", text["linked_text"]
        elif names:
            accounts = text["returning_account"].format(name=names[0])
            if len(names) > 1:
                accounts = text["returning_accounts"].format(names=text["list_separator"].join(names))
            title, message = "returning", text["returning_text"].format(accounts=accounts)
        elif state.returning:
            title, message = "spent", text["spent_text"]
        else:
            return self._answers.fail(ErrorCode.REGISTRATION_INVALID, request)
        page = self._notice(request, state, title, message, support=title != "linked", form=state.returning)
        return dataclasses.replace(page, log=log)

    def after_look(self, request: Request, state: State, user: UserInfo) -> Response:
        """A POST found the token spent: the same answer as the picker's, never a link."""
        return self.spent(request, state, user, self._saasus.linked_tenants(Tenants.of(user.tenants).ids))

    def proceed(self, request: Request, state: State) -> Response:
        """A returning buyer's "Continue": signed in once (a double click's repeat too), then never."""
        if not self._guard.hand_off(state, first=True):
            return self._notice(request, state, "seen", self._text(request)["seen_text"])
        return self._finish.sign_in(request, state, {"saasus_mw_event": "returning"}, kind=SEEN)

    def _user(self, state: State) -> UserInfo:
        try:
            return self._saasus.user_info(state.id_token)
        except SaaSusError as exc:
            if exc.kind in (ErrorKind.REJECTED, ErrorKind.DENIED):
                raise SessionOver from None
            raise

    def _text(self, request: Request) -> dict[str, Any]:
        return self._answers.pages.text(self._answers.language(request))

    def _notice(
        self, request: Request, state: State, title: str, message: str, *, support: bool = False, form: bool = False
    ) -> Response:
        """The page: with the purchase's reference for support, and a way on (Continue)."""
        support_text = self._text(request)["returning_support"].format(journey=state.ref) if support else ""
        return self._answers.pages.notice(
            f"{title}_title",
            message,
            language=self._answers.language(request),
            next_step=support_text,
            continue_url=self._urls.continue_(request.root_path),
            csrf_token=state.csrf_token if form else "",
            support_url=self._answers.pages.support_url if support else "",
            head=request.head,
        )
