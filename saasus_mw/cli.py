"""``saasus-mw``: check a deployment's configuration, or run the local demo.

    saasus-mw check [--online] [--json] [--strict]
    saasus-mw demo [--app-port 8000] [--saasus-port 8790]

``check`` (see :mod:`saasus_mw.check`) reports every problem at once.
Exit status: 0 fine, 1 errors (or warnings with ``--strict``), 2 usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .check import Finding, check
from .settings import Settings
from .wsgi import MarketplaceWSGIMiddleware

__all__ = ["Finding", "check", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="saasus-mw", description="saasus_mw: AWS Marketplace linking middleware.")
    commands = parser.add_subparsers(dest="command", required=True)
    check_parser = commands.add_parser("check", help="check the configuration the middleware would load")
    check_parser.add_argument("--online", action="store_true", help="also make one signed, read-only call to SaaSus")
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
        for finding in findings:
            print(f"{finding.level:<8} {finding.message}")
        print(f"{'OK' if ok else 'FAILED'}: {errors} error(s), {warnings_} warning(s)")
    return 0 if ok else 1


# -- demo ------------------------------------------------------------------------------


@Request.application
def _demo_product(request: Request) -> Response:
    # A product page and the product's own login callback, which ordinary
    # sign-ins (without a registration token) still reach.
    if request.path == "/callback":
        return Response("<h1>Demo product</h1><p>Signed in (an ordinary login).</p>", mimetype="text/html")
    if request.path in ("/", "/welcome"):
        body = "<h1>Demo product</h1><p>Welcome. Your AWS Marketplace purchase is linked.</p>"
        return Response(body, mimetype="text/html")
    return Response("Not found", status=404)


def demo(app_port: int, saasus_port: int) -> int:
    """The SaaSus stand-in on localhost and the demo product on 127.0.0.1: two sites, as in production."""
    # The stand-in is test support: only the demo loads it, never the check.
    from .testing import SaaSusStandIn, Tenant  # noqa: PLC0415

    saas_id, api_key, secret_key = "demo-saas", "demo-api-key", "demo-secret-key"
    standin = SaaSusStandIn(
        saas_id,
        api_key,
        secret_key,
        host="127.0.0.1",
        port=saasus_port,
        callback_url=f"http://127.0.0.1:{app_port}/callback",
    )
    standin.add_user(
        email="buyer@example.com",
        tenants=[
            Tenant(name="Acme Corporation", plan_id="plan-basic"),
            Tenant(name="株式会社サンプル", plan_id="plan-pro"),
            Tenant(name="Globex Japan"),
        ],
    )
    try:
        standin.start()
    except OSError as exc:
        message = f"saasus-mw demo: cannot listen on port {saasus_port}: {exc.strerror}"
        print(f"{message} (choose another: --saasus-port, or make demo SAASUS_PORT=...)", file=sys.stderr)
        return 1
    try:
        settings = Settings.load(
            environ={},
            saasus_saas_id=saas_id,
            saasus_api_key=api_key,
            saasus_secret_key=secret_key,
            saasus_base_url=standin.base_url,
            cookie_secure=False,  # plain http on loopback only
            # The operators' recommended default: back to the hosted login, whose
            # live session returns the buyer, signed in, to the product's own callback.
            success_url=standin.login_url(
                f"http://127.0.0.1:{app_port}/callback", email="buyer@example.com", marketplace=False
            ),
        )
        app = MarketplaceWSGIMiddleware(_demo_product, settings=settings)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
        # On a busy port werkzeug says so and exits with status 1 itself.
        server = make_server("127.0.0.1", app_port, app, threaded=True)
        login = standin.login_url(f"http://127.0.0.1:{app_port}/callback").replace("127.0.0.1", "localhost", 1)
        print(f"\n  SaaSus stand-in: {standin.base_url}")
        print(f"  Product:         http://127.0.0.1:{app_port}/")
        print(f"\n  Open this URL to buy on AWS Marketplace and link the purchase:\n\n    {login}\n")
        print("  Ctrl-C stops everything.\n", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopping", file=sys.stderr)
        finally:
            server.server_close()
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
