"""Run the SaaSus stand-in from the command line: ``python -m saasus_mw.testing``."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from saasus_mw.testing.standin import SaaSusStandIn, Tenant


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m saasus_mw.testing",
        description="Serve a stand-in SaaSus API (auth + AWS Marketplace) with one demo user.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--saas-id", default="saas-1")
    parser.add_argument("--api-key", default="key-1")
    parser.add_argument("--secret-key", default="secret-1")
    parser.add_argument(
        "--redirect-uri",
        default="http://127.0.0.1:8000/callback",
        help="the registered callback URL (GET /auth/auth-info), also the printed login link's",
    )
    args = parser.parse_args(argv)

    standin = SaaSusStandIn(
        args.saas_id, args.api_key, args.secret_key, host=args.host, port=args.port, callback_url=args.redirect_uri
    )
    standin.add_user(
        "buyer@example.com",
        [
            Tenant("Acme Corp"),
            Tenant("株式会社サンプル", roles=("admin", "user")),
            Tenant("Globex", completed_sign_up=False, roles=("user",)),
        ],
    )
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
        f"Hosted login: {standin.login_url(args.redirect_uri)}",
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
