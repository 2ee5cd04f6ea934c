"""A short run of the fuzz driver (the long one is `make fuzz`)."""

from __future__ import annotations

from .fuzz import run


def test_mutated_requests_get_answers_never_5xx_or_exceptions() -> None:
    requests, server_errors, unhandled = run(2000, seed=1, quiet=True)
    assert (requests, server_errors, unhandled) == (2000, 0, 0)
