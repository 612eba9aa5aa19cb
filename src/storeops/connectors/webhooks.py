"""The webhook verifier for each vendor that pushes webhooks to us.

Amazon is not here: storeops polls the Selling Partner API for Amazon, it does not
receive Amazon webhooks, so `verifier_for("amazon")` raises NotFound like any other
unknown vendor.

This module sits beside the vendor packages, not inside one, so it may import all of
them (the import-linter contract only forbids the vendor packages importing each other).
"""

from __future__ import annotations

from storeops.connectors.base import WebhookVerifier
from storeops.connectors.gorgias.webhooks import GorgiasWebhookVerifier
from storeops.connectors.klaviyo.webhooks import KlaviyoWebhookVerifier
from storeops.connectors.shipbob.webhooks import ShipbobWebhookVerifier
from storeops.connectors.shopify.webhooks import ShopifyWebhookVerifier
from storeops.core.errors import NotFound

VERIFIERS: dict[str, WebhookVerifier] = {
    "shopify": ShopifyWebhookVerifier(),
    "shipbob": ShipbobWebhookVerifier(),
    "gorgias": GorgiasWebhookVerifier(),
    "klaviyo": KlaviyoWebhookVerifier(),
}


def verifier_for(vendor: str) -> WebhookVerifier:
    """The verifier for `vendor`; NotFound("vendor", vendor) if it sends us no webhooks."""
    try:
        return VERIFIERS[vendor]
    except KeyError:
        raise NotFound("vendor", vendor) from None
