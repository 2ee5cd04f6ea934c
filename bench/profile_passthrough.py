"""Where the pass-through time goes: ``python -m bench.profile_passthrough``.

Not a target, a tool (docs/performance.md quotes it). Two views:

1. cProfile of many pass-through calls of each adapter around a no-op app: which
   functions run at all on the hot path, and their own time.
2. A line-by-line decomposition: wrappers that add one piece of the hot path at a
   time (an empty wrapper, then the path test), timed interleaved like the
   targets, beside the shipped middleware and an earlier version, so each
   line's cost is the difference between two neighbours.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import asgi_passthrough as A
from bench import wsgi_passthrough as W
from bench.common import interleave
from saasus_mw import MarketplaceMiddleware, MarketplaceWSGIMiddleware

PATH = "/callback"


# -- ASGI: the hot path, one piece at a time ------------------------------------------


class A0Empty:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class A1PathTest(A0Empty):
    """The shipped hot path: the type (lifespan scopes have no path) and one substring test."""

    _path = PATH

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self._path in scope["path"]:
            raise NotImplementedError
        await self.app(scope, receive, send)


class V1TypeEndswith(A0Empty):
    """An earlier version: type check, endswith and the enabled check on every request."""

    _path = PATH
    _flow = object()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(self._path) or self._flow is None:
            await self.app(scope, receive, send)
            return
        raise NotImplementedError


# -- WSGI ------------------------------------------------------------------------------


class W0Empty:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


class W1Compare(W0Empty):
    _path = PATH

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if environ.get("PATH_INFO") != self._path:
            return self.app(environ, start_response)
        raise NotImplementedError


def _cprofile_asgi(app: Any, calls: int) -> str:
    loop = asyncio.new_event_loop()

    async def many() -> None:
        for _ in range(calls):
            await app(A.SCOPE, A.receive, A.send)

    profile = cProfile.Profile()
    profile.enable()
    loop.run_until_complete(many())
    profile.disable()
    loop.close()
    return _top(profile)


def _cprofile_wsgi(app: Any, environ: dict[str, Any], calls: int) -> str:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(calls):
        for _chunk in app(environ, W.start_response):
            pass
    profile.disable()
    return _top(profile)


def _top(profile: cProfile.Profile) -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(6)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls"))
    return "\n".join(lines[start:])


def main() -> None:
    calls = 200_000
    settings = A.bench_settings()
    asgi_mw = MarketplaceMiddleware(A.noop_app, settings=settings)
    wsgi_mw = MarketplaceWSGIMiddleware(W.noop_app, settings=settings)
    environ = W.make_environ()

    print(f"## cProfile, ASGI pass-through, {calls:,} calls around a no-op app\n")
    print(_cprofile_asgi(asgi_mw, calls))
    print(f"\n## cProfile, WSGI pass-through, {calls:,} calls around a no-op app\n")
    print(_cprofile_wsgi(wsgi_mw, environ, calls))

    loop = asyncio.new_event_loop()
    asgi: dict[str, Any] = {
        "no-op app alone": A.noop_app,
        "+ empty async wrapper (frame + await)": A0Empty(A.noop_app),
        "+ type check and `self._path in scope['path']` (= shipped logic)": A1PathTest(A.noop_app),
        "saasus_mw MarketplaceMiddleware as shipped": asgi_mw,
        "earlier version: type check + endswith + enabled check": V1TypeEndswith(A.noop_app),
    }
    t = interleave(
        {k: A._runner(loop, v, copy_scope=False) for k, v in asgi.items()},
        rounds=61,
        warmup=5,
        batch_seconds=0.01,
        calibrate_on="saasus_mw MarketplaceMiddleware as shipped",
    )
    loop.close()
    print("\n## ASGI hot path, piece by piece (median ns per call; added = minus the no-op app)\n")
    print("| step | ns per call | added |\n|---|---|---|")
    for name in asgi:
        print(f"| {name} | {t.median(name) * 1e9:.0f} | {t.added(name, 'no-op app alone') * 1e9:.0f} |")

    wsgi: dict[str, Any] = {
        "no-op app alone": W.noop_app,
        "+ empty wrapper (call)": W0Empty(W.noop_app),
        "+ PATH_INFO compare (= shipped logic)": W1Compare(W.noop_app),
        "saasus_mw MarketplaceWSGIMiddleware as shipped": wsgi_mw,
    }
    t = interleave(
        {k: W._runner(v, environ, copy_environ=False) for k, v in wsgi.items()},
        rounds=61,
        warmup=5,
        batch_seconds=0.01,
        calibrate_on="saasus_mw MarketplaceWSGIMiddleware as shipped",
    )
    print("\n## WSGI hot path, piece by piece (median ns per call; added = minus the no-op app)\n")
    print("| step | ns per call | added |\n|---|---|---|")
    for name in wsgi:
        print(f"| {name} | {t.median(name) * 1e9:.0f} | {t.added(name, 'no-op app alone') * 1e9:.0f} |")


if __name__ == "__main__":
    main()
