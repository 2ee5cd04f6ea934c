"""The SaaSus stand-in in its own process, with one user in 1,000 tenants, for bench/picker_cpu.py.

Run as its own process so that the CPU it spends answering (a 477 KB userinfo) is not
counted as the middleware's. Prints one JSON line, ``{"base_url", "journeys": [[code,
registration_token], ...]}``, then serves until its stdin closes.

    python bench/_standin_1000.py 120 [tenants]
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import API_KEY, SAAS_ID, SECRET
from saasus_mw.testing import SaaSusStandIn, Tenant

TENANTS = 1000


def main() -> None:
    journeys = int(sys.argv[1])
    tenants = int(sys.argv[2]) if len(sys.argv) > 2 else TENANTS
    from bench.picker_cpu import japanese_name  # noqa: PLC0415 - after sys.path is set

    rng = random.Random(6)  # noqa: S311 - reproducible test data, not secrets
    with SaaSusStandIn(saas_id=SAAS_ID, api_key=API_KEY, secret_key=SECRET) as standin:
        basic = standin.add_plan("Basic")  # plan ids are UUIDs, as SaaSus's are
        user = standin.add_user(
            email="many@example.com",
            tenants=[Tenant(japanese_name(rng), plan_id=basic.id) for _ in range(tenants)],
        )
        pairs = [[standin.issue_code(user), standin.issue_registration_token()] for _ in range(journeys)]
        print(json.dumps({"base_url": standin.base_url, "journeys": pairs}), flush=True)
        sys.stdin.read()  # until the bench closes it


if __name__ == "__main__":
    main()
