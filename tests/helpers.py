"""Helpers for tests: signed vendor deliveries, waiting for an outcome."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from storeops.connectors.shopify.webhooks import sign

from conftest import SHOP_DOMAIN, SHOP_SECRET

T = TypeVar("T")


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


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 60.0, every: float = 0.1) -> T:
    """Poll `probe` until it returns something truthy, and return that; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)
