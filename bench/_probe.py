"""Pass-through probe, run as its own process so its clock is not held up by the GIL of the
process that drives the journeys: ``GET path`` over one keep-alive connection every
``interval`` seconds until a line arrives on stdin (or ``limit`` seconds pass), then print
``[[sent_at (time.monotonic), latency_s, status], ...]`` as JSON.

    python bench/_probe.py http://127.0.0.1:8000/ 0.005 60
"""

from __future__ import annotations

import http.client
import json
import select
import sys
import time
from urllib.parse import urlsplit


def main() -> None:
    url, interval, limit = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    parts = urlsplit(url)
    path = parts.path or "/"
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    samples: list[tuple[float, float, int]] = []
    print("ready", flush=True)
    start = time.monotonic()
    next_at = start
    while time.monotonic() - start < limit:
        wait = max(0.0, next_at - time.monotonic())
        if select.select([sys.stdin], [], [], wait)[0]:
            break  # told to stop
        sent = time.monotonic()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
            status = 0
        samples.append((sent, time.monotonic() - sent, status))
        next_at = max(next_at + interval, sent)  # fixed pace; never a burst to catch up
    conn.close()
    print(json.dumps(samples), flush=True)


if __name__ == "__main__":
    main()
