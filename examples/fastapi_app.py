"""A small FastAPI product, wrapped in one line: its own callback signs users in, its billing page
hides plan changes and withdrawal for tenants that came from AWS Marketplace.

    uvicorn examples.fastapi_app:app

Settings come from the environment (SAASUS_SAAS_ID, SAASUS_API_KEY,
SAASUS_SECRET_KEY, and SAASUS_MW_* as needed).

SaaSus's listing review checks that a tenant bought on AWS Marketplace can neither
change its plan nor withdraw in the SaaS (both happen in AWS Marketplace):
``Client.is_marketplace_tenant`` tells such tenants apart. The page hides the two
actions, and the actions themselves refuse them too, since a hidden link can still
be followed.
"""

import asyncio
from html import escape

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

from saasus_mw import Client, MarketplaceMiddleware, SaaSusError

# For this example only: a real product reads its session key from the environment.
SESSION_KEY = "example-only-not-secret-8e2d4c6a0b1f3e5d7c9a2b4d6f8e0a1c"
# The session is a signed cookie (~4 KB at most): it keeps the first tenants only.
TENANTS_KEPT = 20

saasus = Client()  # one per process, from the same SAASUS_* as the middleware
product = FastAPI()
# https_only=True in production: this example is also served over plain http on loopback.
product.add_middleware(SessionMiddleware, secret_key=SESSION_KEY, same_site="lax", https_only=False)


def page(body: str, status: int = 200) -> HTMLResponse:
    html = f"<!DOCTYPE html><title>Example product</title><h1>Example product (FastAPI)</h1>{body}"
    return HTMLResponse(html, status)


@product.get("/")
async def home(request: Request) -> HTMLResponse:
    who = request.session.get("login_name")
    if not who:
        return page("<p>You are not signed in.</p>")
    return page(f'<p>Signed in as <strong>{escape(who)}</strong>.</p><p><a href="/billing">Billing</a></p>')


@product.get("/welcome")
async def welcome() -> HTMLResponse:
    # Where SAASUS_MW_SUCCESS_URL=/welcome sends a buyer who is not signed in by the hand-off.
    return page("<p>Welcome. Your AWS Marketplace purchase is linked.</p>")


@product.get("/callback", response_model=None)
def callback(request: Request) -> HTMLResponse | RedirectResponse:
    # A plain `def`: FastAPI runs it in a worker thread, where the blocking client belongs.
    # (In an `async def`, await saasus.aexchange_code(...) and saasus.auser_info(...) instead.)
    try:
        creds = saasus.exchange_code(request.query_params.get("code", ""))
        user = saasus.user_info(creds.id_token)
    except SaaSusError as exc:
        if exc.kind == "rejected":  # used, expired or not a code at all
            return page('<p>This sign-in link has expired or was already used. <a href="/">Sign in again</a>.</p>', 400)
        return page('<p>We could not reach the sign-in service. <a href="/">Try again</a> in a moment.</p>', 503)
    request.session.clear()  # a new sign-in starts a new session
    request.session.update(
        user_id=user.id,
        login_name=user.login_name,  # the e-mail, or the sign-in ID
        tenants=[[t.id, t.name] for t in user.tenants[:TENANTS_KEPT]],
    )
    return RedirectResponse("/", status_code=303)  # a reload never presents the spent code again


@product.get("/billing", response_model=None)
async def billing(request: Request) -> HTMLResponse | RedirectResponse:
    if "user_id" not in request.session:
        return RedirectResponse("/", status_code=303)
    tenants: list[list[str]] = request.session["tenants"]
    # One question per tenant, all at once; the client remembers answers briefly (60 s, a "no" 10 s).
    answers = await asyncio.gather(*(saasus.ais_marketplace_tenant(t) for t, _ in tenants), return_exceptions=True)
    rows = "".join(_billing_row(t, name, answer) for (t, name), answer in zip(tenants, answers, strict=True))
    return page(f"<h2>Billing</h2><ul>{rows}</ul>")


def _billing_row(tenant_id: str, name: str, marketplace: object) -> str:
    row = f'<li data-tenant-id="{escape(tenant_id)}"><strong>{escape(name)}</strong>: '
    if marketplace is True:
        return row + "subscribed through AWS Marketplace. Change or cancel the subscription there.</li>"
    if marketplace is not False:  # SaaSus could not say: offer neither action rather than the wrong one
        return row + "billing is unavailable right now; try again in a moment.</li>"
    actions = f'<a href="/billing/plan?tenant_id={escape(tenant_id)}">Change plan</a> '
    actions += f'<a href="/billing/withdraw?tenant_id={escape(tenant_id)}">Withdraw</a>'
    return row + actions + "</li>"


@product.get("/billing/{action}", response_model=None)
async def billing_action(request: Request, action: str, tenant_id: str = "") -> HTMLResponse | RedirectResponse:
    if action not in ("plan", "withdraw"):
        return page("<p>Not found.</p>", 404)
    names = {tenant: name for tenant, name in request.session.get("tenants", [])}
    if tenant_id not in names:  # only the signed-in user's own tenants
        return RedirectResponse("/billing", status_code=303)
    try:
        marketplace = await saasus.ais_marketplace_tenant(tenant_id)
    except SaaSusError:
        return page('<p>Billing is unavailable right now. <a href="/billing">Back to billing</a>.</p>', 503)
    if marketplace:
        return page("<p>This subscription is managed in AWS Marketplace: change or cancel it there.</p>", 403)
    what = "Change the plan of" if action == "plan" else "Withdraw"
    return page(f"<p>{what} {escape(names[tenant_id])}: your product's own billing goes here.</p>")


# Wrapped outside rather than with product.add_middleware(): Starlette builds
# its middleware stack on the first request, so a configuration error would
# surface then (or be swallowed by uvicorn's lifespan "auto") instead of at start.
app = MarketplaceMiddleware(product)
