"""Run the SaaSus stand-in from the command line: ``python -m saasus_mw.testing``.

    python -m saasus_mw.testing --user buyer@example.com:Acme,Globex --user newcomer@example.com \\
        --user buyer-42:Acme --redirect-uri http://127.0.0.1:8000/callback

Each visit to the printed login URL issues a fresh code and registration token;
``POST /_standin/reset`` forgets every purchase, so the same tenants can take one again.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from saasus_mw.testing.control import RESET_PATH
from saasus_mw.testing.listing import LISTING_STATUSES, VISIBILITIES, Listing
from saasus_mw.testing.standin import SaaSusStandIn, Tenant

# Without --user: a buyer with three tenants (one whose sign-up is unfinished), a newcomer with none,
# and a sign-in-ID user (no e-mail address).
DEFAULT_USERS = (
    ("buyer@example.com", ("Acme Corp", "株式会社サンプル", "Globex (sign-up unfinished)")),
    ("newcomer@example.com", ()),
    ("buyer-42", ("Initech",)),
)


def user_spec(text: str) -> tuple[str, list[str]]:
    """``NAME[:TENANT,TENANT...]``: an e-mail address, or a sign-in ID (no @), and the tenants' names."""
    name, _, tenants = text.partition(":")
    name = name.strip()
    if not name:
        raise argparse.ArgumentTypeError(f"expected EMAIL[:TENANT,TENANT...] or SIGN_IN_ID[:...], got {text!r}")
    return name, [t.strip() for t in tenants.split(",") if t.strip()]


def _default_tenant(name: str) -> Tenant:
    if name.startswith("Globex"):
        return Tenant(name, completed_sign_up=False, roles=("user",))
    return Tenant(name, roles=("admin", "user")) if name == "株式会社サンプル" else Tenant(name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m saasus_mw.testing",
        description=(
            "Serve a stand-in SaaSus API (auth + AWS Marketplace) on loopback, with its hosted login. Each visit to "
            f"the login URL issues a fresh code and registration token; POST {RESET_PATH} forgets every purchase "
            "(which tenants are linked), so the same users can buy again without a restart."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790, help="0: any free port (default: %(default)s)")
    parser.add_argument("--saas-id", default="saas-1")
    parser.add_argument("--api-key", default="key-1")
    parser.add_argument("--secret-key", default="secret-1")
    parser.add_argument(
        "--redirect-uri",
        default="http://127.0.0.1:8000/callback",
        help="your app's callback URL: the one registered in SaaSus (GET /auth/auth-info), and the printed login "
        "link's destination (default: %(default)s)",
    )
    parser.add_argument(
        "--user",
        action="append",
        type=user_spec,
        metavar="NAME[:TENANT,...]",
        help="a user (repeatable): an e-mail address, or a sign-in ID (no @: such users have no e-mail), then "
        "the names of their tenants after a colon, comma-separated; none after it: a user without a tenant. "
        "Default: buyer@example.com (three tenants), newcomer@example.com (none), buyer-42 (a sign-in ID, one tenant)",
    )
    listing = parser.add_argument_group("the listing, as `saasus-mw check --online` reads it")
    listing.add_argument("--self-sign-up", action=argparse.BooleanOptionalAction, default=Listing.self_sign_up)
    listing.add_argument("--product-code", default=Listing.product_code, help="empty: no AWS Marketplace settings")
    listing.add_argument("--listing-status", choices=LISTING_STATUSES, default=Listing.listing_status)
    listing.add_argument("--visibility", choices=VISIBILITIES, default=Listing.visibility)
    args = parser.parse_args(argv)

    standin = SaaSusStandIn(
        args.saas_id, args.api_key, args.secret_key, host=args.host, port=args.port, callback_url=args.redirect_uri
    )
    standin.listing = Listing(args.self_sign_up, args.product_code, args.listing_status, args.visibility)
    try:
        for name, tenants in args.user or [(name, [_default_tenant(t) for t in ts]) for name, ts in DEFAULT_USERS]:
            email, sign_in_id = (name, "") if "@" in name else ("", name)
            standin.add_user(email, [t if isinstance(t, Tenant) else Tenant(t) for t in tenants], sign_in_id=sign_in_id)
    except ValueError as exc:  # the same user twice
        parser.error(str(exc))
    try:
        standin.start()
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"SaaSus stand-in serving on {standin.url} (Ctrl-C to stop)\n"
        f"  export SAASUS_SAAS_ID={args.saas_id}\n"
        f"  export SAASUS_API_KEY={args.api_key}\n"
        f"  export SAASUS_SECRET_KEY={args.secret_key}\n"
        f"  export SAASUS_BASE_URL={standin.base_url}\n"
        f"Hosted login: {standin.login_url(args.redirect_uri)}\n"
        "  (buying on AWS Marketplace: each visit brings a fresh code and registration token)\n"
        f"Forget every purchase, so the same tenants can take one again: curl -X POST {standin.url}{RESET_PATH}",
        flush=True,
    )
    try:
        threading.Event().wait()  # serve until interrupted
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        standin.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
