"""The stand-in's Auth API: codes and tokens, user info, auth info, and the hosted login page."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from .model import Answer, Call, Config, Store, User, b64, error, json_fields, new_id, ok

CREATED_CODE_LIFETIME = 10.0  # seconds, as SaaSus documents for CreateAuthCredentials


class AuthApi:
    """``/v1/auth/...`` and ``/login``; every method runs with the store's lock held."""

    def __init__(self, config: Config, store: Store) -> None:
        self._config, self._store = config, store

    def mint(self, user: User, kind: str, size: int | None = None) -> str:
        config = self._config
        header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "saasus-standin"}).encode())
        claims = {
            "sub": user.id,
            "email": user.email,
            "token_use": kind,
            "jti": new_id(),
            "iss": config.url,
            "exp": int(time.time()) + 3600,
            "pad": "",
        }
        # Real Cognito tokens are large; padding them exercises cookie-size limits.
        room = ((size or config.token_size) - len(header) - 43 - 2) * 3 // 4
        # Random, not "xxx": real tokens do not compress, and the cookie-size
        # test must not pass only because zlib shrank the padding to nothing.
        claims["pad"] = secrets.token_urlsafe(room)[: max(0, room - len(json.dumps(claims)))]
        signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
        sig = hmac.new(config.secret_key.encode(), signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{b64(sig)}"
        self._store.tokens[token] = (user.id, kind)
        return token

    def credentials(self, call: Call) -> Answer:
        store = self._store
        flow = call.query.get("auth-flow", ["tempCodeAuth"])[-1]
        if flow == "refreshTokenAuth":
            user = store.user_for(call.query.get("refresh-token", [""])[0], "refresh")
            if user is None:
                return error(404, "not_found", "unknown refresh token")
            return ok({"id_token": self.mint(user, "id"), "access_token": self.mint(user, "access")})
        if flow != "tempCodeAuth":
            return error(400, "invalid_request", f"unsupported auth-flow: {flow}")
        code = call.query.get("code", [""])[0]
        if not code:
            return error(400, "invalid_request", "code is required")
        user_id, stored, expires = store.codes.pop(code, ("", None, None))  # single use
        if user_id not in store.users or (expires is not None and time.monotonic() > expires):
            return error(404, "not_found", "unknown, expired or already used code")
        if stored is not None:  # a code from CreateAuthCredentials: the tokens stored with it
            return ok(stored)
        user = store.users[user_id]
        return ok(
            {
                "id_token": self.mint(user, "id"),
                "access_token": self.mint(user, "access"),
                "refresh_token": self.mint(user, "refresh", self._config.refresh_token_size),
            }
        )

    def create_credentials(self, call: Call) -> Answer:
        """CreateAuthCredentials: store the tokens, answer a temp code valid for 10 seconds."""
        store = self._store
        param = json_fields(call, ("id_token", "access_token"))
        if param is None:
            return error(400, "invalid_request", "expected JSON with id_token and access_token")
        user = store.user_for(param["id_token"], "id")
        if user is None or store.user_for(param["access_token"], "access") is not user:
            return error(401, "invalid_token", "unknown tokens, or tokens of different users")
        stored = dict(param)
        refresh = json.loads(call.body).get("refresh_token")
        if refresh is not None:
            if store.user_for(refresh, "refresh") is not user:
                return error(401, "invalid_token", "unknown refresh token")
            stored["refresh_token"] = refresh
        code = new_id()
        store.codes[code] = (user.id, stored, time.monotonic() + CREATED_CODE_LIFETIME)
        return ok({"code": code}, status=201)

    def userinfo(self, call: Call) -> Answer:
        user = self._store.user_for(call.query.get("token", [""])[0], "id")
        if user is None:
            return error(401, "invalid_token", "unknown or non-ID token")
        tenants = []
        for t in user.tenants:
            roles = [{"role_name": r, "display_name": r.title()} for r in t.roles]
            tenant: dict[str, Any] = {
                "id": t.id,
                "name": t.name,
                "completed_sign_up": t.completed_sign_up,
                "envs": [{"id": 1, "name": "prod", "display_name": "Production", "roles": roles}],
                "user_attribute": {},
                "back_office_staff_email": "staff@example.com",
            }
            if t.plan_id is not None:  # optional in the spec, StrictStr in the SDK: omit, never null
                tenant["plan_id"] = t.plan_id
            tenants.append(tenant)
        info = {"id": user.id, "email": user.email, "sign_in_id": user.sign_in_id, "user_attribute": {}}
        return ok({**info, "tenants": tenants})

    def auth_info(self, call: Call) -> Answer:
        return ok({"callback_url": self._config.callback_url})

    def login(self, call: Call) -> Answer:
        """The hosted login: pick a user, come back to ``redirect_uri`` with a code (and a token)."""
        redirect_uri = call.query.get("redirect_uri", [""])[0]
        if not redirect_uri:
            return page(400, "Bad request", "<p>redirect_uri is required.</p>")
        marketplace = call.query.get("marketplace", [""])[0] in ("1", "true")
        name = call.query.get("email", [""])[0]
        users = sorted(self._store.users.values(), key=lambda u: u.login_name)
        if not name:
            items = "".join(
                # Relative, so the page works under whatever host name the browser used.
                f'<li><a href="{html.escape(login_path(redirect_uri, u.login_name, marketplace))}">'
                f"{html.escape(u.login_name)}</a></li>"
                for u in users
            )
            return page(200, "Sign in", f"<p>Choose a user:</p><ul>{items}</ul>")
        user = next((u for u in users if u.login_name == name), None)
        if user is None:
            return page(404, "Unknown user", f"<p>No user {html.escape(name)}.</p>")
        params = {"code": self._store.issue_code(user)}
        if marketplace:
            params["registration_token"] = self._store.issue_registration_token()
        parts = urlsplit(redirect_uri)
        query = "&".join(q for q in (parts.query, urlencode(params)) if q)
        return Answer(302, content_type="text/html; charset=utf-8", location=urlunsplit(parts._replace(query=query)))


def page(status: int, title: str, content: str) -> Answer:
    body = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><h1>SaaSus stand-in: {title}</h1>{content}</body></html>"
    )
    return Answer(status, body.encode(), "text/html; charset=utf-8")


def login_path(redirect_uri: str, email: str | None, marketplace: bool) -> str:
    params = {"redirect_uri": redirect_uri}
    if email is not None:
        params["email"] = email
    if marketplace:
        params["marketplace"] = "1"
    return f"/login?{urlencode(params)}"
