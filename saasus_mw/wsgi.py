"""WSGI adapter: translates environ/start_response to the core and back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from .flow import Middleware, Request, Step

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment  # noqa: F401 - used in a string

__all__ = ["MarketplaceWSGIMiddleware"]


class MarketplaceWSGIMiddleware(Middleware["WSGIApplication"]):
    """Wrap a WSGI app: ``app = MarketplaceWSGIMiddleware(app)``.

    Same settings and behaviour as :class:`~saasus_mw.MarketplaceMiddleware`;
    SaaSus calls run in the worker that serves the request.
    """

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        # The hot path: one comparison for every request.
        if environ.get("PATH_INFO") != self._path:
            return self.app(environ, start_response)
        flow = self._flow
        step = flow.step(environ["REQUEST_METHOD"], environ.get("QUERY_STRING", "")) if flow is not None else None
        if flow is None or step is None:
            return self.app(environ, start_response)

        request = Request(
            method=environ["REQUEST_METHOD"],
            root_path=environ.get("SCRIPT_NAME", ""),
            query_string=environ.get("QUERY_STRING", ""),
            cookie=environ.get("HTTP_COOKIE"),
            content_type=environ.get("CONTENT_TYPE"),
            host=environ.get("HTTP_HOST"),
            origin=environ.get("HTTP_ORIGIN"),
            sec_fetch_site=environ.get("HTTP_SEC_FETCH_SITE"),
            accept_language=environ.get("HTTP_ACCEPT_LANGUAGE"),
        )
        if step is Step.LINK:
            limit = flow.max_body
            try:
                # werkzeug bounds the read by Content-Length (refusing one above
                # the limit) or, for chunked bodies, by the limit; one byte more
                # than the limit tells "too large" from "exactly the limit".
                body = get_input_stream(environ, max_content_length=limit + 1).read(limit + 1)
            except RequestEntityTooLarge:
                body = None
            except ClientDisconnected:  # the body ended before its Content-Length
                body = b""
            if body is None or len(body) > limit:
                response = flow.too_large(request)
            else:
                response = flow.handle(step, dataclasses.replace(request, body=body))
        else:
            response = flow.handle(step, request)
        status = HTTPStatus(response.status)
        start_response(f"{status.value} {status.phrase}", response.headers)
        return [response.body]
