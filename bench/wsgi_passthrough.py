"""Target 2 - WSGI pass-through, in process.

Each variant is called directly, ``app(environ, start_response)`` with the
body iterable consumed and closed, for a path that is not the callback path.
Two contexts:

* around a minimal werkzeug app (``@Request.application`` answering "ok"):
  the ratio wrapped / bare (target ≤ 1.04);
* around a no-op WSGI app: the added cost of the middleware, of werkzeug's
  ``ProxyFix`` (with the X-Forwarded-* headers a proxy sends, so it does its
  work) and of a plain class whose ``__call__`` only compares PATH_INFO.
  Targets: at most 0.2 times ProxyFix's, and - the team's reading of the WSGI
  target - at most 1.5 times the compare-PATH_INFO-only class's.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from time import perf_counter
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from bench.asgi_passthrough import bench_settings
from bench.common import Row, Runner, interleave, passthrough_plan, passthrough_rows, scenario_main
from saasus_mw import MarketplaceWSGIMiddleware

SCENARIO = "2 WSGI"
WSGIApp = Callable[[Any, Any], Iterable[bytes]]


class PathOnly:
    """A plain class whose ``__call__`` only compares PATH_INFO, then calls the app."""

    def __init__(self, app: WSGIApp, path: str = "/callback") -> None:
        self.app = app
        self.path = path

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == self.path:
            raise NotImplementedError  # a real one would answer here
        return self.app(environ, start_response)


@Request.application
def werkzeug_app(request: Request) -> Response:
    return Response("ok")


_BODY = [b"ok"]


def noop_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    return _BODY


def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
    return _write


def _write(data: bytes) -> None:
    return None


def make_environ() -> dict[str, Any]:
    environ: dict[str, Any] = EnvironBuilder(
        path="/api/items",
        query_string="page=2",
        base_url="http://example.com",
        headers=[
            ("User-Agent", "bench/1.0"),
            ("Accept", "text/html,application/xhtml+xml"),
            ("Accept-Encoding", "gzip, deflate"),
            ("Cookie", "session=abc123"),
            ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"),
        ],
    ).get_environ()
    environ["REMOTE_ADDR"] = "127.0.0.1"
    return environ


def _runner(app: WSGIApp, environ: dict[str, Any], *, copy_environ: bool) -> Runner:
    def run(n: int) -> float:
        if copy_environ:  # werkzeug and ProxyFix write into the environ: a fresh one per request, as a server gives
            start = perf_counter()
            for _ in range(n):
                body = app(environ.copy(), start_response)
                for _chunk in body:
                    pass
                close = getattr(body, "close", None)
                if close is not None:
                    close()
            return perf_counter() - start
        start = perf_counter()
        for _ in range(n):
            for _chunk in app(environ, start_response):
                pass
        return perf_counter() - start

    return run


def _status(app: WSGIApp, environ: dict[str, Any]) -> str:
    seen: list[str] = []

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        seen.append(status)
        return _write

    body = app(environ.copy(), capture)
    b"".join(body)
    getattr(body, "close", lambda: None)()
    return seen[0] if seen else ""


def run(smoke: bool = False) -> list[Row]:
    settings = bench_settings()
    environ = make_environ()
    apps: dict[str, WSGIApp] = {
        "werkzeug": werkzeug_app,
        "werkzeug+saasus_mw": MarketplaceWSGIMiddleware(werkzeug_app, settings=settings),
        "werkzeug+ProxyFix": ProxyFix(werkzeug_app, x_for=1, x_proto=1),
        "werkzeug+PathOnly": PathOnly(werkzeug_app),
    }
    noops: dict[str, WSGIApp] = {
        "noop": noop_app,
        "noop+saasus_mw": MarketplaceWSGIMiddleware(noop_app, settings=settings),
        "noop+ProxyFix": ProxyFix(noop_app, x_for=1, x_proto=1),
        "noop+PathOnly": PathOnly(noop_app),
    }
    statuses = {name: _status(app, environ) for name, app in apps.items()}
    works = all(s == "200 OK" for s in statuses.values())
    rounds, warmup, batch, noop_batch = passthrough_plan(smoke)
    host_t = interleave(
        {n: _runner(a, environ, copy_environ=True) for n, a in apps.items()},
        rounds=rounds,
        warmup=warmup,
        batch_seconds=batch,
        calibrate_on="werkzeug+ProxyFix",
    )
    # ProxyFix writes into the environ: the no-op context gives it a fresh copy too,
    # and the others the same copy, so the copy cancels out of every difference.
    noop_t = interleave(
        {n: _runner(a, environ, copy_environ=True) for n, a in noops.items()},
        rounds=rounds,
        warmup=warmup,
        batch_seconds=noop_batch,
        calibrate_on="noop+ProxyFix",
    )

    # The team reads the WSGI target as "within 1.5 x a class that only compares PATH_INFO".
    return passthrough_rows(
        SCENARIO,
        host_t,
        noop_t,
        works,
        statuses,
        host="werkzeug",
        peer="ProxyFix",
        peer_label="ProxyFix (X-Forwarded-For/Proto)",
        judged=not smoke,
        path_only_limit=1.5,
    )


if __name__ == "__main__":
    sys.exit(scenario_main(run))
