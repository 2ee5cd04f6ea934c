"""A small Starlette product, wrapped in one line.

    uvicorn examples.starlette_app:app

Settings come from the environment (SAASUS_SAAS_ID, SAASUS_API_KEY,
SAASUS_SECRET_KEY, and SAASUS_MW_* as needed).
"""

from html import escape

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from saasus_mw import MarketplaceMiddleware


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse("<h1>Example product</h1><p>Welcome. Your AWS Marketplace purchase is linked.</p>")


async def callback(request: Request) -> HTMLResponse:
    # The product's own login callback: ordinary sign-ins (no registration
    # token) still arrive here untouched.
    code = escape(request.query_params.get("code", ""))
    return HTMLResponse(f"<h1>Example product</h1><p>Signed in with code {code[:8]}…</p>")


product = Starlette(routes=[Route("/", home), Route("/welcome", home), Route("/callback", callback)])
app = MarketplaceMiddleware(product)
