"""Helpers for tests: signed vendor deliveries."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from storeops.connectors.shopify.webhooks import sign

from conftest import SHOP_DOMAIN, SHOP_SECRET


def shopify_delivery(
    payload: Any, *, topic: str = "orders/create", event_id: str | None = None, secret: str = SHOP_SECRET,
    domain: str = SHOP_DOMAIN, raw: bytes | None = None,
) -> tuple[bytes, dict[str, str]]:
    body = raw if raw is not None else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": secrets.token_hex(8),
        "X-Shopify-Event-Id": event_id or secrets.token_hex(8),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        "X-Shopify-Hmac-Sha256": sign(body, secret),
    }
    return body, headers
