"""The step lines of the ``saasus_mw`` logger under real servers, with the example log configurations.

The logger has no handler of its own (the host decides where logs go), so under
uvicorn and gunicorn its INFO lines are lost until configured: these are the
configurations docs/operators.md shows, loaded by the servers themselves.
"""

from __future__ import annotations

import sys
import time
from typing import IO

import httpx
import pytest

from saasus_mw.testing import SaaSusStandIn, User

from .conftest import begin, pick
from .servers import free_port, server_env, serving

CONFIG = "examples/logconfig"
COMMANDS = {
    "uvicorn": [
        sys.executable,
        "-m",
        "uvicorn",
        "examples.starlette_app:app",
        "--log-config",
        f"{CONFIG}/uvicorn.json",
    ],
    "gunicorn": [sys.executable, "-m", "gunicorn", "-c", f"{CONFIG}/gunicorn_conf.py", "examples.wsgi_app:app"],
    "uvicorn-unconfigured": [sys.executable, "-m", "uvicorn", "examples.starlette_app:app"],
}
BIND = {"gunicorn": ["--bind", "127.0.0.1:{port}"]}


def _journey(url: str, standin: SaaSusStandIn, buyer: User, log: IO[bytes]) -> str:
    with httpx.Client(base_url=url, timeout=10) as client:
        _, picker_url = begin(client, standin, buyer)
        assert pick(client, picker_url, buyer.tenants[0].id).status_code == 303
    deadline = time.monotonic() + 5
    while b"link" not in (output := _read(log)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the server writes its lines as they come
    return output.decode(errors="replace")


def _read(log: IO[bytes]) -> bytes:
    log.seek(0)
    return log.read()


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_the_example_log_config_shows_every_step(server: str, standin: SaaSusStandIn, buyer: User) -> None:
    port = free_port()
    bind = BIND.get(server, ["--host", "127.0.0.1", "--port", "{port}"])
    command = [part.format(port=port) for part in COMMANDS[server] + bind]
    with serving(command, server_env(standin), port) as log:
        output = _journey(f"http://127.0.0.1:{port}", standin, buyer, log)
    steps = [line for line in output.splitlines() if "saasus_mw: " in line]
    assert [line.split("saasus_mw: ")[1].split("  ")[0] for line in steps] == ["start ok", "picker ok", "link linked"]
    fields = ("step=link", "status=303", "duration_ms=", "journey=", "event=linked", f"tenant_id={buyer.tenants[0].id}")
    assert all(field in steps[-1] for field in fields), steps[-1]
    # The step lines carry a digest of the purchase, never a token or a code (access logs: issue 18's redaction).
    assert not any(secret in line for line in steps for secret in ("registration_token", "code="))


def test_without_a_log_config_the_steps_are_not_shown(standin: SaaSusStandIn, buyer: User) -> None:
    # Why the configuration above is needed: only WARNINGs reach Python's last-resort handler.
    port = free_port()
    command = [*COMMANDS["uvicorn-unconfigured"], "--host", "127.0.0.1", "--port", str(port)]
    with serving(command, server_env(standin), port) as log:
        output = _journey(f"http://127.0.0.1:{port}", standin, buyer, log)
    assert "saasus_mw: " not in output
