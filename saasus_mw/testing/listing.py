"""The stand-in's listing endpoints, which ``saasus-mw check --online`` reads for the listing readiness.

``GET /v1/auth/sign-in-settings``, ``GET /v1/awsmarketplace/settings``,
``GET /v1/awsmarketplace/listing-status`` and ``GET /v1/awsmarketplace/catalog-entity/visibility``,
answering what :class:`Listing` says (``standin.listing = Listing(self_sign_up=False)``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Protocol

from .model import Answer, Call, ok

__all__ = ["LISTING_STATUSES", "VISIBILITIES", "Listing", "ListingApi"]

# The enums of awsmarketplaceapi.yml: ListingStatus and VisibilityStatus.
LISTING_STATUSES = (
    "no_listing",
    "first_step_working",
    "first_step_completed",
    "second_step_working",
    "second_step_plan_created",
    "second_step_completed",
    "third_step_working",
    "third_step_completed",
    "limited",
    "restricted",
    "public",
)
VISIBILITIES = ("Public", "Limited", "Restricted")


@dataclasses.dataclass(frozen=True)
class Listing:
    """What the SaaSus console holds about the SaaS's listing; the default is ready for the integration test.

    ``product_code=""`` stands for AWS Marketplace settings never entered: every field of
    ``GET /awsmarketplace/settings`` is then empty.
    """

    self_sign_up: bool = True  # SignInSettings.self_regist.enable
    product_code: str = "standin0product0code0001"
    listing_status: str = "limited"
    visibility: str = "Limited"

    def __post_init__(self) -> None:
        if not isinstance(self.self_sign_up, bool) or not isinstance(self.product_code, str):
            raise TypeError("self_sign_up must be a bool and product_code a string")
        if self.listing_status not in LISTING_STATUSES:
            raise ValueError(
                f"listing_status must be one of the spec's {LISTING_STATUSES}, not {self.listing_status!r}"
            )
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of the spec's {VISIBILITIES}, not {self.visibility!r}")


class _Holder(Protocol):
    listing: Listing  # the stand-in's: replaced by tests at any time, so read on every call


class ListingApi:
    """The four read-only listing endpoints; every method runs with the store's lock held."""

    def __init__(self, standin: _Holder) -> None:
        self._standin = standin

    def endpoints(self) -> dict[str, Callable[[Call], Answer]]:
        """The stand-in's endpoint names (faults.ENDPOINTS, server.ROUTES) -> their handlers."""
        return {
            "sign_in_settings": self.sign_in_settings,
            "marketplace_settings": self.settings,
            "listing_status": self.listing_status,
            "visibility": self.visibility,
        }

    def sign_in_settings(self, call: Call) -> Answer:
        """GetSignInSettings: every required field of SignInSettings, self sign-up as set."""
        return ok(
            {
                "password_policy": {
                    "minimum_length": 8,
                    "is_require_lowercase": True,
                    "is_require_numbers": True,
                    "is_require_symbols": False,
                    "is_require_uppercase": True,
                    "temporary_password_validity_days": 7,
                },
                "device_configuration": {"device_remembering": "no"},
                "mfa_configuration": {"mfa_configuration": "optional"},
                "recaptcha_props": {"site_key": "", "secret_key": ""},
                "account_verification": {"verification_method": "code", "sending_to": "email"},
                "self_regist": {"enable": self._standin.listing.self_sign_up},
                "identity_provider_configuration": {"domain": "", "redirect_url": "", "entity_id": "", "reply_url": ""},
            }
        )

    def settings(self, call: Call) -> Answer:
        """GetSettings (AWS Marketplace): all empty until a product code is entered."""
        code = self._standin.listing.product_code
        account, region = "123456789012", "us-east-1"
        values = {
            "product_code": code,
            "role_arn": f"arn:aws:iam::{account}:role/saasus-marketplace",
            "role_external_id": "standin-external-id",
            "sns_topic_arn": f"arn:aws:sns:{region}:{account}:aws-mp-subscription-notification-{code}",
            "cas_bucket_name": "standin-cas-bucket",
            "cas_sns_topic_arn": f"arn:aws:sns:{region}:{account}:standin-cas",
            "seller_sns_topic_arn": f"arn:aws:sns:{region}:{account}:standin-seller",
            "redirect_sign_up_page_function_url": "https://standin.lambda-url.us-east-1.on.aws/",
            "sqs_arn": f"arn:aws:sqs:{region}:{account}:standin-queue",
        }
        return ok({name: value if code else "" for name, value in values.items()})

    def listing_status(self, call: Call) -> Answer:
        return ok({"listing_status": self._standin.listing.listing_status})

    def visibility(self, call: Call) -> Answer:
        return ok({"visibility": self._standin.listing.visibility})
