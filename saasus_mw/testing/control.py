"""The stand-in's own endpoints, outside the SaaSus API (``/v1``): for a tester at the command line.

``POST /_standin/reset`` forgets every purchase - which tenants have an AWS Marketplace
customer, the links and the tenants created - so the same users can buy again without a
restart. Each visit to the hosted login with ``marketplace=1`` already issues a fresh
registration token; this makes the tenants eligible again. Users and plans stay.
"""

from __future__ import annotations

from collections.abc import Callable

from .model import Answer, Call, Store, ok

RESET_PATH = "/_standin/reset"


class ControlApi:
    """Unsigned, as ``/login`` is; every method runs with the store's lock held."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def endpoints(self) -> dict[str, Callable[[Call], Answer]]:
        return {"standin_reset": self.reset}

    def reset(self, call: Call) -> Answer:
        store = self._store
        unlinked = len(store.customers)
        store.customers.clear()
        store.links.clear()
        store.created.clear()
        return ok({"unlinked_tenants": unlinked})
