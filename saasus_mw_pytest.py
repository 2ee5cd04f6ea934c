"""saasus_mw's pytest plugin: the ``saasus_standin`` fixture, to test your own app's marketplace journey.

pytest loads it in every project where saasus_mw is installed (the ``pytest11``
entry point), so it lives outside the saasus_mw package, whose import loads the
SaaSus SDK: until a test asks for the fixture, nothing but this file is imported.
``-p no:saasus_mw`` leaves it out altogether.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from saasus_mw.testing import SaaSusStandIn

__all__ = ["saasus_standin"]


@pytest.fixture
def saasus_standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[SaaSusStandIn]:
    """A started :class:`~saasus_mw.testing.SaaSusStandIn` for this test.

    ``SAASUS_SAAS_ID``, ``SAASUS_API_KEY``, ``SAASUS_SECRET_KEY`` and
    ``SAASUS_BASE_URL`` point at it until the test ends, so a
    ``MarketplaceMiddleware(app)`` or ``MarketplaceWSGIMiddleware(app)`` built
    inside the test talks to it.
    """
    from pydantic.warnings import PydanticDeprecatedSince20  # noqa: PLC0415 - only for tests that use it

    from saasus_mw.testing import SaaSusStandIn  # noqa: PLC0415

    # saasus_mw hides the SDK's own deprecation warnings when it is imported, but
    # pytest resets the warning filters after each test: hide them again for this one.
    warnings.filterwarnings("ignore", category=PydanticDeprecatedSince20, module=r"saasus_sdk_python\.")
    with SaaSusStandIn() as standin:
        monkeypatch.setenv("SAASUS_SAAS_ID", standin.saas_id)
        monkeypatch.setenv("SAASUS_API_KEY", standin.api_key)
        monkeypatch.setenv("SAASUS_SECRET_KEY", standin.secret_key)
        monkeypatch.setenv("SAASUS_BASE_URL", standin.base_url)
        yield standin
