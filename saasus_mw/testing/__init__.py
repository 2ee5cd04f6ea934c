"""Test support for saasus_mw: a stand-in SaaSus API server on loopback.

with SaaSusStandIn() as saasus:
    user = saasus.add_user("buyer@example.com", ["Acme"])
    os.environ["SAASUS_BASE_URL"] = saasus.base_url
"""

from saasus_mw.testing.standin import ENDPOINTS, Call, Listing, Plan, SaaSusStandIn, Tenant, User

__all__ = ["ENDPOINTS", "Call", "Listing", "Plan", "SaaSusStandIn", "Tenant", "User"]
