"""Target 4 - a slow SaaSus must not hold up the event loop.

uvicorn (one worker, its own process) serves examples/starlette_app.py with the
environment tests/test_servers.py uses. The stand-in answers every credentials,
userinfo and link call after 300 ms. 50 journeys start together (one thread
each); meanwhile a probe process sends pass-through ``GET /`` requests at a fixed
pace over a keep-alive connection. Targets: the p99 latency of the probe
requests sent while journeys were in flight ≤ 50 ms, and all 50 journeys complete.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import (
    API_KEY,
    ROOT,
    SAAS_ID,
    SECRET,
    Row,
    Server,
    check,
    median,
    percentile,
    running,
    scenario_main,
    server_env,
)
from bench.journeys import Journey, journey, linked_on_saasus
from saasus_mw.testing import SaaSusStandIn

SCENARIO = "4 event loop"
UVICORN = [sys.executable, "-m", "uvicorn", "examples.starlette_app:app", "--host", "127.0.0.1", "--port", "{port}"]
SLOW_ENDPOINTS = ("credentials", "userinfo", "link")


@contextlib.contextmanager
def probing(url: str, interval: float, limit: float) -> Iterator[Callable[[], list[tuple[float, float, int]]]]:
    """A probe process pacing pass-through requests; yields a function that stops it and returns samples."""
    probe = subprocess.Popen(  # noqa: S603 - our own script, run by this Python
        [sys.executable, str(ROOT / "bench" / "_probe.py"), url, str(interval), str(limit)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    if probe.stdout is None:
        raise RuntimeError("no pipe to the probe")
    try:
        if probe.stdout.readline().strip() != "ready":
            raise RuntimeError("probe did not start")

        def stop() -> list[tuple[float, float, int]]:
            out, _ = probe.communicate("stop\n", timeout=limit + 30)
            return [(float(a), float(b), int(c)) for a, b, c in json.loads(out)]

        yield stop
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.wait()


def tenant_names(count: int) -> list[str]:
    if count == 3:
        return ["Globex", "Acme", "株式会社サンプル"]
    from bench.picker_cpu import japanese_name  # noqa: PLC0415

    rng = random.Random(6)  # noqa: S311 - reproducible names, not secrets
    return [japanese_name(rng) for _ in range(count)]


@dataclasses.dataclass
class Wave:
    count: int
    delay: float
    warm: Journey
    results: list[Journey | None]
    linked: int
    slow_calls: int
    samples: list[tuple[float, float, int]]  # (sent at, latency, status) of the probe's requests
    start: float
    end: float
    server: Server


def wave(count: int, delay: float, interval: float, baseline: float, deadline: float, tenants: int) -> Wave:
    """Start uvicorn and the stand-in, warm up, slow SaaSus down, send the wave with the probe running."""
    with SaaSusStandIn(saas_id=SAAS_ID, api_key=API_KEY, secret_key=SECRET) as standin:
        # One buyer per journey (and one for the warm-up): a tenant already linked to
        # another purchase is refused (409), so no tenant is linked twice.
        names = tenant_names(tenants)
        users = [standin.add_user(email=f"buyer{i}@example.com", tenants=names) for i in range(count + 1)]
        with running(UVICORN, server_env(standin.base_url)) as server:
            url = server.url
            # Warm-up, SaaSus answering at once: imports, templates, connection pool.
            warm = journey(url, standin, users[count], 0)
            for _ in range(20):
                httpx.get(url + "/", timeout=10)
            for endpoint in SLOW_ENDPOINTS:
                standin.inject(endpoint, delay=delay, times=None)
            calls_before = len(standin.calls)
            results: list[Journey | None] = [None] * count
            gate = threading.Barrier(count + 1)

            def one(i: int) -> None:
                gate.wait()
                results[i] = journey(url, standin, users[i], i, timeout=deadline)

            threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
            with probing(url + "/", interval, deadline + baseline + 30) as stop_probe:
                for t in threads:
                    t.start()
                time.sleep(baseline)  # idle samples first, for comparison
                gate.wait()
                start = time.monotonic()
                for t in threads:
                    t.join(timeout=max(0.1, start + deadline - time.monotonic()))
                end = time.monotonic()
                samples = stop_probe()
            standin.clear_faults()
        ok = [r for r in results if r is not None and r.ok]
        return Wave(
            count=count,
            delay=delay,
            warm=warm,
            results=results,
            linked=linked_on_saasus(standin, ok),
            slow_calls=sum(1 for c in standin.calls[calls_before:] if c.endpoint in SLOW_ENDPOINTS),
            samples=samples,
            start=start,
            end=end,
            server=server,
        )


def rows_for(w: Wave, label: str, judged: bool) -> list[Row]:
    done = [r for r in w.results if r is not None]
    ok = [r for r in done if r.ok]
    during = [lat for sent, lat, _ in w.samples if w.start <= sent <= w.end]
    before = [lat for sent, lat, _ in w.samples if sent < w.start]
    errors = sum(1 for _, _, status in w.samples if status != 200)
    first_failure = next((r.detail for r in done if not r.ok), "")
    rows = [
        Row(label, "warm-up journey (SaaSus at full speed)", "ok" if w.warm.ok else w.warm.detail, "ok", w.warm.ok),
        Row(label, f"SaaSus delay on {', '.join(SLOW_ENDPOINTS)}", f"{w.delay * 1000:.0f} ms per call"),
        check(label, f"journeys completed (of {w.count} in flight)", len(ok), "d", ge=w.count, target=f"= {w.count}"),
        Row(label, "  and recorded as linked by SaaSus", f"{w.linked}/{len(ok)}", f"= {len(ok)}", w.linked == len(ok)),
    ]
    if first_failure:
        rows.append(Row(label, "  first failure", first_failure[:70]))
    if ok:
        times = [r.ended - r.started for r in ok]
        rows.append(Row(label, "journey time, median / max", f"{median(times):.2f} s / {max(times):.2f} s"))
    rows += [
        Row(label, "wave duration (all journeys)", f"{w.end - w.start:.2f} s"),
        Row(label, "SaaSus calls answered after the delay", str(w.slow_calls)),
        Row(label, "pass-through requests during the wave", str(len(during)), "> 0", bool(during)),
        Row(label, "pass-through errors (non-200)", str(errors), "= 0", errors == 0),
    ]
    if before:
        rows.append(Row(label, "pass-through p99 before the wave (idle)", f"{percentile(before, 99) * 1e3:.1f} ms"))
    if during:
        p99 = percentile(during, 99) * 1e3
        rows += [
            Row(label, "pass-through p50 during the wave", f"{percentile(during, 50) * 1e3:.1f} ms"),
            check(label, "pass-through p99 during the wave (ms)", p99, ".1f", le=50.0, judged=judged),
            Row(label, "pass-through max during the wave", f"{max(during) * 1e3:.1f} ms"),
        ]
    alive = w.server.alive_at_end
    rows.append(Row(label, "uvicorn still running at the end", "yes" if alive else "no", "yes", alive))
    if not alive or len(ok) < w.count:
        print(w.server.output[-3000:], file=sys.stderr)
    return rows


def run(smoke: bool = False, tenants: int = 3, label: str = SCENARIO, judge_latency: bool = True) -> list[Row]:
    """``tenants``: how many tenants each buyer has (3 for the target; 1,000 shows the SDK's cost)."""
    count, delay, interval, baseline = (3, 0.05, 0.02, 0.2) if smoke else (50, 0.3, 0.005, 1.0)
    deadline = 60 if smoke else 120  # no journey, nor the whole wave, may take longer
    w = wave(count, delay, interval, baseline, deadline, tenants)
    return rows_for(w, label, judge_latency and not smoke)


if __name__ == "__main__":
    sys.exit(scenario_main(run))
