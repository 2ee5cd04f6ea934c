"""A marketplace journey over real HTTP, as a browser makes it, for the server scenarios.

callback (``GET /callback?code=…&registration_token=…``) -> picker page -> POST,
each answer checked. Self-contained on purpose: tests/ belongs to the test suite.
"""

from __future__ import annotations

import dataclasses
import re
import time
from urllib.parse import urlsplit

import httpx

from bench.common import PID_HEADER
from saasus_mw.testing import SaaSusStandIn, User

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclasses.dataclass
class Journey:
    ok: bool
    detail: str = ""
    registration_token: str = ""
    tenant_id: str = ""
    pids: tuple[str | None, str | None, str | None] = (None, None, None)  # callback, picker, POST
    started: float = 0.0
    ended: float = 0.0

    @property
    def crossed(self) -> bool:
        """The callback and the POST were answered by different worker processes."""
        first, _, last = self.pids
        return first is not None and last is not None and first != last


def journey(
    base_url: str,
    standin: SaaSusStandIn,
    user: User,
    tenant_index: int = 0,
    *,
    fresh_connections: bool = False,
    timeout: float = 30.0,
) -> Journey:
    """One whole journey; never raises (a failure is a Journey with ok=False)."""
    token = standin.issue_registration_token()
    tenant_id = user.tenants[tenant_index % len(user.tenants)].id
    result = Journey(ok=False, registration_token=token, tenant_id=tenant_id, started=time.monotonic())
    # No keep-alive at all: every request opens its own connection, so a pre-fork
    # server's processes each get their turn at accepting it.
    limits = httpx.Limits(max_keepalive_connections=0) if fresh_connections else httpx.Limits()
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    pids: list[str | None] = []
    try:
        with httpx.Client(base_url=base_url, timeout=timeout, limits=limits) as client:
            first = client.get("/callback", params={"code": standin.issue_code(user), "registration_token": token})
            pids.append(first.headers.get(PID_HEADER))
            if first.status_code != 303:
                result.detail = f"callback answered {first.status_code}"
                return result
            picker_url = first.headers["location"]
            page = client.get(picker_url)
            pids.append(page.headers.get(PID_HEADER))
            match = _CSRF.search(page.text)
            if page.status_code != 200 or match is None or tenant_id not in page.text:
                result.detail = f"picker answered {page.status_code}"
                return result
            done = client.post(
                picker_url,
                data={"csrf_token": match.group(1), "tenant_id": tenant_id},
                headers={"origin": origin, "sec-fetch-site": "same-origin"},
            )
            pids.append(done.headers.get(PID_HEADER))
            if done.status_code != 303 or done.headers.get("location") != "/welcome":
                result.detail = f"POST answered {done.status_code} -> {done.headers.get('location')}"
                return result
        result.ok = True
        return result
    except httpx.HTTPError as exc:
        result.detail = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        result.ended = time.monotonic()
        padded = [*pids, None, None, None]
        result.pids = (padded[0], padded[1], padded[2])


def linked_on_saasus(standin: SaaSusStandIn, journeys: list[Journey]) -> int:
    """How many of the successful journeys SaaSus (the stand-in) really recorded as links."""
    links = {(tenant, token) for tenant, _user, token in standin.links}
    return sum(1 for j in journeys if j.ok and (j.tenant_id, j.registration_token) in links)
