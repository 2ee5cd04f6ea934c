"""A small Starlette product, wrapped in one line, whose own callback signs users in.

    uvicorn examples.starlette_app:app

Settings come from the environment (SAASUS_SAAS_ID, SAASUS_API_KEY,
SAASUS_SECRET_KEY, and SAASUS_MW_* as needed). The callback is the product's
own: ordinary sign-ins arrive there, and so does the buyer the middleware hands
off after a purchase; it exchanges the code with saasus_mw.Client (the async
methods: they never block the event loop) and keeps who signed in in Starlette's
session cookie.
"""

from html import escape

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.routing import Route

from saasus_mw import Client, MarketplaceMiddleware, SaaSusError

# For this example only: a real product reads its session key from the environment.
SESSION_KEY = "example-only-not-secret-5b1e0c7d9a3f4e2b8c6d1a0f3e5b7c9d"

saasus = Client()  # one per process, from the same SAASUS_* as the middleware


def page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!DOCTYPE html><title>Example product</title><h1>Example product</h1>{body}", status)


async def home(request: Request) -> HTMLResponse:
    who = request.session.get("login_name")
    return page(f"<p>Signed in as <strong>{escape(who)}</strong>.</p>" if who else "<p>You are not signed in.</p>")


async def welcome(request: Request) -> HTMLResponse:
    # Where SAASUS_MW_SUCCESS_URL=/welcome sends a buyer who is not signed in by the hand-off.
    return page("<p>Welcome. Your AWS Marketplace purchase is linked.</p>")


async def callback(request: Request) -> HTMLResponse | RedirectResponse:
    try:
        credentials = await saasus.aexchange_code(request.query_params.get("code", ""))
        user = await saasus.auser_info(credentials.id_token)
    except SaaSusError as exc:
        return sign_in_failed(exc)
    request.session.clear()  # a new sign-in starts a new session
    request.session.update(user_id=user.id, login_name=user.login_name)  # the e-mail, or the sign-in ID
    # Home, so that a reload never presents the spent code again.
    return RedirectResponse("/", status_code=303)


def sign_in_failed(exc: SaaSusError) -> HTMLResponse:
    if exc.kind == "rejected":  # used, expired or not a code at all
        return page('<p>This sign-in link has expired or was already used. <a href="/">Sign in again</a>.</p>', 400)
    return page('<p>We could not reach the sign-in service. <a href="/">Try again</a> in a moment.</p>', 503)


product = Starlette(
    routes=[Route("/", home), Route("/welcome", welcome), Route("/callback", callback)],
    # https_only=True in production: this example is also served over plain http on loopback.
    middleware=[Middleware(SessionMiddleware, secret_key=SESSION_KEY, same_site="lax", https_only=False)],
)
app = MarketplaceMiddleware(product)
