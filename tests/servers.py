"""Real server processes for the tests: started on a free loopback port, always stopped."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

from saasus_mw.testing import SaaSusStandIn

from .conftest import API_KEY, SAAS_ID, SECRET

ROOT = Path(__file__).resolve().parent.parent

# Debian's chromium, driven by Playwright through executable_path (never `playwright install`).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(standin: SaaSusStandIn, **extra: str) -> dict[str, str]:
    # Nothing from the outer environment may choose the app or its settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SAASUS_", "DJANGO_"))}
    env.update(
        SAASUS_SAAS_ID=SAAS_ID,
        SAASUS_API_KEY=API_KEY,
        SAASUS_SECRET_KEY=SECRET,
        SAASUS_BASE_URL=standin.base_url,
        SAASUS_MW_COOKIE_SECURE="false",  # plain http on loopback
        SAASUS_MW_SUCCESS_URL="/welcome",
        SAASUS_MW_TIMEOUT="5",
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], port: int, startup: float = 30) -> Iterator[IO[bytes]]:
    """Run ``command`` until http://127.0.0.1:port answers; yields its output file; always stops it."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below; an unread pipe could fill up and stall the server
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(log.read().decode(errors="replace")) from None
                time.sleep(0.1)
        yield log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


SERVERS = {
    "uvicorn": [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.starlette_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
    ],
    "gunicorn": [
        sys.executable,
        "-m",
        "gunicorn",
        "examples.wsgi_app:app",
        "--bind",
        "127.0.0.1:{port}",
        "--workers",
        "3",
        "--threads",
        "2",
    ],
}


@contextlib.contextmanager
def running(name: str, standin: SaaSusStandIn, *options: str, **env: str) -> Iterator[str]:
    """One of SERVERS serving the examples against ``standin``; yields its base URL."""
    port = free_port()
    command = [part.format(port=port) for part in SERVERS[name]] + list(options)
    with serving(command, server_env(standin, **env), port):
        yield f"http://127.0.0.1:{port}"
