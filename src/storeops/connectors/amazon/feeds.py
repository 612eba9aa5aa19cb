"""JSON_LISTINGS_FEED documents (listings-feed-schema-v2.json) and their reports.

A feed document is {"header": {"sellerId", "version": "2.0", "issueLocale", "report"?},
"messages": [...]}, each message shaped by listings-feed-message-schema-v2.json
(messageId, sku, operationType UPDATE | PARTIAL_UPDATE | PATCH | DELETE, productType,
attributes or patches). The processing report (listings-feed-processing-report-schema-
v2.json) comes back as a result document, possibly GZIP-compressed.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from storeops.core.errors import InvalidInput

FEED_TYPE = "JSON_LISTINGS_FEED"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
FEED_VERSION = "2.0"
MAX_MESSAGES = 25_000
# The generic product type Amazon accepts for offer-only changes (price, quantity) of a
# listing that already exists, so quantity syncs need not know each SKU's product type.
OFFER_ONLY_PRODUCT_TYPE = "PRODUCT"
MERCHANT_CHANNEL = "DEFAULT"  # merchant-fulfilled stock; FBA quantities are Amazon's to set


def check_quantity(sku: str, quantity: Any) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise InvalidInput(f"quantity for {sku!r} must be a non-negative integer, got {quantity!r}", field="quantity")
    return quantity


def quantity_patch(quantity: int) -> dict[str, Any]:
    """The patch that sets the merchant-fulfilled quantity (Amazon's own example op)."""
    return {"op": "replace", "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": MERCHANT_CHANNEL, "quantity": quantity}]}


def quantity_message(sku: str, quantity: int, product_type: str = OFFER_ONLY_PRODUCT_TYPE) -> dict[str, Any]:
    return {"sku": sku, "operationType": "PATCH", "productType": product_type,
            "patches": [quantity_patch(quantity)]}


def listings_feed(seller_id: str, messages: Sequence[Mapping[str, Any]], *, issue_locale: str = "en_US",
                  included_data: Iterable[str] | None = None, api_version: str) -> dict[str, Any]:
    """The feed document; messages without a messageId are numbered from 1."""
    if not messages:
        raise InvalidInput("a listings feed needs at least one message", field="messages")
    if len(messages) > MAX_MESSAGES:
        raise InvalidInput(f"a listings feed holds at most {MAX_MESSAGES} messages", field="messages")
    numbered = [{"messageId": index, **message} for index, message in enumerate(messages, start=1)]
    header: dict[str, Any] = {"sellerId": seller_id, "version": FEED_VERSION, "issueLocale": issue_locale}
    included = list(included_data or [])
    if included:
        header["report"] = {"includedData": included, "apiVersion": api_version}
    return {"header": header, "messages": numbered}


def encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def decode_report(content: bytes, compression: str | None) -> dict[str, Any]:
    raw = gzip.decompress(content) if compression == "GZIP" else content
    report = json.loads(raw)
    if not isinstance(report, dict):
        raise ValueError("processing report is not a JSON object")
    return report
