"""What every connector offers (the Connector protocol) and the webhook verification seam.

Webhook verification is split in two so intake can find the shop (and so the secret)
from a cheap header read before it spends time on the signature:

    hint = verifier.shop_hint(headers, query)        # e.g. X-Shopify-Shop-Domain
    event = verifier.verify(headers, body, secret, now=time.time())

`headers` is a mapping with lower-case names. `verify` raises
`WebhookSignatureInvalid` or `WebhookStale` (storeops.core.errors) and never parses
the body before the signature has been checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """What a verified webhook tells us from its headers (the body is stored raw)."""

    event_id: str  # the vendor's id for the event; duplicates share it
    topic: str  # vendor topic, e.g. "orders/create", "order.shipped"
    shop_hint: str | None = None  # shop domain or account the vendor names, if any
    triggered_at: str | None = None  # vendor timestamp, as sent


class WebhookVerifier(Protocol):
    vendor: str

    def shop_hint(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
        """The shop this delivery claims to be for, from headers or the subscription URL."""
        ...

    def verify(
        self, headers: Mapping[str, str], body: bytes, secret: str, *, now: float
    ) -> VerifiedWebhook:
        """Check the signature (constant time) and freshness; return the event's identity."""
        ...


class Connector(Protocol):
    vendor: str

    def check(self) -> None:
        """Prove the credentials work with one cheap call; raise ConfigError if they do not."""
        ...

    def ensure_subscriptions(self, callback_url: str) -> list[str]:
        """Create the webhook subscriptions storeops needs; return their topics."""
        ...
