"""examples/wsgi_app.py as served in the across-workers scenario, behind one outer layer
that only adds the answering process's pid as a response header (nothing else changes)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from bench.common import PID_HEADER
from examples.wsgi_app import app as example_app


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    def start_with_pid(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, (PID_HEADER, str(os.getpid()))], exc_info)

    return example_app(environ, start_with_pid)
