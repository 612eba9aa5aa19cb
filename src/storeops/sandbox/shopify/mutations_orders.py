"""fulfillmentCreate, refundCreate, returnCreate and orderCancel."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from graphql import GraphQLResolveInfo

from storeops.sandbox.shopify import orders as ops
from storeops.sandbox.shopify.graph import store_of
from storeops.sandbox.shopify.ids import parse_gid
from storeops.sandbox.shopify.mutations import err, mutation
from storeops.sandbox.shopify.records import FulfillmentOrderLineItem, LineItem

Info = GraphQLResolveInfo


@mutation("fulfillmentCreate")
def fulfillment_create(_: Any, info: Info, fulfillment: dict[str, Any], message: str | None = None) -> dict[str, Any]:
    store = store_of(info)
    requests = []
    for index, group in enumerate(fulfillment["lineItemsByFulfillmentOrder"]):
        path = ["fulfillment", "lineItemsByFulfillmentOrder", str(index), "fulfillmentOrderId"]
        fo = store.fulfillment_orders.get(parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder") or 0)
        if fo is None:
            return {"fulfillment": None, "userErrors": [err("Fulfillment order does not exist.", path)]}
        wanted: list[tuple[FulfillmentOrderLineItem, int]] | None = None
        if group.get("fulfillmentOrderLineItems"):
            wanted = []
            by_id = {li.id: li for li in fo.line_items}
            for item in group["fulfillmentOrderLineItems"]:
                li = by_id.get(parse_gid(item["id"], "FulfillmentOrderLineItem") or 0)
                if li is None:
                    return {"fulfillment": None, "userErrors": [
                        err("Fulfillment order line item does not belong to the fulfillment order.", path)]}
                wanted.append((li, item["quantity"]))
        requests.append((fo, wanted))
    tracking = fulfillment.get("trackingInfo") or {}
    numbers = list(tracking.get("numbers") or ([tracking["number"]] if tracking.get("number") else []))
    urls = list(tracking.get("urls") or ([tracking["url"]] if tracking.get("url") else []))
    try:
        created = ops.fulfill(store, requests, company=tracking.get("company"), numbers=numbers, urls=urls)
    except ops.OrderRefused as refused:
        return {"fulfillment": None, "userErrors": [err(refused.message, refused.field)]}
    return {"fulfillment": created, "userErrors": []}


@mutation("refundCreate", idempotent=True)
def refund_create(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    store = store_of(info)
    order = store.orders.get(parse_gid(input["orderId"], "Order") or 0)
    if order is None:
        return {"refund": None, "order": None, "userErrors": [err("Order does not exist", ["orderId"])]}
    lines: list[tuple[LineItem, int, str, int | None]] = []
    by_id = {li.id: li for li in order.line_items}
    for index, item in enumerate(input.get("refundLineItems") or []):
        li = by_id.get(parse_gid(item["lineItemId"], "LineItem") or 0)
        if li is None:
            return {"refund": None, "order": None, "userErrors": [
                err("Line item does not belong to the order.", ["refundLineItems", str(index), "lineItemId"])]}
        location = parse_gid(item["locationId"], "Location") if item.get("locationId") else None
        lines.append((li, item["quantity"], item.get("restockType") or "NO_RESTOCK", location))
    shipping = input.get("shipping") or {}
    transactions = input.get("transactions") or []
    amount = sum((Decimal(str(t["amount"])) for t in transactions), Decimal("0")) if transactions else None
    try:
        record = ops.refund(store, order, lines, shipping_full=bool(shipping.get("fullRefund")),
                            shipping_amount=Decimal(str(shipping["amount"])) if shipping.get("amount") else None,
                            note=input.get("note"), amount=amount)
    except ops.OrderRefused as refused:
        return {"refund": None, "order": None, "userErrors": [err(refused.message, refused.field)]}
    return {"refund": record, "order": order, "userErrors": []}


@mutation("returnCreate", error_type="ReturnUserError")
def return_create(_: Any, info: Info, returnInput: dict[str, Any]) -> dict[str, Any]:
    store = store_of(info)
    order = store.orders.get(parse_gid(returnInput["orderId"], "Order") or 0)
    if order is None:
        return {"return": None, "userErrors": [err("Order does not exist.", ["returnInput", "orderId"], "NOT_FOUND",
                                                   "ReturnUserError")]}
    lines = [(parse_gid(item["fulfillmentLineItemId"], "FulfillmentLineItem") or 0, item["quantity"],
              item.get("returnReasonNote") or "") for item in returnInput["returnLineItems"]]
    try:
        record = ops.create_return(store, order, lines)
    except ops.OrderRefused as refused:
        return {"return": None, "userErrors": [err(refused.message, refused.field, refused.code, "ReturnUserError")]}
    return {"return": record, "userErrors": []}


@mutation("orderCancel", error_type="OrderCancelUserError", errors_field="orderCancelUserErrors")
def order_cancel(_: Any, info: Info, orderId: str, reason: str, restock: bool, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    order = store.orders.get(parse_gid(orderId, "Order") or 0)
    typename = "OrderCancelUserError"
    if order is None:
        return {"job": None, "orderCancelUserErrors": [err("Order does not exist.", ["orderId"], "NOT_FOUND",
                                                           typename)]}
    method = args.get("refundMethod") or {}
    refund_payment = bool(method.get("originalPaymentMethodsRefund") or args.get("refund"))
    try:
        ops.cancel(store, order, reason=reason, restock=restock, refund_payment=refund_payment)
    except ops.OrderRefused as refused:
        return {"job": None, "orderCancelUserErrors": [err(refused.message, refused.field, refused.code, typename)]}
    # Shopify cancels in a background job; the sandbox finishes before it answers.
    return {"job": {"id": f"gid://shopify/Job/{store.ids.next()}", "done": True}, "orderCancelUserErrors": []}
