"""The product's views: its home page, and its own login callback, which signs users in.

Ordinary sign-ins arrive at the callback, and so does the buyer the middleware
hands off after a purchase: the code is exchanged with saasus_mw.Client, and who
signed in is kept in Django's session (signed cookies here: no database).
"""

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import escape

from saasus_mw import Client, SaaSusError

saasus = Client()  # one per process, from the same SAASUS_* as the middleware


def page(body: str, status: int = 200) -> HttpResponse:
    html = f"<!DOCTYPE html><title>Example product</title><h1>Example product (Django)</h1>{body}"
    return HttpResponse(html, status=status)


def home(request: HttpRequest) -> HttpResponse:
    who = request.session.get("login_name")
    return page(f"<p>Signed in as <strong>{escape(who)}</strong>.</p>" if who else "<p>You are not signed in.</p>")


def welcome(request: HttpRequest) -> HttpResponse:
    # Where SAASUS_MW_SUCCESS_URL=/welcome sends a buyer who is not signed in by the hand-off.
    return page("<p>Welcome. Your AWS Marketplace purchase is linked.</p>")


def callback(request: HttpRequest) -> HttpResponse:
    try:
        credentials = saasus.exchange_code(request.GET.get("code", ""))
        user = saasus.user_info(credentials.id_token)
    except SaaSusError as exc:
        if exc.kind == "rejected":  # used, expired or not a code at all
            return page('<p>This sign-in link has expired or was already used. <a href="/">Sign in again</a>.</p>', 400)
        return page('<p>We could not reach the sign-in service. <a href="/">Try again</a> in a moment.</p>', 503)
    request.session.flush()  # a new sign-in starts a new session
    request.session.update({"user_id": user.id, "login_name": user.login_name})  # the e-mail, or the sign-in ID
    return HttpResponseRedirect("/", status=303)  # a reload never presents the spent code again
