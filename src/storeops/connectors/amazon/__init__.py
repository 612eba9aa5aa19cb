"""Amazon Selling Partner API connector (polled: Amazon does not push HTTP webhooks).

    client.py   AmazonClient: listings (get / put / patch / validate / delete / changed
                since), FBA inventory summaries, JSON_LISTINGS_FEED submit / status /
                report, set_quantities (patches or one feed, whichever costs fewer calls)
    auth.py     Login with Amazon token exchange, cached until shortly before expiry
    limits.py   the usage plan of every operation and its per-seller limiter
    feeds.py    feed documents and processing reports
    errors.py   the classification rows that differ for SP-API (403 = refresh the token)
"""

from storeops.connectors.amazon.auth import LWA_TOKEN_URL
from storeops.connectors.amazon.client import (
    FEED_BREAK_EVEN,
    FEEDS_API_VERSION,
    LISTINGS_API_VERSION,
    AmazonClient,
    QuantityUpdate,
    Submission,
)
from storeops.connectors.amazon.errors import CLASSIFICATION_OVERRIDES
from storeops.connectors.amazon.limits import USAGE_PLANS, OperationLimiters

__all__ = [
    "CLASSIFICATION_OVERRIDES",
    "FEEDS_API_VERSION",
    "FEED_BREAK_EVEN",
    "LISTINGS_API_VERSION",
    "LWA_TOKEN_URL",
    "USAGE_PLANS",
    "AmazonClient",
    "OperationLimiters",
    "QuantityUpdate",
    "Submission",
]
