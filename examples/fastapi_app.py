"""A small FastAPI product, wrapped in one line.

    uvicorn examples.fastapi_app:app

Settings come from the environment (SAASUS_SAAS_ID, SAASUS_API_KEY,
SAASUS_SECRET_KEY, and SAASUS_MW_* as needed).
"""

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from saasus_mw import MarketplaceMiddleware

product = FastAPI()


@product.get("/", response_class=HTMLResponse)
@product.get("/welcome", response_class=HTMLResponse)
async def home() -> str:
    return "<h1>Example product (FastAPI)</h1><p>Welcome. Your AWS Marketplace purchase is linked.</p>"


@product.get("/callback", response_class=HTMLResponse)
async def callback(code: str = "") -> str:
    # The product's own login callback: ordinary sign-ins (no registration
    # token) still arrive here untouched.
    return f"<h1>Example product (FastAPI)</h1><p>Signed in with code {escape(code[:8])}…</p>"


# Wrapped outside rather than with product.add_middleware(): Starlette builds
# its middleware stack on the first request, so a configuration error would
# surface then (or be swallowed by uvicorn's lifespan "auto") instead of at start.
app = MarketplaceMiddleware(product)
