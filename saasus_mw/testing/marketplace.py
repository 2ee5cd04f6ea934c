"""The stand-in's purchase endpoints: link, sign-up-confirm, verify, customers; and pricing plans."""

from __future__ import annotations

import json

from .model import Answer, Call, Store, Tenant, User, error, json_fields, ok


class MarketplaceApi:
    """``/v1/awsmarketplace/...``, the purchase steps of ``/v1/auth/aws-marketplace/...``, and
    ``/v1/pricing/plans``; every method runs with the store's lock held."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _purchase(self, call: Call, what: str) -> tuple[dict[str, str], User] | Answer:
        """The shared checks of link and sign-up-confirm: the fields, the user, the tenant, the token."""
        store = self._store
        names = (what, "access_token", "registration_token")
        param = json_fields(call, names)
        if param is None:
            return error(400, "invalid_request", f"expected JSON with {', '.join(names)}")
        user = store.user_for(param["access_token"], "access")
        if user is None:
            return error(401, "invalid_token", "unknown access token")
        if what == "tenant_id" and not any(t.id == param["tenant_id"] for t in user.tenants):
            return error(400, "tenant_not_found", "the user does not belong to that tenant")
        if what == "tenant_name" and not param["tenant_name"].strip():
            return error(400, "invalid_request", "tenant_name is required")
        if store.registration_tokens.get(param["registration_token"]) is not False:
            return error(400, "invalid_registration_token", "unknown or already used registration token")
        store.registration_tokens[param["registration_token"]] = True  # spent: single use
        return param, user

    def link(self, call: Call) -> Answer:
        checked = self._purchase(call, "tenant_id")
        if isinstance(checked, Answer):
            return checked
        param, user = checked
        self._store.links.append((param["tenant_id"], user.id, param["registration_token"]))
        self._store.link_customer(param["tenant_id"])
        return Answer(200)

    def sign_up(self, call: Call) -> Answer:
        """ConfirmSignUpWithAwsMarketplace: a new tenant, the user in it, linked to the purchase."""
        checked = self._purchase(call, "tenant_name")
        if isinstance(checked, Answer):
            return checked
        param, user = checked
        tenant = Tenant(param["tenant_name"])
        user.tenants.append(tenant)
        self._store.link_customer(tenant.id)
        self._store.created.append((tenant.id, user.id, param["registration_token"]))
        body = {
            "id": tenant.id,
            "name": tenant.name,
            "attributes": {},
            "back_office_staff_email": "staff@example.com",
            "plan_histories": [],
        }
        return Answer(201, json.dumps(body, ensure_ascii=False).encode())

    def verify(self, call: Call) -> Answer:
        param = json_fields(call, ("registration_token",))
        if param is None:
            return error(400, "invalid_request", "expected JSON with registration_token")
        if self._store.registration_tokens.get(param["registration_token"]) is not False:
            return error(400, "invalid_registration_token", "unknown or already used registration token")
        return Answer(200)

    def customers(self, call: Call) -> Answer:
        # OpenAPI form/explode array, which is also what the SDK sends: tenant_ids=a&tenant_ids=b
        known = self._store.customers
        wanted = call.query.get("tenant_ids")
        ids = list(dict.fromkeys(wanted)) if wanted is not None else list(known)
        return ok({"customers": [known[i] for i in ids if i in known]})

    def plans(self, call: Call) -> Answer:
        """GetPricingPlans: every plan, with no feature menus (the picker reads only names)."""
        plans = [
            {
                "id": p.id,
                "name": p.name or p.display_name,
                "display_name": p.display_name,
                "description": p.description,
                "used": True,
                "pricing_menus": [],
            }
            for p in self._store.plans.values()
        ]
        return ok({"pricing_plans": plans})
