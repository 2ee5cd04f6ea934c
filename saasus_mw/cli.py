"""``saasus-mw``: check a deployment's configuration, or run the local demo.

    saasus-mw check [--online] [--json] [--strict]
    saasus-mw demo [--app-port 8000] [--saasus-port 8790]

``check`` (see :mod:`saasus_mw.check`) reports every problem at once.
Exit status: 0 fine, 1 errors (or warnings with ``--strict``), 2 usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import logging
import os
import secrets
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .check import Finding, check
from .hooks import Linked
from .saasus import SaaSus, SaaSusError, UserInfo
from .settings import ConfigError, Settings
from .wsgi import MarketplaceWSGIMiddleware

__all__ = ["Finding", "check", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="saasus-mw", description="saasus_mw: AWS Marketplace linking middleware.")
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check", help="check the configuration the middleware would load")
    check_parser.add_argument(
        "--online",
        action="store_true",
        help="also make signed, read-only calls to SaaSus: keys, clock, callback URL and listing readiness",
    )
    check_parser.add_argument("--json", action="store_true", help="print one JSON object (for pipelines)")
    check_parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    demo_parser = commands.add_parser("demo", help="the SaaSus stand-in plus an example product, on loopback")
    demo_parser.add_argument("--app-port", type=int, default=8000)
    demo_parser.add_argument("--saasus-port", type=int, default=8790)
    args = parser.parse_args(argv)

    if args.command == "demo":
        return demo(args.app_port, args.saasus_port)
    findings = check(os.environ, online=args.online)
    errors = sum(f.level == "error" for f in findings)
    warnings_ = sum(f.level == "warning" for f in findings)
    ok = not errors and not (args.strict and warnings_)
    if args.json:
        report = {
            "ok": ok,
            "errors": errors,
            "warnings": warnings_,
            "findings": [dataclasses.asdict(f) for f in findings],
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        section = "configuration"
        for finding in findings:
            if finding.section != section:  # the --online sections get a heading
                section = finding.section
                print(f"\n-- {_HEADINGS.get(section, section)} --")
            print(f"{finding.level:<8} {finding.message}")
        print(f"{'OK' if ok else 'FAILED'}: {errors} error(s), {warnings_} warning(s)")
    return 0 if ok else 1


_HEADINGS = {"connection": "SaaSus connection (--online)", "listing": "listing readiness (--online)"}


# -- demo ------------------------------------------------------------------------------


def _demo_product(
    settings: Settings, saasus: SaaSus, buy_url: str, signin_url: str, plans: Mapping[str, str]
) -> MarketplaceWSGIMiddleware:
    """The demo's product, wrapped: its own sign-in on the callback path, and a home page saying who is signed in.

    The callback path (SAASUS_MW_CALLBACK_PATH, /callback by default) exchanges a code
    (from an ordinary sign-in, or the one the middleware hands off after a purchase)
    through ``saasus``, keeps the user in an in-memory session and sends them home.
    The middleware's ``on_linked`` hook tells the product which tenant each user's
    purchase went to: the home page says so only then. ``plans`` names each plan id
    (a UUID, never shown), as a product would learn from ``GET /pricing/plans``.
    """
    lock = threading.Lock()
    sessions: dict[str, UserInfo] = {}  # session cookie -> the signed-in user
    purchases: dict[str, Linked] = {}  # user id -> where their purchase went
    cookie = "demo_session"
    esc = html.escape
    title = esc(settings.product_name or "Demo product")

    def on_linked(result: Linked) -> None:
        with lock:
            purchases[result.user_id] = result
        # None keeps the hand-off: the buyer arrives signed in through /callback.

    def page(body: str, status: int = 200) -> Response:
        document = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
        )
        return Response(document, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})

    def links() -> str:
        return (
            f'<p><a href="{esc(signin_url)}">Sign in</a> or '
            f'<a href="{esc(buy_url)}">buy on AWS Marketplace</a> (both on the SaaSus stand-in).</p>'
        )

    def sign_in(request: Request) -> Response:
        code = request.args.get("code", "")
        if not code:
            return page("<p>Nothing to sign in with.</p>" + links(), 400)
        try:
            user = saasus.user_info(saasus.exchange_code(code).id_token)
        except SaaSusError as exc:
            message = f"<p>Sign-in failed: SaaSus refused the code ({esc(exc.kind.value)}).</p>"
            return page(message + links(), 400)
        session = secrets.token_urlsafe(32)
        with lock:
            sessions[session] = user
        # Home, so that a reload never presents the spent code again.
        response = Response(status=303, headers={"Location": "/", "Cache-Control": "no-store"})
        response.set_cookie(cookie, session, httponly=True, samesite="Lax")
        return response

    def home(request: Request) -> Response:
        with lock:
            user = sessions.get(request.cookies.get(cookie, ""))
            purchase = purchases.get(user.id) if user is not None else None
        if user is None:
            return page("<p>You are not signed in.</p>" + links())
        body = f"<p>Signed in as <strong>{esc(user.email)}</strong>.</p>"
        if purchase is None:
            body += "<p>No AWS Marketplace purchase for you yet.</p>" + links()
        else:
            how = "a new account created for it" if purchase.created else "an account you chose"
            body += (
                f"<p>Your AWS Marketplace purchase went to <strong>{esc(purchase.tenant_name)}</strong> "
                f"({how}; tenant id <code>{esc(purchase.tenant_id)}</code>).</p>"
            )
        items = "".join(
            f"<li>{esc(t.name)}{f' (plan {esc(plans[t.plan_id])})' if t.plan_id and t.plan_id in plans else ''}"
            f"{' - has your purchase' if purchase is not None and t.id == purchase.tenant_id else ''}</li>"
            for t in user.tenants
        )
        body += f"<h2>Your tenants</h2><ul>{items}</ul>" if items else "<p>You belong to no tenant.</p>"
        return page(body)

    @Request.application
    def product(request: Request) -> Response:
        # Ordinary sign-ins and the middleware's hand-off (no registration token) reach the callback path.
        if request.path == settings.callback_path:
            return sign_in(request)
        if request.path == "/":
            return home(request)
        return page("<p>Not found.</p>", 404)

    return MarketplaceWSGIMiddleware(product, settings=settings, on_linked=on_linked)


# What the demo sets unless the environment says otherwise (SAASUS_MW_COOKIE_SECURE=true, ...).
DEMO_DEFAULTS = {
    "SAASUS_MW_COOKIE_SECURE": "false",  # plain http on loopback only
    "SAASUS_MW_ALLOW_NEW_TENANT": "true",  # newcomer@example.com gets a new account for the purchase
    "SAASUS_MW_PRODUCT_NAME": "Demo product",
}
# Two host names on purpose, each always printed the same way: the SaaSus login is another site, as in production.
DEMO_PRODUCT_HOST, DEMO_SAASUS_HOST = "127.0.0.1", "localhost"


def demo(app_port: int, saasus_port: int, environ: Mapping[str, str] | None = None) -> int:
    """The SaaSus stand-in (its login on localhost) and the demo product on 127.0.0.1: two sites, as in production.

    The middleware reads SAASUS_MW_* from ``environ`` (default: the process's), over
    :data:`DEMO_DEFAULTS`; only the SaaSus credentials and base URL are the stand-in's.
    """
    # The stand-in is test support: only the demo loads it, never the check.
    from .testing import SaaSusStandIn, Tenant  # noqa: PLC0415

    environ = os.environ if environ is None else environ
    saas_id, api_key, secret_key = "demo-saas", "demo-api-key", "demo-secret-key"
    standin = SaaSusStandIn(saas_id, api_key, secret_key, host="127.0.0.1", port=saasus_port)
    basic, pro = standin.add_plan("Basic"), standin.add_plan("Pro")
    standin.add_user(
        email="buyer@example.com",
        tenants=[
            Tenant(name="Acme Corporation", plan_id=basic.id),
            Tenant(name="株式会社サンプル", plan_id=pro.id),
            Tenant(name="Globex Japan"),
        ],
    )
    # No tenant yet: the picker offers only a new account for the purchase.
    standin.add_user(email="newcomer@example.com")
    try:
        standin.start()
    except OSError as exc:
        message = f"saasus-mw demo: cannot listen on port {saasus_port}: {exc.strerror}"
        print(f"{message} (choose another: --saasus-port, or make demo SAASUS_PORT=...)", file=sys.stderr)
        return 1
    try:
        try:
            settings = Settings.load(
                {**DEMO_DEFAULTS, **environ},
                saasus_saas_id=saas_id,
                saasus_api_key=api_key,
                saasus_secret_key=secret_key,
                saasus_base_url=standin.base_url,
                # No success URL by default: after the link the middleware hands the buyer,
                # with a fresh code, to the product's own sign-in on the callback path.
            )
        except ConfigError as exc:
            print(f"saasus-mw demo: the configuration in the environment is not valid: {exc}", file=sys.stderr)
            return 1
        product = f"http://{DEMO_PRODUCT_HOST}:{app_port}"
        callback = product + settings.callback_path
        standin.callback_url = callback  # as registered in the SaaSus console
        saasus_site = f"http://{DEMO_SAASUS_HOST}:{standin.port}"
        login = standin.login_url(callback).replace(standin.url, saasus_site, 1)
        signin = standin.login_url(callback, marketplace=False).replace(standin.url, saasus_site, 1)
        saasus = SaaSus(settings)  # the product's one client, for its own sign-in
        # Plan ids are UUIDs: the product shows their names (the demo knows them; a product asks GET /pricing/plans).
        app = _demo_product(settings, saasus, login, signin, {basic.id: basic.display_name, pro.id: pro.display_name})
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        show_step_logs()
        try:
            # On a busy port werkzeug says so and exits with status 1 itself.
            server = make_server(DEMO_PRODUCT_HOST, app_port, app, threaded=True)
            print(f"\n  SaaSus stand-in: {saasus_site} (its hosted login; the middleware calls its API)")
            print(f"  Product:         {product}/ ({settings.product_name or 'no product name'})")
            print(f"\n  Open this URL to buy on AWS Marketplace and link the purchase:\n\n    {login}\n")
            print("  Each step of the journey is logged below. Ctrl-C stops everything.\n", flush=True)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                print("stopping", file=sys.stderr)
            finally:
                server.server_close()
        finally:
            saasus.close()
    finally:
        standin.stop()
    return 0


class StepFormatter(logging.Formatter):
    """The message, then the ``saasus_mw_*`` fields the middleware adds to its records (``extra=``)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(
            f"{name.removeprefix('saasus_mw_')}={value}"
            for name, value in vars(record).items()
            if name.startswith("saasus_mw_") and value not in ("", None)
        )
        return f"{super().format(record)}  {fields}".rstrip()


def show_step_logs(stream: Any = None) -> None:
    """Step lines of the ``saasus_mw`` logger on stderr (it has no handler of its own: the host decides)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StepFormatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    mw_logger = logging.getLogger("saasus_mw")
    mw_logger.addHandler(handler)
    mw_logger.setLevel(logging.INFO)


if __name__ == "__main__":
    raise SystemExit(main())
