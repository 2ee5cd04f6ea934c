"""Target 4 again, for context: the same wave with buyers in 1,000 tenants each (60-character
Japanese names). Not a target: it shows what the SDK's deserialisation and the 1,000-tenant
picker, both run in worker threads holding the GIL, do to the event loop. Journeys must
still all complete; the latency rows are shown, not judged.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, scenario_main
from bench.event_loop import run as run_event_loop


def run(smoke: bool = False) -> list[Row]:
    return run_event_loop(smoke, tenants=1000, label="4b event loop, 1,000 tenants", judge_latency=False)


if __name__ == "__main__":
    sys.exit(scenario_main(run))
