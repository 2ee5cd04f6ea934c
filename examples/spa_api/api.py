"""SaaSus's reference architecture, the API half: FastAPI on its own origin, wrapped in one line.

    SPA_ORIGIN=http://127.0.0.1:5173 \
    SAASUS_MW_SIGNIN_URL=http://127.0.0.1:5173/callback.html \
        uvicorn examples.spa_api.api:app --port 8000

The SPA's callback page (spa/callback.html) sends the ``code`` from its address to
``GET /credentials`` and keeps the tokens it gets back; it then calls ``GET /userinfo``
with ``Authorization: Bearer <ID token>``. These two endpoints are the API's own
code, as in SaaSus's reference apps; CORS lets the SPA's origin (SPA_ORIGIN) call them.

The SaaSus console's redirect URL is this API's ``/callback``: saasus_mw answers the
AWS Marketplace arrivals there (the tenant picker) and then sends the buyer to the
SPA's callback page with a fresh code; every other sign-in on ``/callback`` is
forwarded to the SPA's callback page with its query string unchanged.

Settings come from the environment (SAASUS_SAAS_ID, SAASUS_API_KEY,
SAASUS_SECRET_KEY, SAASUS_MW_*).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import FastAPI, Header, HTTPException, Query, Response
from fastapi.middleware.cors import CORSMiddleware

from saasus_mw import MarketplaceMiddleware, Settings
from saasus_mw.saasus import ErrorKind, SaaSus, SaaSusError

SPA_ORIGIN = os.environ.get("SPA_ORIGIN", "").strip()
if not SPA_ORIGIN:
    raise RuntimeError("set SPA_ORIGIN to the SPA's origin, such as https://app.example.com (it may call this API)")

settings = Settings.load()  # SAASUS_* and SAASUS_MW_* from the environment, validated once
# saasus_mw's own SaaSus client, not the SDK's Callback helper (whose defects the README
# lists: a bad code's 404 escapes as an exception, no timeout, a new connection per call,
# keys from a process-wide client that runs load_dotenv() at import): one per process,
# pooled, with SAASUS_MW_TIMEOUT, every SaaSus refusal a SaaSusError. Its calls block, so
# the endpoints below are plain `def`: FastAPI runs them in its thread pool.
saasus = SaaSus(settings)

api = FastAPI(title="Example API (SaaSus reference architecture)")
api.add_middleware(
    CORSMiddleware,
    allow_origins=[SPA_ORIGIN],
    allow_methods=["GET"],
    allow_headers=["Authorization"],
    max_age=600,
)


def _failure(exc: SaaSusError, refused: tuple[ErrorKind, ...], status: int, detail: str) -> HTTPException:
    """A SaaSus refusal of the caller's code or token is the caller's; anything else is SaaSus's (502/504)."""
    if exc.kind in refused:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
        return HTTPException(status, detail, headers=headers)
    if exc.kind is ErrorKind.TIMEOUT:
        return HTTPException(504, "SaaSus did not answer in time; try again")
    return HTTPException(502, "SaaSus could not be reached or failed; try again")


@api.get("/credentials")
def credentials(code: Annotated[str, Query(min_length=1, max_length=256)], response: Response) -> dict[str, Any]:
    """The temp code from the SPA's address, for the user's tokens (auth flow tempCodeAuth)."""
    response.headers["Cache-Control"] = "no-store"
    try:
        tokens = saasus.exchange_code(code)
    except SaaSusError as exc:  # a used, expired or unknown code is REJECTED (SaaSus answers 404)
        raise _failure(exc, (ErrorKind.REJECTED,), 400, "the sign-in code is invalid or expired") from None
    return {"id_token": tokens.id_token, "access_token": tokens.access_token, "refresh_token": tokens.refresh_token}


@api.get("/userinfo")
def userinfo(response: Response, authorization: Annotated[str, Header()] = "") -> dict[str, Any]:
    """Who the bearer of this ID token is, and their tenants."""
    response.headers["Cache-Control"] = "no-store"
    scheme, _, id_token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not id_token.strip():
        raise HTTPException(401, "send Authorization: Bearer <ID token>", headers={"WWW-Authenticate": "Bearer"})
    try:
        user = saasus.user_info(id_token.strip())
    except SaaSusError as exc:  # SaaSus answers 401 for an unknown or expired ID token: DENIED
        raise _failure(exc, (ErrorKind.DENIED, ErrorKind.REJECTED), 401, "the ID token is invalid or expired") from None
    return {
        "id": user.id,
        "email": user.email,
        "sign_in_id": user.sign_in_id,  # a sign-in-ID user's login name; their email is ""
        "tenants": [{"id": t.id, "name": t.name, "plan_id": t.plan_id, "roles": list(t.roles)} for t in user.tenants],
    }


app = MarketplaceMiddleware(api, settings=settings)
