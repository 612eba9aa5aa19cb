"""Outbound webhooks as Shopify delivers them over HTTPS.

Headers and signing follow shared/vendor-specs/shopify/webhook-delivery.yaml (from
shopify.dev "Delivery structure" / "Verify deliveries" and Shopify/shopify-app-js):
X-Shopify-Topic, -Shop-Domain, -API-Version, -Webhook-Id (one per delivery, kept across
retries), -Event-Id (one per event; every subscription's delivery of it shares it),
-Triggered-At, -Name (when the subscription has one) and X-Shopify-Hmac-Sha256 = base64
HMAC-SHA256 of the raw body keyed with the app's client secret. Signed here, with the
sandbox's own code, so our verifier is checked against an independent signer.

Retries: since 2024-09 Shopify retries a failed delivery 8 times over 4 hours
(shopify.dev changelog "Updates to webhook retry mechanism"); it does not publish the
exact gaps, so the sandbox doubles from one minute and stretches the last gap to end at
4 hours. A delivery fails on a non-2xx answer or after 5 s without one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storeops.sandbox.common import WebhookSender
from storeops.sandbox.shopify.schema import API_VERSION

if TYPE_CHECKING:
    from storeops.sandbox.shopify.app import ShopifySandbox

RETRY_DELAYS_S = [60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3840.0, 6780.0]  # 8 retries, 14 400 s in all
TIMEOUT_S = 5.0


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


class WebhookEmitter:
    def __init__(self, sandbox: ShopifySandbox) -> None:
        self.sandbox = sandbox
        self.sender = WebhookSender(sandbox, retry_delays_s=RETRY_DELAYS_S, timeout_s=TIMEOUT_S)
        self.sent: list[dict[str, Any]] = []  # topic, webhook id, event id, url (for /_sandbox/state)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.sandbox.rng.getrandbits(128), version=4))

    def emit(self, topic: str, build: Callable[[], dict[str, Any]]) -> None:
        subscriptions = [s for s in self.sandbox.store.subscriptions.values() if s.topic == topic]
        if not subscriptions:
            return
        payload = build()
        event_id = self._uuid()
        triggered_at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        for sub in subscriptions:
            body_obj = {k: v for k, v in payload.items() if k in sub.include_fields} if sub.include_fields \
                else payload
            body = json.dumps(body_obj, separators=(",", ":")).encode()
            webhook_id = self._uuid()
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Shop-Domain": self.sandbox.shop_domain,
                "X-Shopify-API-Version": API_VERSION,
                "X-Shopify-Webhook-Id": webhook_id,
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered_at,
                "X-Shopify-Hmac-Sha256": sign(body, self.sandbox.api_secret),
                "User-Agent": "Shopify-Captain-Hook",
            }
            if sub.name:
                headers["X-Shopify-Name"] = sub.name
            self.sent.append({"topic": topic, "webhook_id": webhook_id, "event_id": event_id, "url": sub.uri})
            self.sender.send(sub.uri, body, headers)
