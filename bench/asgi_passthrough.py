"""Target 1 - ASGI pass-through, in process.

Each variant is called directly, ``await app(scope, receive, send)`` in a loop
inside one asyncio event loop, with a prepared scope for a path that is not the
callback path and no-op ``receive``/``send``. Two contexts:

* around a minimal Starlette app (one route answering "ok"): the ratio
  wrapped / bare that a host app would see (target ≤ 1.04);
* around a no-op ASGI app: the middleware's own added cost, measured without
  the host app's noise, compared with starlette's ``TrustedHostMiddleware``
  (target: at most 0.2 times its cost) and with a plain class that only compares the path.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bench.common import Row, Runner, interleave, passthrough_plan, passthrough_rows, scenario_main
from saasus_mw import MarketplaceMiddleware, Settings

SCENARIO = "1 ASGI"
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def bench_settings() -> Settings:
    """Enabled middleware with complete credentials; nothing here ever reaches SaaSus."""
    return Settings.load(
        environ={},
        saasus_saas_id="saas-bench",
        saasus_api_key="key-bench",
        saasus_secret_key="secret-bench-0123456789",  # noqa: S106 - never leaves this process
        saasus_base_url="http://127.0.0.1:9/v1",
    )


class PathOnly:
    """The least a path-routed middleware can do: compare the path, then call the app."""

    def __init__(self, app: ASGIApp, path: str = "/callback") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            raise NotImplementedError  # a real one would answer here
        await self.app(scope, receive, send)


async def _items(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def starlette_app() -> Starlette:
    return Starlette(routes=[Route("/api/items", _items)])


async def noop_app(scope: Any, receive: Any, send: Any) -> None:
    return None


SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/api/items",
    "raw_path": b"/api/items",
    "root_path": "",
    "query_string": b"page=2",
    "headers": [
        (b"host", b"example.com"),
        (b"user-agent", b"bench/1.0"),
        (b"accept", b"text/html,application/xhtml+xml"),
        (b"accept-encoding", b"gzip, deflate"),
        (b"cookie", b"session=abc123"),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "state": {},
}

_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def receive() -> Any:
    return _REQUEST


async def send(message: Any) -> None:
    return None


def _runner(loop: asyncio.AbstractEventLoop, app: ASGIApp, *, copy_scope: bool) -> Runner:
    """``n`` calls of ``app`` timed inside the loop (the loop's own start-up is not timed)."""
    from time import perf_counter  # noqa: PLC0415

    async def batch(n: int) -> float:
        scope = SCOPE
        if copy_scope:  # Starlette writes into the scope: give it a fresh one, as a server does
            start = perf_counter()
            for _ in range(n):
                await app(dict(scope), receive, send)
            return perf_counter() - start
        start = perf_counter()
        for _ in range(n):
            await app(scope, receive, send)
        return perf_counter() - start

    return lambda n: loop.run_until_complete(batch(n))


async def _status(app: ASGIApp, scope: dict[str, Any]) -> int:
    sent: list[dict[str, Any]] = []

    async def capture(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, capture)
    return int(sent[0]["status"]) if sent else 0


def run(smoke: bool = False) -> list[Row]:
    settings = bench_settings()
    host = starlette_app()
    apps: dict[str, ASGIApp] = {
        "starlette": host,
        "starlette+saasus_mw": MarketplaceMiddleware(host, settings=settings),
        "starlette+TrustedHost": TrustedHostMiddleware(host, allowed_hosts=["example.com"]),
        "starlette+PathOnly": PathOnly(host),
    }
    noops: dict[str, ASGIApp] = {
        "noop": noop_app,
        "noop+saasus_mw": MarketplaceMiddleware(noop_app, settings=settings),
        "noop+TrustedHost": TrustedHostMiddleware(noop_app, allowed_hosts=["example.com"]),
        "noop+PathOnly": PathOnly(noop_app),
    }
    loop = asyncio.new_event_loop()
    try:
        # It works: every variant answers the request, and the middleware passes it through.
        statuses = {name: loop.run_until_complete(_status(app, SCOPE)) for name, app in apps.items()}
        works = all(s == 200 for s in statuses.values())
        rounds, warmup, batch, noop_batch = passthrough_plan(smoke)
        host_t = interleave(
            {n: _runner(loop, a, copy_scope=True) for n, a in apps.items()},
            rounds=rounds,
            warmup=warmup,
            batch_seconds=batch,
            calibrate_on="starlette+TrustedHost",
        )
        noop_t = interleave(
            {n: _runner(loop, a, copy_scope=False) for n, a in noops.items()},
            rounds=rounds,
            warmup=warmup,
            batch_seconds=noop_batch,
            calibrate_on="noop+TrustedHost",
        )
    finally:
        loop.close()

    return passthrough_rows(
        SCENARIO,
        host_t,
        noop_t,
        works,
        statuses,
        host="starlette",
        peer="TrustedHost",
        peer_label="TrustedHostMiddleware",
        judged=not smoke,
    )


if __name__ == "__main__":
    sys.exit(scenario_main(run))
