"""Run every benchmark scenario and print one table: ``python -m bench`` or ``python bench/run_all.py``.

    python -m bench                      # the full run (a few minutes): figures judged against the targets
    python -m bench --smoke              # tiny counts, a few seconds: checks it works, not how fast
    BENCH_SMOKE=1 python -m bench        # the same
    python -m bench --only asgi,picker   # some scenarios
    python -m bench --json results.json  # also write every row as JSON

Each scenario runs in its own Python process (so one cannot warm, load or slow
another), one after the other, with a time limit. The exit status is 1 when any
row is FAIL (in smoke mode only the "does it work" rows are judged).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, SMOKE_ENV, Row, machine, print_table, rows_to_json, smoke_requested

# name -> (module, time limit of a full run in seconds)
SCENARIOS = {
    "asgi": ("bench.asgi_passthrough", 300),
    "wsgi": ("bench.wsgi_passthrough", 300),
    "picker": ("bench.picker_cpu", 300),
    "eventloop": ("bench.event_loop", 300),
    "eventloop1000": ("bench.event_loop_1000", 300),
    "workers": ("bench.workers", 420),
    "roundtrips": ("bench.round_trips", 300),
}
SMOKE_LIMIT = 60


def run_scenario(name: str, module: str, limit: float, smoke: bool) -> list[Row]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rows.json"
        command = [sys.executable, "-m", module, "--quiet", "--json", str(out)] + (["--smoke"] if smoke else [])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        start = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own scenario modules
        try:
            status = f"exit {process.wait(timeout=limit)}"
        except subprocess.TimeoutExpired:
            # SIGTERM first: the scenario turns it into SystemExit, so its servers are stopped.
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            status = f"stopped after {limit:.0f} s"
        elapsed = time.monotonic() - start
        if not out.exists():
            return [Row(name, "scenario ran to the end", status, "table written", False)]
        rows = [Row(**{k: v for k, v in r.items() if k != "result"}) for r in json.loads(out.read_text("utf-8"))]
        rows.append(Row(rows[0].scenario if rows else name, "scenario run time", f"{elapsed:.1f} s"))
        failed = sum(r.ok is False for r in rows)
        print(f"   {status}, {len(rows)} rows, {failed} FAIL, {elapsed:.1f} s", flush=True)
        return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help=f"tiny counts; checks it works (or set {SMOKE_ENV}=1)")
    parser.add_argument("--only", help=f"comma-separated, from: {', '.join(SCENARIOS)}")
    parser.add_argument("--json", metavar="PATH", help="also write every row as JSON")
    args = parser.parse_args()
    smoke = args.smoke or smoke_requested()
    names = [n.strip() for n in args.only.split(",")] if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")

    print(f"saasus_mw benchmarks ({'smoke: tiny counts, timing not judged' if smoke else 'full run'})")
    for line in machine():
        print(f"  {line}")
    print(flush=True)
    rows: list[Row] = []
    start = time.monotonic()
    for name in names:
        module, limit = SCENARIOS[name]
        print(f"-- {name} ({module})", flush=True)
        rows += run_scenario(name, module, SMOKE_LIMIT if smoke else limit, smoke)
    print(f"\nall scenarios: {time.monotonic() - start:.1f} s\n")
    print_table(rows)
    if args.json:
        Path(args.json).write_text(rows_to_json(rows), encoding="utf-8")
    failed = [r for r in rows if r.ok is False]
    judged = [r for r in rows if r.ok is not None]
    print(
        f"\nresult: {len(judged) - len(failed)} PASS, {len(failed)} FAIL"
        f"{', timing not judged (smoke)' if smoke else ''}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
