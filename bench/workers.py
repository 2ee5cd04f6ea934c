"""Target 5 - journeys across worker processes: the state minted by one worker is honoured by another.

gunicorn with 4 workers serves, in turn, the ASGI example (examples/starlette_app.py
through uvicorn workers) and the WSGI example (examples/wsgi_app.py, sync workers),
each behind bench/served_*.py, an outer layer that only adds the answering pid as
a response header. 200 journeys per server, 8 at a time, with a new connection for
every request, so the kernel hands each one to whichever worker accepts first.
Targets: every journey succeeds; the table also counts the journeys whose callback
and POST were answered by different workers (and requires some).
"""

from __future__ import annotations

import concurrent.futures
import importlib.util
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import API_KEY, SAAS_ID, SECRET, Row, check, running, scenario_main, server_env
from bench.journeys import Journey, journey, linked_on_saasus
from saasus_mw.testing import SaaSusStandIn

SCENARIO = "5 workers"


def asgi_worker_class() -> str:
    # uvicorn's own uvicorn.workers is deprecated (it warns): prefer the uvicorn-worker package.
    return (
        "uvicorn_worker.UvicornWorker"
        if importlib.util.find_spec("uvicorn_worker")
        else "uvicorn.workers.UvicornWorker"
    )


def _has_option(flag: str) -> bool:
    from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]  # noqa: PLC0415

    return any(flag in (setting.cli or ()) for setting in KNOWN_SETTINGS)


def gunicorn(app: str, workers: int, worker_class: str | None = None) -> list[str]:
    command = [sys.executable, "-m", "gunicorn", app, "--bind", "127.0.0.1:{port}", "--workers", str(workers)]
    if _has_option("--no-control-socket"):
        # gunicorn 24+ opens a control socket at one fixed path per user: two servers
        # at once (the test suite's, ours) would share it.
        command.append("--no-control-socket")
    if worker_class:
        command += ["--worker-class", worker_class]
    return command


def _drive(url: str, standin: SaaSusStandIn, count: int, concurrency: int, deadline: float) -> list[Journey]:
    # One buyer per journey: a tenant already linked to another purchase is refused (409).
    tag = f"{time.monotonic_ns()}"
    users = [
        standin.add_user(email=f"w{tag}-{i}@example.com", tenants=["Globex", "Acme", "株式会社サンプル"])
        for i in range(count)
    ]
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        futures = [
            pool.submit(journey, url, standin, users[i], i, fresh_connections=True, timeout=30) for i in range(count)
        ]
        done, _ = concurrent.futures.wait(futures, timeout=deadline)
        return [f.result() for f in futures if f in done]


def run(smoke: bool = False) -> list[Row]:
    workers, count, concurrency, deadline = (2, 4, 4, 60) if smoke else (4, 200, 8, 180)
    judged = not smoke
    servers = {
        "ASGI": gunicorn("bench.served_asgi:app", workers, asgi_worker_class()),
        "WSGI": gunicorn("bench.served_wsgi:app", workers),
    }
    rows: list[Row] = [Row(SCENARIO, "ASGI worker class", asgi_worker_class())]
    with SaaSusStandIn(saas_id=SAAS_ID, api_key=API_KEY, secret_key=SECRET) as standin:
        for name, command in servers.items():
            with running(command, server_env(standin.base_url)) as server:
                start = time.monotonic()
                results = _drive(server.url, standin, count, concurrency, deadline)
                elapsed = time.monotonic() - start
                alive = server.alive
            text = server.output  # the whole log, shutdown included
            ok = [r for r in results if r.ok]
            crossed = [r for r in results if r.crossed]
            pids = {p for r in results for p in r.pids if p}
            linked = linked_on_saasus(standin, ok)
            warned = "warning" in text.lower()
            rate = 100.0 * len(ok) / count
            failure = next((r.detail for r in results if not r.ok), "")
            rows += [
                check(
                    SCENARIO, f"{name}: journeys succeeded (of {count})", len(ok), "d", ge=count, target=f"= {count}"
                ),
                check(SCENARIO, f"{name}: success rate (%)", rate, ".1f", ge=100.0, target="100.0"),
                Row(
                    SCENARIO,
                    f"{name}:   and recorded as linked by SaaSus",
                    f"{linked}/{len(ok)}",
                    f"= {len(ok)}",
                    linked == len(ok),
                ),
                Row(SCENARIO, f"{name}: workers that answered", f"{len(pids)} of {workers}"),
                Row(
                    SCENARIO,
                    f"{name}: callback and POST on different workers",
                    f"{len(crossed)} journeys",
                    "> 0",
                    len(crossed) > 0 if judged else None,
                ),
                Row(
                    SCENARIO,
                    f"{name}:   of those, succeeded",
                    f"{sum(r.ok for r in crossed)}/{len(crossed)}",
                    f"= {len(crossed)}",
                    all(r.ok for r in crossed),
                ),
                Row(SCENARIO, f"{name}: run time", f"{elapsed:.1f} s"),
                Row(SCENARIO, f"{name}: server log free of warnings", "no" if warned else "yes", "yes", not warned),
                Row(SCENARIO, f"{name}: server still running at the end", "yes" if alive else "no", "yes", alive),
            ]
            if failure:
                rows.append(Row(SCENARIO, f"{name}:   first failure", failure[:70]))
            if warned or not alive or len(ok) < count:
                print(text[-3000:], file=sys.stderr)
    return rows


if __name__ == "__main__":
    sys.exit(scenario_main(run))
