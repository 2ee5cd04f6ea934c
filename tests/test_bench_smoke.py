"""The benchmarks still run: ``python -m bench --smoke`` (tiny counts, a few seconds).

It checks that every scenario works - the pass-through answers, journeys complete
under real servers and across workers - and never how fast: timing rows are not
judged in smoke mode. The full run is ``python -m bench`` (docs/performance.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "1 ASGI",
    "2 WSGI",
    "3 picker CPU",
    "4 event loop",
    "4b event loop, 1,000 tenants",
    "5 workers",
    "6 round trips",
}


def test_every_benchmark_runs_in_smoke_mode(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    env = {**os.environ, "BENCH_SMOKE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,  # a hang fails here instead of stalling the suite
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    rows = json.loads(out.read_text("utf-8"))
    assert {r["scenario"] for r in rows} == SCENARIOS, done.stdout[-4000:]
    assert not [r for r in rows if r["result"] == "FAIL"], done.stdout[-4000:]
    # Smoke mode judges that it works, never how fast.
    assert all(r["result"] == "not judged" for r in rows if r["target"].startswith("≤")), done.stdout[-4000:]
