"""A small Flask product, wrapped in one line.

    gunicorn examples.flask_app:app

Settings come from the environment, exactly as for the ASGI examples.
"""

from html import escape

from flask import Flask, request

from saasus_mw import MarketplaceWSGIMiddleware

app = Flask(__name__)


@app.get("/")
@app.get("/welcome")
def home() -> str:
    return "<h1>Example product (Flask)</h1><p>Welcome. Your AWS Marketplace purchase is linked.</p>"


@app.get("/callback")
def callback() -> str:
    # The product's own login callback: ordinary sign-ins still arrive here.
    code = escape(request.args.get("code", ""))
    return f"<h1>Example product (Flask)</h1><p>Signed in with code {code[:8]}…</p>"


# Flask's own idiom for WSGI middleware: `app` stays the Flask object, so
# `flask run`, app.test_client() and extensions keep working.
app.wsgi_app = MarketplaceWSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]
