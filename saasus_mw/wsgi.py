"""WSGI adapter: translates environ/start_response to the core and back."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING

from .middleware import Middleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment  # noqa: F401 - used in a string

    from .pages import Response

__all__ = ["MarketplaceWSGIMiddleware"]

# The request headers the core reads, as PEP 3333 names them.
_ENVIRON_KEYS = {
    "cookie": "HTTP_COOKIE",
    "content-type": "CONTENT_TYPE",
    "host": "HTTP_HOST",
    "origin": "HTTP_ORIGIN",
    "sec-fetch-site": "HTTP_SEC_FETCH_SITE",
    "accept-language": "HTTP_ACCEPT_LANGUAGE",
    "accept-encoding": "HTTP_ACCEPT_ENCODING",
}


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
        if flow is None:
            return self.app(environ, start_response)
        request = flow.request(
            environ["REQUEST_METHOD"],
            environ.get("SCRIPT_NAME", ""),
            environ.get("QUERY_STRING", ""),
            environ.get("wsgi.url_scheme", "http"),
            lambda name: environ.get(_ENVIRON_KEYS[name]),
        )
        step = flow.step(request)
        if step is None:
            return self.app(environ, start_response)
        if flow.wants_body(step):
            # werkzeug loads its dev server with it (~100 ms): not at import, only for a POST.
            from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge  # noqa: PLC0415
            from werkzeug.wsgi import get_input_stream  # noqa: PLC0415

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
                return self._respond(response, start_response)
            request = dataclasses.replace(request, body=body)
        waited = 0.0
        while (response := flow.handle(step, request, waited)).wait:
            # Another request is completing this purchase: WSGI has no other thread to give back.
            time.sleep(response.wait)
            waited += response.wait
        return self._respond(response, start_response)

    @staticmethod
    def _respond(response: Response, start_response: StartResponse) -> Iterable[bytes]:
        status = HTTPStatus(response.status)
        start_response(f"{status.value} {status.phrase}", response.headers)
        return [response.body]
