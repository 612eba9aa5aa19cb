"""A customer asks for a return in their Shopify customer account (POST /_sandbox/returns/request).

Shopify has no Admin API call for this: the buyer does it on the store's account pages, the
return is created with status REQUESTED and the shop gets the returns/request webhook
(shared/vendor-specs/shopify/webhooks-2026-07/topic-metadata/returns/request.json). Its example
payload has an empty `return_line_items`; a real request carries one item per returned line
(id, fulfillment_line_item with its line_item, quantity, return_reason, customer_note), which
is what this control route sends.

Body: {"order_id": <legacy id>, "lines": [{"line_item_id", "quantity", "reason", "customer_note"}]}
"""

from __future__ import annotations

from typing import Any

from storeops.sandbox.shopify import orders as ops
from storeops.sandbox.shopify.ids import gid
from storeops.sandbox.shopify.records import Return
from storeops.sandbox.shopify.store import Store

# Shopify's ReturnReason enum (Admin GraphQL 2026-07).
REASONS = {"COLOR", "DEFECTIVE", "NOT_AS_DESCRIBED", "OTHER", "SIZE_TOO_LARGE", "SIZE_TOO_SMALL", "STYLE",
           "UNKNOWN", "UNWANTED", "WRONG_ITEM"}


def request_return(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    """Open a REQUESTED return and emit returns/request; ValueError / OrderRefused on bad input."""
    order = store.orders.get(int(body.get("order_id") or 0))
    if order is None:
        raise ValueError("no such order")
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        raise ValueError("lines must list at least one line")
    shipped = {fli.line_item_id: fli for f_id in order.fulfillment_ids for fli in store.fulfillments[f_id].line_items}
    wanted: list[tuple[int, int, str]] = []
    reasons: list[str] = []
    notes: list[str | None] = []
    for line in lines:
        fli = shipped.get(int(line.get("line_item_id") or 0))
        if fli is None:
            raise ValueError(f"line item {line.get('line_item_id')} has not shipped")
        reason = str(line.get("reason") or "UNKNOWN").upper()
        if reason not in REASONS:
            raise ValueError(f"reason must be one of {', '.join(sorted(REASONS))}")
        wanted.append((fli.id, int(line.get("quantity") or 0), ""))
        reasons.append(reason)
        notes.append(line.get("customer_note"))
    record = ops.create_return(store, order, wanted)
    record.status = "REQUESTED"
    for item, note in zip(record.line_items, notes, strict=True):
        item.customer_note = note
    store.emit("returns/request", lambda: payload(record, reasons))
    return payload(record, reasons)


def payload(r: Return, reasons: list[str]) -> dict[str, Any]:
    return {
        "id": r.id, "admin_graphql_api_id": gid("Return", r.id), "status": r.status.lower(),
        "order": {"id": r.order_id, "admin_graphql_api_id": gid("Order", r.order_id)},
        "total_return_line_items": len(r.line_items), "name": None,
        "return_line_items": [{
            "id": li.id, "admin_graphql_api_id": gid("ReturnLineItem", li.id),
            "fulfillment_line_item": {"id": li.fulfillment_line_item_id,
                                      "admin_graphql_api_id": gid("FulfillmentLineItem", li.fulfillment_line_item_id),
                                      "line_item": {"id": li.line_item_id,
                                                    "admin_graphql_api_id": gid("LineItem", li.line_item_id)}},
            "quantity": li.quantity, "return_reason": reason.lower(), "return_reason_note": li.return_reason_note,
            "customer_note": li.customer_note} for li, reason in zip(r.line_items, reasons, strict=True)],
        "return_shipping_fees": [], "exchange_line_items": [], "total_exchange_line_items": 0,
    }
