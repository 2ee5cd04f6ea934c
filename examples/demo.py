"""`make demo`: the SaaSus stand-in plus the example product, wrapped, on loopback.

The stand-in plays SaaSus (hosted login and API) on http://localhost:8790; the
product runs under uvicorn on http://127.0.0.1:8000 - another site, as in
production, so the state cookie crosses the same redirect chain.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from saasus_mw.testing import SaaSusStandIn, Tenant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-port", type=int, default=8000)
    parser.add_argument("--saasus-port", type=int, default=8790)
    args = parser.parse_args()

    standin = SaaSusStandIn(
        saas_id="demo-saas",
        api_key="demo-api-key",
        secret_key="demo-secret-key",
        host="127.0.0.1",
        port=args.saasus_port,
    )
    standin.add_user(
        email="buyer@example.com",
        tenants=[
            Tenant(name="Acme Corporation", plan_id="plan-basic"),
            Tenant(name="株式会社サンプル", plan_id="plan-pro"),
            Tenant(name="Globex Japan"),
        ],
    )
    with standin:
        os.environ.update(
            SAASUS_SAAS_ID="demo-saas",
            SAASUS_API_KEY="demo-api-key",
            SAASUS_SECRET_KEY="demo-secret-key",
            SAASUS_BASE_URL=standin.base_url,
            SAASUS_MW_COOKIE_SECURE="false",  # plain http on loopback only
            SAASUS_MW_SUCCESS_URL="/welcome",
        )
        callback = f"http://127.0.0.1:{args.app_port}/callback"
        login = standin.login_url(callback, marketplace=True).replace("127.0.0.1", "localhost", 1)
        print(f"\n  SaaSus stand-in: {standin.base_url}")
        print(f"  Product:         http://127.0.0.1:{args.app_port}/")
        print(f"\n  Open this URL to buy on AWS Marketplace and link the purchase:\n\n    {login}\n")
        print("  Ctrl-C stops everything.\n", flush=True)
        uvicorn.run("examples.starlette_app:app", host="127.0.0.1", port=args.app_port, log_level="warning")


if __name__ == "__main__":
    main()
