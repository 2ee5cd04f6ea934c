"""Fuzz driver: mutated requests through both adapters, with a healthy SaaSus stand-in.

    python -m tests.fuzz --count 100000      # make fuzz
    python -m tests.fuzz --count 2000        # the short run inside make test

Seeds come from real journeys (valid codes, registration tokens, state cookies
and CSRF tokens), then cookies, forms, queries, methods, paths and headers are
mutated. The ASGI and WSGI apps are called directly (scope/receive/send and
environ/start_response) so that malformed input no HTTP client would send still
gets through. Prints the number of requests, of 5xx answers and of exceptions
that escaped the middleware; exits 1 unless both are 0.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import traceback
import uuid
from collections import Counter
from typing import Any

import anyio

from saasus_mw import MarketplaceMiddleware, MarketplaceWSGIMiddleware
from saasus_mw.testing import SaaSusStandIn, Tenant, User

from .conftest import ADAPTERS, API_KEY, SAAS_ID, SECRET, asgi_host, make_settings, parse_picker, wsgi_host

METHODS = ["GET", "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "get", "", "G\tT"]
PATHS = ["/callback"] * 24 + ["/callback/", "/Callback", "/callback%00", "/", "/other", "//callback", "/x/callback"]
CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "multipart/form-data; boundary=x",
    "text/plain",
    "",
    "application/x-www-form-urlencoded\x00",
]
ORIGINS = [None, None, "https://testserver", "https://evil.example", "null", "", "https://testserver:443", "\xff"]
FETCH_SITES = [None, None, "same-origin", "cross-site", "none", "same-site", "\x7f"]


class Seeds:
    """Valid material from real journeys, refreshed now and then."""

    def __init__(self, standin: SaaSusStandIn) -> None:
        self.standin = standin
        self.user = self._new_user()
        self.cookies: list[str] = []
        self.csrf: list[str] = []
        self.tokens: list[str] = []
        self.codes: list[str] = []

    def _new_user(self) -> User:
        names = ("A", "B", "株式会社")
        return self.standin.add_user(
            email=f"fuzz-{uuid.uuid4().hex[:8]}@example.com", tenants=[Tenant(name=n) for n in names]
        )

    def refresh(self, rng: random.Random) -> None:
        # Fuzzed POSTs do link tenants now and then: a fresh buyer keeps the picker offering some.
        self.user = self._new_user()
        for adapter in ADAPTERS.values():
            with adapter.connect(make_settings(self.standin)) as client:
                token = self.standin.issue_registration_token()
                start = client.get(
                    "/callback", params={"code": self.standin.issue_code(self.user), "registration_token": token}
                )
                picker = client.get(start.headers["location"])
                self.csrf.append(parse_picker(picker.text).inputs["csrf_token"])
                self.cookies.append("; ".join(f"{k}={v}" for k, v in client.cookies.items()))
                self.tokens.append(token)
        self.codes = [self.standin.issue_code(self.user) for _ in range(3)]
        for bucket in (self.cookies, self.csrf, self.tokens):
            del bucket[:-8]  # keep a few recent ones


def mutate(text: str, rng: random.Random) -> str:
    if not text:
        return rng.choice(["", "x", "\xff\xfe", "%", "=" * 10])
    choice = rng.randrange(8)
    i = rng.randrange(len(text))
    if choice == 0:
        return text[:i]
    if choice == 1:
        return text[:i] + rng.choice("xA0-_.=;%&\x00\xff ") + text[i + 1 :]
    if choice == 2:
        return text + text
    if choice == 3:
        return text[:i] + "%zz" + text[i:]
    if choice == 4:
        return text * rng.randint(50, 200)
    if choice == 5:
        return "".join(chr(rng.randrange(256)) for _ in range(rng.randint(1, 64)))
    if choice == 6:
        return text.upper()
    return text


def make_request(seeds: Seeds, rng: random.Random) -> dict[str, Any]:
    token = rng.choice([*seeds.tokens, str(uuid.uuid4()), "x"])
    code = rng.choice([*seeds.codes, str(uuid.uuid4()), ""])
    queries = [
        f"code={code}&registration_token={token}",
        "saasus_mw=select",
        "saasus_mw=select&saasus_mw=select",
        f"registration_token={token}",
        f"code={code}",
        "",
    ]
    query = rng.choice(queries)
    if rng.random() < 0.4:
        query = mutate(query, rng)
    cookie = rng.choice([*seeds.cookies, None, ""])
    if cookie and rng.random() < 0.5:
        cookie = mutate(cookie, rng)
    form = f"csrf_token={rng.choice(seeds.csrf)}&tenant_id={rng.choice(seeds.user.tenants).id}"
    body = form if rng.random() < 0.7 else rng.choice(["", "tenant_id=x", form + "&tenant_id=y", "a=" + "b" * 6000])
    if rng.random() < 0.3:
        body = mutate(body, rng)
    body_bytes = body.encode("latin-1", "replace")
    length: str | None = str(len(body_bytes))
    if rng.random() < 0.1:
        length = rng.choice([None, "abc", "-1", "99999999", str(len(body_bytes) + 10), "0"])
    return {
        "method": rng.choice(METHODS),
        "path": rng.choice(PATHS),
        "query": query,
        "cookie": cookie,
        "content_type": rng.choice(CONTENT_TYPES),
        "origin": rng.choice(ORIGINS),
        "sec_fetch_site": rng.choice(FETCH_SITES),
        "host": rng.choice(["testserver", "testserver:443", "", "evil.example"]),
        "body": body_bytes,
        "content_length": length,
        "chunks": rng.randint(1, 3),
    }


def _latin1(text: str) -> bytes:
    return text.encode("latin-1", "replace")


async def call_asgi(app: Any, r: dict[str, Any]) -> int:
    headers = [(b"host", _latin1(r["host"]))]
    for name in ("cookie", "origin", "sec_fetch_site", "content_type"):
        if r[name] is not None:
            headers.append((name.replace("_", "-").encode(), _latin1(r[name])))
    if r["content_length"] is not None:
        headers.append((b"content-length", r["content_length"].encode()))
    body, n = r["body"], r["chunks"]
    parts = [body[i * len(body) // n : (i + 1) * len(body) // n] for i in range(n)]
    messages = [{"type": "http.request", "body": p, "more_body": i < n - 1} for i, p in enumerate(parts)]
    messages.append({"type": "http.disconnect"})
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": r["method"],
        "scheme": "https",
        "path": r["path"],
        "raw_path": _latin1(r["path"]),
        "root_path": "",
        "query_string": _latin1(r["query"]),
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 443),
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if len(messages) > 1 else messages[0]

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def call_wsgi(app: Any, r: dict[str, Any]) -> int:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": r["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": r["path"],
        "QUERY_STRING": r["query"],
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": r["host"],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(r["body"]),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, key in (("cookie", "HTTP_COOKIE"), ("origin", "HTTP_ORIGIN"), ("sec_fetch_site", "HTTP_SEC_FETCH_SITE")):
        if r[name] is not None:
            environ[key] = r[name]
    if r["content_type"] is not None:
        environ["CONTENT_TYPE"] = r["content_type"]
    if r["content_length"] is not None:
        environ["CONTENT_LENGTH"] = r["content_length"]
    status = 0

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        nonlocal status
        status = int(line.split(maxsplit=1)[0])
        return lambda data: None

    result = app(environ, start_response)
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    return status


def run(count: int, seed: int = 0, quiet: bool = False) -> tuple[int, int, int]:
    rng = random.Random(seed)
    with SaaSusStandIn(saas_id=SAAS_ID, api_key=API_KEY, secret_key=SECRET, token_size=1024) as standin:
        seeds = Seeds(standin)
        seeds.refresh(rng)
        settings = make_settings(standin)
        asgi, wsgi = (
            MarketplaceMiddleware(asgi_host, settings=settings),
            MarketplaceWSGIMiddleware(wsgi_host, settings=settings),
        )
        statuses: Counter[int] = Counter()
        errors: Counter[str] = Counter()
        started = time.monotonic()

        async def drive() -> None:
            for i in range(count):
                if i and i % 2000 == 0:
                    await anyio.to_thread.run_sync(seeds.refresh, rng)
                    standin.reset()  # keep the stand-in's call log small
                request = make_request(seeds, rng)
                try:
                    if i % 2:
                        status = await anyio.to_thread.run_sync(call_wsgi, wsgi, request)
                    else:
                        status = await call_asgi(asgi, request)
                    statuses[status] += 1
                except Exception as exc:  # what we are looking for
                    frame = traceback.extract_tb(exc.__traceback__)[-1]
                    errors[f"{type(exc).__name__}: {str(exc)[:80]} at {frame.filename}:{frame.lineno}"] += 1

        anyio.run(drive)
        elapsed = time.monotonic() - started
    server_errors = sum(n for s, n in statuses.items() if s >= 500)
    unhandled = sum(errors.values())
    if not quiet:
        print(f"requests: {count}  5xx: {server_errors}  unhandled exceptions: {unhandled}  ({elapsed:.1f} s)")
        print("statuses:", dict(sorted(statuses.items())))
        for message, n in errors.most_common(10):
            print(f"  {n} x {message}")
    return count, server_errors, unhandled


def main() -> int:
    parser = argparse.ArgumentParser(description="Fuzz both adapters with mutated requests.")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    _, server_errors, unhandled = run(args.count, args.seed)
    return 0 if server_errors == 0 and unhandled == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
