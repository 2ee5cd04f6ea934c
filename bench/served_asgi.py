"""examples/starlette_app.py as served in the across-workers scenario, behind one outer layer
that only adds the answering process's pid as a response header (nothing else changes)."""

from __future__ import annotations

import os
from typing import Any

from bench.common import PID_HEADER
from examples.starlette_app import app as example_app


class _WithPid:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_pid(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (PID_HEADER.encode(), str(os.getpid()).encode())],
                }
            await send(message)

        await self.app(scope, receive, send_with_pid)


app = _WithPid(example_app)
