"""FBA inventory summaries (fbaInventory.json, getInventorySummaries).

Behaviour from the operation's description: startDateTime returns only summaries changed
after it (and then sellerSkus / sellerSku are ignored) and may not be more than 18
months back; sellerSkus takes at most 50 SKUs; nextToken "will expire 30 seconds after
being created". Pages hold 50 summaries, the page size Amazon uses for this operation.
details=true adds inventoryDetails; without it a summary has no quantity breakdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storeops.sandbox.amazon.listings import iso

PAGE_SIZE = 50
MAX_SELLER_SKUS = 50
NEXT_TOKEN_TTL_S = 30.0
MAX_LOOKBACK = timedelta(days=548)  # 18 months


@dataclass
class FbaRecord:
    sku: str
    asin: str
    fn_sku: str
    product_name: str
    fulfillable: int
    inbound_working: int
    inbound_shipped: int
    inbound_receiving: int
    pending_customer_order: int
    fc_processing: int
    customer_damaged: int
    updated: datetime

    @property
    def total(self) -> int:
        return (self.fulfillable + self.inbound_working + self.inbound_shipped + self.inbound_receiving
                + self.pending_customer_order + self.fc_processing + self.customer_damaged)


def summary(record: FbaRecord, marketplace_id: str, *, details: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "asin": record.asin, "fnSku": record.fn_sku, "sellerSku": record.sku, "condition": "NewItem",
        "lastUpdatedTime": iso(record.updated), "productName": record.product_name,
        "totalQuantity": record.total, "stores": [marketplace_id],
    }
    if details:
        reserved = record.pending_customer_order + record.fc_processing
        body["inventoryDetails"] = {
            "fulfillableQuantity": record.fulfillable,
            "inboundWorkingQuantity": record.inbound_working,
            "inboundShippedQuantity": record.inbound_shipped,
            "inboundReceivingQuantity": record.inbound_receiving,
            "reservedQuantity": {"totalReservedQuantity": reserved,
                                 "pendingCustomerOrderQuantity": record.pending_customer_order,
                                 "pendingTransshipmentQuantity": 0,
                                 "fcProcessingQuantity": record.fc_processing},
            "researchingQuantity": {"totalResearchingQuantity": 0, "researchingQuantityBreakdown": []},
            "unfulfillableQuantity": {"totalUnfulfillableQuantity": record.customer_damaged,
                                      "customerDamagedQuantity": record.customer_damaged,
                                      "warehouseDamagedQuantity": 0, "distributorDamagedQuantity": 0,
                                      "carrierDamagedQuantity": 0, "defectiveQuantity": 0,
                                      "expiredQuantity": 0},
        }
    return body


class InvalidQuery(ValueError):
    """Answered 400 InvalidInput."""


@dataclass
class _Cursor:
    query: tuple[Any, ...]
    offset: int
    created: float


class InventoryPager:
    """Selects and pages summaries. `now_s` times nextToken's life (the raw clock: the
    caller's pace between pages is set by real rate limits, not by time_scale)."""

    def __init__(self, now_s: Callable[[], float], now_dt: Callable[[], datetime],
                 new_token: Callable[[], str]) -> None:
        self.now_s = now_s
        self.now_dt = now_dt
        self.new_token = new_token
        self.cursors: dict[str, _Cursor] = {}

    def page(self, records: dict[str, FbaRecord], *, start: datetime | None, seller_skus: list[str] | None,
             seller_sku: str | None, next_token: str | None) -> tuple[list[FbaRecord], str | None]:
        if start is not None and start < self.now_dt() - MAX_LOOKBACK:
            raise InvalidQuery("startDateTime must be no earlier than 18 months before now.")
        if seller_skus is not None and len(seller_skus) > MAX_SELLER_SKUS:
            raise InvalidQuery(f"sellerSkus accepts at most {MAX_SELLER_SKUS} SKUs.")
        query = (start, tuple(seller_skus or ()), seller_sku)
        offset = 0
        if next_token is not None:
            cursor = self.cursors.pop(next_token, None)
            if cursor is None or self.now_s() - cursor.created > NEXT_TOKEN_TTL_S:
                raise InvalidQuery("The nextToken is invalid or expired.")
            if cursor.query != query:
                raise InvalidQuery("Use the same startDateTime and SKU filters with nextToken as on the first page.")
            offset = cursor.offset
        if start is not None:
            selected = [r for r in records.values() if r.updated > start]
        elif seller_skus:
            wanted = set(seller_skus)
            selected = [r for r in records.values() if r.sku in wanted]
        elif seller_sku:
            selected = [records[seller_sku]] if seller_sku in records else []
        else:
            selected = list(records.values())
        selected.sort(key=lambda r: r.sku)
        chunk = selected[offset: offset + PAGE_SIZE]
        token = None
        if offset + PAGE_SIZE < len(selected):
            token = self.new_token()
            self.cursors[token] = _Cursor(query, offset + PAGE_SIZE, self.now_s())
        return chunk, token
