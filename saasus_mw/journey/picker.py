"""The picker: ``GET /callback?saasus_mw=select``, which of the buyer's tenants takes the purchase.

Who is signed in, each tenant with why it cannot take the purchase (already linked,
sign-up unfinished, role) and its plan's name, and, when none can, why, with the way forward.
"""

from __future__ import annotations

from typing import Any

from ..completion import PurchaseGuard, Record, ineligibility
from ..errors import ErrorCode
from ..pages import Choices, Offer, Response
from ..request import Request
from ..saasus import ErrorKind, SaaSus, SaaSusError
from ..settings import Settings
from ..state import State
from ..tenants import Tenants, alike
from ..urls import Urls
from .answers import Answers
from .returning import Returning

__all__ = ["Picker"]

# Why no tenant can take the purchase, said once for the whole list (any mix: "mixed").
_NO_TENANT_REASONS = {
    frozenset(): "no_tenants_none",
    frozenset({"reason_linked"}): "no_tenants_linked",
    frozenset({"reason_signup"}): "no_tenants_signup",
    frozenset({"reason_role"}): "no_tenants_role",
}


class Picker:
    def __init__(
        self,
        settings: Settings,
        saasus: SaaSus,
        guard: PurchaseGuard,
        answers: Answers,
        urls: Urls,
        returning: Returning,
    ) -> None:
        self._required_roles, self._allow_new_tenant = settings.required_roles, settings.allow_new_tenant
        self._saasus, self._guard, self._answers, self._urls = saasus, guard, answers, urls
        self._returning = returning

    def __call__(self, request: Request, state: State) -> Response:
        if request.head:
            return self._answers.pages.empty()
        record = self._guard.completed(state.journey)
        if record is not None and not state.returning:  # completed: a GET never signs anyone in again
            return self._returning.completed(request, state, record)
        return self._page(request, state, record)

    def name_again(self, request: Request, state: State, name: str, problem: str) -> Response:
        """The picker again (a 400) with the new account's name to fix: who is signed in, the
        intro and the list stay. When SaaSus cannot say them now, the name form alone."""
        try:
            return self._page(request, state, self._guard.completed(state.journey), name, problem)
        except SaaSusError:
            pages = self._answers.pages
            return pages.name_problem(
                csrf_token=state.csrf_token, language=self._answers.language(request), name=name, problem=problem
            )

    def _page(
        self, request: Request, state: State, record: Record | None, name: str = "", problem: str = ""
    ) -> Response:
        saasus = self._saasus
        # The plan names come from a per-process cache, or in the same round trip.
        user, unused, _, plans = saasus.look(state.id_token, state.registration_token, plans=True)
        if isinstance(user, SaaSusError) and user.kind in (ErrorKind.REJECTED, ErrorKind.DENIED):
            return self._answers.fail(ErrorCode.STATE_EXPIRED, request)  # the ID token expired or was revoked
        if isinstance(user, SaaSusError):
            raise user
        if isinstance(unused, SaaSusError):
            raise unused
        columns = Tenants.of(user.tenants)
        linked = saasus.linked_tenants(columns.ids)
        # An attempt whose answer was lost may have spent the token: its next POST confirms.
        if state.returning or (not unused and not (state.attempted_tenant or state.attempted_name)):
            return self._returning.spent(request, state, user, linked, record)
        # The tenant of our own lost attempt stays selectable: the POST confirms it.
        linked.discard(state.attempted_tenant)
        language = self._answers.language(request)
        text = self._answers.pages.text(language)
        tenants = columns.taken(columns.sorted_order())
        reasons = ineligibility(tenants, linked, self._required_roles)
        if all(reasons) and not self._allow_new_tenant:
            reason = text[_NO_TENANT_REASONS.get(frozenset(reasons), "no_tenants_mixed")]
            offer = Offer(signup_url=self._urls.signup(request.root_path), reason=reason)
            return self._answers.fail(ErrorCode.NO_TENANTS, request, offer=offer)
        # A few distinct plan and role pairs among many tenants (often one): each detail is written once.
        plan_ids, roles = tenants.plan_ids, tenants.roles
        one = alike(plan_ids) and alike(roles)
        keys = [(plan_ids[0], roles[0])] if one else list(zip(plan_ids, roles, strict=True))
        details = {key: _detail(*key, text, plans) for key in set(keys)}
        if any(plan and plan not in plans for plan, _ in details):
            saasus.plan_unknown()  # shown without its plan now; with it within PLANS_RETRY
        said = {reason: text[reason] if reason else "" for reason in set(reasons)}
        shown = [details[keys[0]]] * len(tenants) if one else list(map(details.__getitem__, keys))
        choices = Choices(tenants, shown, list(map(said.__getitem__, reasons)))
        return self._answers.pages.picker(
            email=user.email,
            who=user.login_name,
            choices=choices,
            csrf_token=state.csrf_token,
            language=language,
            preselect=state.attempted_tenant,
            new_tenant=self._allow_new_tenant,
            new_tenant_name=name or state.attempted_name,
            problem=problem,
        )


def _detail(plan_id: str | None, roles: tuple[str, ...], text: dict[str, Any], plans: dict[str, str]) -> str:
    """Plan and role as shown: the plan's display name, or no plan at all - never its id."""
    plan = plans.get(plan_id or "")
    parts = [text["plan"].format(plan=plan)] if plan else []
    if roles:
        parts.append(text["role"].format(roles=", ".join(roles)))
    return " · ".join(parts)
