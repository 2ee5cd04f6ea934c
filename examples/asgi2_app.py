"""A legacy ASGI2 ("double callable") product, wrapped in one line.

    uvicorn examples.asgi2_app:app

An ASGI2 application is a class: instantiated with the scope, then called with
receive and send. The middleware accepts it, told apart as servers tell them (a class
without ``__await__``; an ASGI3 endpoint class has one).
"""

from html import escape
from typing import Any
from urllib.parse import parse_qs

from saasus_mw import MarketplaceMiddleware


class Product:
    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        if self.scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, status = self.scope["path"], 200
        if path == "/callback":
            # The product's own login callback: ordinary sign-ins still arrive here.
            code = escape(parse_qs(self.scope["query_string"].decode()).get("code", [""])[0])
            body = f"<h1>Example product (ASGI2)</h1><p>Signed in with code {code[:8]}…</p>"
        elif path in ("/", "/welcome"):
            body = "<h1>Example product (ASGI2)</h1><p>Welcome. Your AWS Marketplace purchase is linked.</p>"
        else:
            status, body = 404, "Not found"
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})


app = MarketplaceMiddleware(Product)
