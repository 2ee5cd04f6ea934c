"""SaaSus's reference architecture, the SPA half: static files on their own origin.

    API_URL=http://localhost:8000 LOGIN_URL=https://auth.example.com/login \
        uvicorn examples.spa_api.spa_server:app --port 5173

Any static host would do (S3 + CloudFront, nginx, ...): spa/ is plain HTML and JS,
without a build step. The one thing that differs per deployment is where the API
is (and, optionally, the SaaSus hosted login page the "Sign in" link opens), which
the pages read from ``config.js``; this server writes that file from API_URL and
LOGIN_URL (on a static host, deploy one ``config.js`` per environment:
``window.SPA_CONFIG = {"apiUrl": "https://api.example.com", "loginUrl": "..."};``).

Every answer carries a Content-Security-Policy that lets the pages' own scripts
run and talk to the API only, and ``Referrer-Policy: no-referrer``: the callback
page's address holds a sign-in code until its script removes it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

API_URL = os.environ.get("API_URL", "").strip().rstrip("/")
_api = urlsplit(API_URL)
if _api.scheme not in ("http", "https") or not _api.netloc:
    raise RuntimeError("set API_URL to the API's base URL, such as https://api.example.com")
API_ORIGIN = f"{_api.scheme}://{_api.netloc}"
LOGIN_URL = os.environ.get("LOGIN_URL", "").strip()  # optional: your SaaSus hosted login page
if LOGIN_URL and urlsplit(LOGIN_URL).scheme not in ("http", "https"):
    raise RuntimeError("LOGIN_URL must be an http(s) URL")

POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        f"connect-src {API_ORIGIN}",  # fetch() may reach the API, and nothing else
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = [
    (b"content-security-policy", POLICY.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


async def config(request: Request) -> Response:
    body = f"window.SPA_CONFIG = {json.dumps({'apiUrl': API_URL, 'loginUrl': LOGIN_URL})};\n"
    return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


site = Starlette(
    routes=[
        Route("/config.js", config),
        Mount("/", StaticFiles(directory=Path(__file__).with_name("spa"), html=True)),
    ]
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The site, with the security headers on every HTTP answer."""
    if scope["type"] != "http":
        await site(scope, receive, send)
        return

    async def send_with_headers(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *HEADERS]}
        await send(message)

    await site(scope, receive, send_with_headers)
