"""A small werkzeug (WSGI) product, wrapped in one line.

    gunicorn examples.wsgi_app:app

Settings come from the environment, exactly as for the ASGI example.
"""

from html import escape

from werkzeug.wrappers import Request, Response

from saasus_mw import MarketplaceWSGIMiddleware


@Request.application
def product(request: Request) -> Response:
    if request.path == "/callback":  # ordinary sign-ins still arrive here
        code = escape(request.args.get("code", ""))
        return Response(f"<h1>Example product</h1><p>Signed in with code {code[:8]}…</p>", mimetype="text/html")
    if request.path in ("/", "/welcome"):
        body = "<h1>Example product</h1><p>Welcome. Your AWS Marketplace purchase is linked.</p>"
        return Response(body, mimetype="text/html")
    return Response("Not found", status=404)


app = MarketplaceWSGIMiddleware(product)
