"""Shared bits of the benchmarks: the result table, the interleaved timing loop, servers.

Timing method (pyperf-style, without pyperf's process spawning so that ratios
are measured side by side in one process):

* every variant of a scenario runs the same number of calls per batch, the
  number calibrated so that one batch of the slowest variant takes about
  ``batch_seconds``;
* a round runs one batch of every variant, in a fresh random order, with the
  garbage collector collected before and disabled during the batch (as timeit
  does);
* the first ``warmup`` rounds are thrown away;
* figures are medians over the rounds, and every ratio or difference is taken
  *within* a round (variants measured a few milliseconds apart) before the
  median is taken, so slow drifts of a shared, noisy machine cancel out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SMOKE_ENV = "BENCH_SMOKE"
PID_HEADER = "x-bench-worker-pid"  # added by bench/served_*.py: which worker process answered

# The credentials the example apps and the stand-in share (any values work).
SAAS_ID, API_KEY, SECRET = "saas-bench", "key-bench", "secret-bench-0123456789"


def smoke_requested() -> bool:
    return os.environ.get(SMOKE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# -- the result table ------------------------------------------------------------


@dataclasses.dataclass
class Row:
    """One line of the table. ``ok`` is None for a figure shown for context only."""

    scenario: str
    figure: str
    value: str
    target: str = ""
    ok: bool | None = None

    @property
    def verdict(self) -> str:
        if self.ok is None:
            return "info" if not self.target else "not judged"
        return "PASS" if self.ok else "FAIL"


def check(
    scenario: str,
    figure: str,
    value: float,
    fmt: str,
    *,
    le: float | None = None,
    ge: float | None = None,
    target: str = "",
    judged: bool = True,
) -> Row:
    """A row whose value is compared with a bound (``le``: at most, ``ge``: at least)."""
    ok: bool | None = None
    if le is not None:
        ok = value <= le
        target = target or f"≤ {le:{fmt}}"
    elif ge is not None:
        ok = value >= ge
        target = target or f"≥ {ge:{fmt}}"
    return Row(scenario, figure, f"{value:{fmt}}", target, ok if judged else None)


def print_table(rows: Sequence[Row], file: Any = None) -> None:
    file = file or sys.stdout
    headers = ("scenario", "figure", "value", "target", "result")
    cells = [(r.scenario, r.figure, r.value, r.target, r.verdict) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    print(line(headers), file=file)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=file)
    for c in cells:
        print(line(c), file=file)
    file.flush()


def rows_to_json(rows: Sequence[Row]) -> str:
    return json.dumps([dataclasses.asdict(r) | {"result": r.verdict} for r in rows], ensure_ascii=False, indent=1)


# -- statistics ----------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    if len(values) < 4:
        return min(values), max(values)
    q = statistics.quantiles(values, n=4)
    return q[0], q[2]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100): p99 of 1,000 samples is the 990th smallest."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


# -- the interleaved timing loop ---------------------------------------------------


# A runner executes its variant ``n`` times and returns the elapsed seconds.
Runner = Callable[[int], float]


@dataclasses.dataclass
class Timings:
    loops: int
    rounds: list[dict[str, float]]  # seconds per call, one dict per kept round

    def per_call(self, name: str) -> list[float]:
        return [r[name] for r in self.rounds]

    def median(self, name: str) -> float:
        return median(self.per_call(name))

    def ratio(self, a: str, b: str) -> float:
        """Median over rounds of a/b measured in the same round."""
        return median([r[a] / r[b] for r in self.rounds])

    def ratio_spread(self, a: str, b: str) -> tuple[float, float]:
        return quartiles([r[a] / r[b] for r in self.rounds])

    def added(self, wrapped: str, bare: str) -> float:
        """Median over rounds of wrapped - bare (seconds per call) measured in the same round."""
        return median([r[wrapped] - r[bare] for r in self.rounds])


def _timed(run: Runner, n: int) -> float:
    gc.collect()
    gc.disable()
    try:
        return run(n)
    finally:
        gc.enable()


def calibrate(run: Runner, batch_seconds: float) -> int:
    """Calls per batch so that one batch of ``run`` takes about ``batch_seconds``."""
    n = 1
    while True:
        elapsed = _timed(run, n)
        if elapsed >= batch_seconds / 4 or n >= 10_000_000:
            return max(1, int(n * batch_seconds / max(elapsed, 1e-9)))
        n *= 4


def interleave(
    runners: dict[str, Runner], *, rounds: int, warmup: int, batch_seconds: float, calibrate_on: str, seed: int = 6
) -> Timings:
    # Everything alive now (imports, apps) goes to the permanent generation, so
    # the collection before each batch costs microseconds, not tens of milliseconds.
    gc.collect()
    gc.freeze()
    loops = calibrate(runners[calibrate_on], batch_seconds)
    order = list(runners)
    rng = random.Random(seed)  # noqa: S311 - a reproducible order, not a secret
    kept: list[dict[str, float]] = []
    for i in range(warmup + rounds):
        rng.shuffle(order)
        result = {name: _timed(runners[name], loops) / loops for name in order}
        if i >= warmup:
            kept.append(result)
    return Timings(loops, kept)


# -- real servers --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(base_url: str) -> dict[str, str]:
    """The environment tests/test_servers.py gives the example apps."""
    return {
        **os.environ,
        "SAASUS_SAAS_ID": SAAS_ID,
        "SAASUS_API_KEY": API_KEY,
        "SAASUS_SECRET_KEY": SECRET,
        "SAASUS_BASE_URL": base_url,
        "SAASUS_MW_COOKIE_SECURE": "false",  # plain http on loopback
        "SAASUS_MW_SUCCESS_URL": "/welcome",
        "SAASUS_MW_TIMEOUT": "5",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    }


@dataclasses.dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    output: str = ""  # the server's stdout and stderr, filled in once it has stopped
    alive_at_end: bool = False  # still running when the block ended, before we stopped it

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@contextlib.contextmanager
def running(
    command: Sequence[str], env: dict[str, str], *, ready_path: str = "/", start_timeout: float = 30
) -> Iterator[Server]:
    """Start a server process (``{port}`` in ``command`` is filled in), wait until it answers, stop it after.

    The process gets its own process group and is stopped with SIGTERM to that
    group (then SIGKILL), so no worker outlives it. ``Server.output`` holds its
    log once the block has ended, shutdown messages included.
    """
    import httpx  # noqa: PLC0415 - only the server scenarios need it

    port = free_port()
    argv = [part.format(port=port) for part in command]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below; a pipe nobody reads could stall the server
    process = subprocess.Popen(  # noqa: S603 - a server command built here
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                httpx.get(server.url + ready_path, timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{argv[:4]} did not start:\n" + log.read().decode(errors="replace")) from None
                time.sleep(0.05)
        yield server
    finally:
        server.alive_at_end = server.alive
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # Workers of a pre-fork server exit after the arbiter; give them a moment, then make sure.
        for _ in range(50):
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        log.seek(0)
        server.output = log.read().decode(errors="replace")
        log.close()


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.2f} µs"


def fmt_ns(seconds: float) -> str:
    return f"{seconds * 1e9:.0f} ns"


def machine() -> list[str]:
    """What this ran on, for the record."""
    import platform  # noqa: PLC0415

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return [
        f"python: {sys.version.replace(chr(10), ' ')}",
        f"cpus: {os.cpu_count()} ({model or platform.processor() or 'unknown model'})",
        f"platform: {platform.platform()}",
    ]


def scenario_main(run: Callable[[bool], list[Row]]) -> int:
    """``python -m bench.<scenario> [--smoke] [--json PATH]``: run, print the table, exit 1 on a FAIL."""
    import argparse  # noqa: PLC0415

    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help=f"tiny counts; checks it works (or set {SMOKE_ENV}=1)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--quiet", action="store_true", help="no table (run_all prints one for all)")
    args = parser.parse_args()
    # SIGTERM (run_all's time limit) becomes SystemExit, so every ``running`` block stops its server.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    rows = run(args.smoke or smoke_requested())
    if not args.quiet:
        print_table(rows)
    if args.json:
        Path(args.json).write_text(rows_to_json(rows), encoding="utf-8")
    return 1 if any(r.ok is False for r in rows) else 0


def passthrough_plan(smoke: bool) -> tuple[int, int, float, float]:
    """(rounds, warm-up rounds, seconds per batch beside the host app, seconds per batch around a no-op)."""
    return (3, 1, 0.002, 0.001) if smoke else (101, 5, 0.02, 0.01)


def passthrough_rows(
    scenario: str,
    host_t: Any,
    noop_t: Any,
    works: bool,
    statuses: object,
    *,
    host: str,
    peer: str,
    peer_label: str,
    judged: bool,
    path_only_limit: float | None = None,
) -> list[Row]:
    """The pass-through table, the same for ASGI (peer: TrustedHost) and WSGI (peer: ProxyFix).

    ``host_t`` timed the bare host app and its wrapped variants ("<host>+saasus_mw",
    "<host>+<peer>", "<host>+PathOnly"); ``noop_t`` the same around a no-op app.
    """
    mw = noop_t.added("noop+saasus_mw", "noop")
    other = noop_t.added(f"noop+{peer}", "noop")
    po = noop_t.added("noop+PathOnly", "noop")
    lo, hi = host_t.ratio_spread(f"{host}+saasus_mw", host)
    ratio = host_t.ratio(f"{host}+saasus_mw", host)
    path_only = (
        check(
            scenario,
            "saasus_mw added / PathOnly added (team's target)",
            mw / po,
            ".2f",
            le=path_only_limit,
            judged=judged,
        )
        if path_only_limit is not None
        else Row(scenario, "saasus_mw added / PathOnly added", f"{mw / po:.2f}")
    )
    return [
        Row(
            scenario,
            "variants answer 200 (pass-through works)",
            "yes" if works else f"no: {statuses}",
            "all 200",
            works,
        ),
        Row(scenario, f"bare {host} app, per call", fmt_us(host_t.median(host))),
        check(scenario, f"wrapped / bare {host}", ratio, ".3f", le=1.04, judged=judged),
        Row(scenario, "  (interquartile range of that ratio)", f"{lo:.3f}..{hi:.3f}"),
        Row(scenario, f"{peer} / bare {host}", f"{host_t.ratio(f'{host}+{peer}', host):.3f}"),
        Row(scenario, "PathOnly / bare " + host, f"{host_t.ratio(f'{host}+PathOnly', host):.3f}"),
        Row(scenario, "added cost, saasus_mw", fmt_ns(mw)),
        Row(scenario, f"added cost, {peer_label}", fmt_ns(other)),
        Row(scenario, "added cost, PathOnly (compare the path only)", fmt_ns(po)),
        check(scenario, f"saasus_mw added / {peer} added", mw / other, ".3f", le=0.2, judged=judged),
        path_only,
        Row(scenario, f"added cost, saasus_mw, beside {host}", fmt_ns(host_t.added(f"{host}+saasus_mw", host))),
    ]
