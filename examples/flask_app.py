"""A small Flask product, wrapped in one line, whose own callback signs users in.

    gunicorn examples.flask_app:app

Settings come from the environment, exactly as for the ASGI examples. The
callback exchanges the code with saasus_mw.Client and keeps who signed in in
Flask's session cookie: ordinary sign-ins arrive there, and so does the buyer the
middleware hands off after a purchase.
"""

from html import escape

from flask import Flask, redirect, request, session
from werkzeug.wrappers import Response

from saasus_mw import Client, MarketplaceWSGIMiddleware, SaaSusError

app = Flask(__name__)
# For this example only: a real product reads its session key from the environment.
app.secret_key = "example-only-not-secret-2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e0b"
# SESSION_COOKIE_SECURE = True in production: this example is also served over plain http on loopback.
app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)

saasus = Client()  # one per process (and per gunicorn worker), from the same SAASUS_* as the middleware


def page(body: str, status: int = 200) -> tuple[str, int]:
    return f"<!DOCTYPE html><title>Example product</title><h1>Example product (Flask)</h1>{body}", status


@app.get("/")
def home() -> tuple[str, int]:
    who = session.get("login_name")
    return page(f"<p>Signed in as <strong>{escape(who)}</strong>.</p>" if who else "<p>You are not signed in.</p>")


@app.get("/welcome")
def welcome() -> tuple[str, int]:
    # Where SAASUS_MW_SUCCESS_URL=/welcome sends a buyer who is not signed in by the hand-off.
    return page("<p>Welcome. Your AWS Marketplace purchase is linked.</p>")


@app.get("/callback")
def callback() -> tuple[str, int] | Response:
    try:
        credentials = saasus.exchange_code(request.args.get("code", ""))
        user = saasus.user_info(credentials.id_token)
    except SaaSusError as exc:
        if exc.kind == "rejected":  # used, expired or not a code at all
            return page('<p>This sign-in link has expired or was already used. <a href="/">Sign in again</a>.</p>', 400)
        return page('<p>We could not reach the sign-in service. <a href="/">Try again</a> in a moment.</p>', 503)
    session.clear()  # a new sign-in starts a new session
    session.update(user_id=user.id, login_name=user.login_name)  # the e-mail, or the sign-in ID
    return redirect("/", 303)  # a reload never presents the spent code again


# Flask's own idiom for WSGI middleware: `app` stays the Flask object, so
# `flask run`, app.test_client() and extensions keep working.
app.wsgi_app = MarketplaceWSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]
