"""Where a 1,000-tenant picker's CPU goes: ``python -m bench.profile_picker``.

Not a target, a tool (docs/performance.md quotes it). The real :class:`~saasus_mw.flow.Flow`
and the real SaaSus client (SDK, urllib3, our JSON readers) against the stand-in in its
own process (``bench/_standin_1000.py``, as the "picker in all" figure uses), with every
SaaSus call of a step run inline in the calling thread, so that cProfile (which sees one
thread) sees all of the middleware's work: the HTTP answers read, userinfo and the
``/customers`` answers parsed, the tenants sorted, the page rendered and gzipped.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.picker_cpu import BROWSER_ENCODINGS, HOST, TENANTS, make_request, settings, standin_1000
from saasus_mw import saasus as saasus_module
from saasus_mw.flow import Flow, Step

PICKERS = 40


def main() -> int:
    with standin_1000(1) as info:
        flow = Flow(settings(info["base_url"]))
        ((code, token),) = info["journeys"]
        query = urlencode({"code": code, "registration_token": token})
        response = flow.handle(Step.START, make_request(method="GET", root_path="", query_string=query, host=HOST))
        cookie = "; ".join(v.split(";", 1)[0] for k, v in response.headers if k == "set-cookie")
        picker = make_request(
            method="GET",
            root_path="",
            query_string="saasus_mw=select",
            cookie=cookie,
            host=HOST,
            accept_encoding=BROWSER_ENCODINGS,
        )
        saasus_module._IN_POOL.active = True  # every call inline: one thread for cProfile to see
        for _ in range(3):  # warm: connections, templates
            flow.handle(Step.PICKER, picker)
        profiler = cProfile.Profile(time.process_time)  # CPU, not waits: the machine may be busy
        profiler.enable()
        for _ in range(PICKERS):
            response = flow.handle(Step.PICKER, picker)
        profiler.disable()
    if response.status != 200:
        print(f"the picker answered {response.status}", file=sys.stderr)
        return 1
    print(f"# {PICKERS} pickers of a user in {TENANTS:,} tenants, gzip (wire: {len(response.body):,} bytes)\n")
    for order, limit in (("cumulative", 45), ("tottime", 25)):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(limit)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
