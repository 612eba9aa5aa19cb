"""Queries and fields for fulfillment orders, fulfillments, refunds and returns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from graphql import GraphQLResolveInfo

from storeops.sandbox.shopify import search
from storeops.sandbox.shopify.graph import connection, limit_list, resolves, store_of
from storeops.sandbox.shopify.ids import gid, money_bag, parse_gid
from storeops.sandbox.shopify.records import (
    Fulfillment,
    FulfillmentLineItem,
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    LineItem,
    Location,
    Order,
    Refund,
    RefundLineItem,
    Return,
    ReturnLineItem,
)
from storeops.sandbox.shopify.store import Store

Info = GraphQLResolveInfo
ZERO = Decimal("0")


# --- fulfillment orders and fulfillments ---------------------------------------------------
@resolves("QueryRoot", "fulfillmentOrders")
def fulfillment_orders(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    fields = {"id": lambda f: f.id, "status": lambda f: f.status, "order_id": lambda f: f.order_id,
              "assigned_location_id": lambda f: f.location_id, "updated_at": lambda f: f.updated_at}
    items = [f for f in store.fulfillment_orders.values()
             if args.get("includeClosed") or f.status not in ("CLOSED", "CANCELLED")]
    items = search.apply(items, args.get("query"), fields, lambda f: f.status)
    return connection(items, args, lambda f: [f.id, f.id])


@resolves("QueryRoot", "fulfillmentOrder")
def fulfillment_order(_: Any, info: Info, id: str) -> FulfillmentOrder | None:
    return store_of(info).fulfillment_orders.get(parse_gid(id, "FulfillmentOrder") or 0)


@resolves("FulfillmentOrder", "orderId")
def fo_order_id(fo: FulfillmentOrder, info: Info) -> str:
    return gid("Order", fo.order_id)


@resolves("FulfillmentOrder", "orderName")
def fo_order_name(fo: FulfillmentOrder, info: Info) -> str:
    return store_of(info).orders[fo.order_id].name


@resolves("FulfillmentOrder", "orderProcessedAt")
def fo_processed(fo: FulfillmentOrder, info: Info) -> Any:
    return store_of(info).orders[fo.order_id].created_at


@resolves("FulfillmentOrder", "order")
def fo_order(fo: FulfillmentOrder, info: Info) -> Order:
    return store_of(info).orders[fo.order_id]


@resolves("FulfillmentOrder", "assignedLocation")
def fo_location(fo: FulfillmentOrder, info: Info) -> dict[str, Any]:
    loc = store_of(info).locations[fo.location_id]
    a = loc.address
    return {"name": loc.name, "address1": a["address1"], "address2": a["address2"], "city": a["city"],
            "province": a["province"], "zip": a["zip"], "countryCode": a["countryCode"], "phone": a["phone"],
            "location": loc}


@resolves("FulfillmentOrder", "destination")
def fo_destination(fo: FulfillmentOrder, info: Info) -> dict[str, Any] | None:
    o = store_of(info).orders[fo.order_id]
    a = o.shipping_address
    if a is None:
        return None
    return {"id": gid("FulfillmentOrderDestination", fo.id), "firstName": a.first_name, "lastName": a.last_name,
            "company": a.company, "address1": a.address1, "address2": a.address2, "city": a.city,
            "province": a.province, "zip": a.zip, "countryCode": a.country_code, "phone": a.phone, "email": o.email}


@resolves("FulfillmentOrder", "lineItems")
def fo_lines(fo: FulfillmentOrder, info: Info, **args: Any) -> dict[str, Any]:
    return connection(fo.line_items, args, lambda li: [li.id, li.id])


@resolves("FulfillmentOrder", "fulfillments")
def fo_fulfillments(fo: FulfillmentOrder, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return connection([store.fulfillments[f] for f in fo.fulfillment_ids], args, lambda f: [f.id, f.id])


@resolves("FulfillmentOrder", "supportedActions")
def fo_actions(fo: FulfillmentOrder, info: Info) -> list[dict[str, Any]]:
    if fo.status in ("CLOSED", "CANCELLED"):
        return []
    return [{"action": a, "externalUrl": None} for a in ("CREATE_FULFILLMENT", "HOLD", "MOVE")]


def _fo_line(fn: Any) -> Any:
    def resolve(li: FulfillmentOrderLineItem, info: Info) -> Any:
        store = store_of(info)
        order_line = _order_line(store, li.line_item_id)
        return fn(store, li, order_line)

    return resolve


def _order_line(store: Store, line_item_id: int) -> LineItem:
    return store.line_items[line_item_id]


resolves("FulfillmentOrderLineItem", "sku")(_fo_line(lambda s, li, ol: ol.sku))
resolves("FulfillmentOrderLineItem", "productTitle")(_fo_line(lambda s, li, ol: ol.title))
resolves("FulfillmentOrderLineItem", "variantTitle")(_fo_line(lambda s, li, ol: ol.variant_title))
resolves("FulfillmentOrderLineItem", "vendor")(_fo_line(lambda s, li, ol: ol.vendor))
resolves("FulfillmentOrderLineItem", "requiresShipping")(_fo_line(lambda s, li, ol: ol.requires_shipping))
resolves("FulfillmentOrderLineItem", "lineItem")(_fo_line(lambda s, li, ol: ol))
resolves("FulfillmentOrderLineItem", "variant")(_fo_line(lambda s, li, ol: s.variants.get(li.variant_id or 0)))
resolves("FulfillmentOrderLineItem", "inventoryItemId")(
    _fo_line(lambda s, li, ol: gid("InventoryItem", li.inventory_item_id) if li.inventory_item_id else None))


@resolves("Fulfillment", "displayStatus")
def fulfillment_display(f: Fulfillment, info: Info) -> str:
    return "FULFILLED" if f.status == "SUCCESS" else f.status


@resolves("Fulfillment", "totalQuantity")
def fulfillment_quantity(f: Fulfillment, info: Info) -> int:
    return sum(li.quantity for li in f.line_items)


@resolves("Fulfillment", "requiresShipping")
def fulfillment_requires_shipping(f: Fulfillment, info: Info) -> bool:
    return True


@resolves("Fulfillment", "trackingInfo")
def fulfillment_tracking(f: Fulfillment, info: Info, first: int | None = None) -> list[dict[str, Any]]:
    infos = [{"company": f.tracking_company, "number": number,
              "url": f.tracking_urls[i] if i < len(f.tracking_urls) else None}
             for i, number in enumerate(f.tracking_numbers)]
    return limit_list(infos, first)


@resolves("Fulfillment", "fulfillmentLineItems")
def fulfillment_lines(f: Fulfillment, info: Info, **args: Any) -> dict[str, Any]:
    return connection(f.line_items, args, lambda li: [li.id, li.id])


@resolves("Fulfillment", "order")
def fulfillment_order_of(f: Fulfillment, info: Info) -> Order:
    return store_of(info).orders[f.order_id]


@resolves("Fulfillment", "location")
def fulfillment_location(f: Fulfillment, info: Info) -> Location | None:
    return store_of(info).locations.get(f.location_id)


@resolves("FulfillmentLineItem", "lineItem")
def fli_line(li: FulfillmentLineItem, info: Info) -> LineItem:
    return _order_line(store_of(info), li.line_item_id)


@resolves("FulfillmentLineItem", "originalTotalSet", "discountedTotalSet")
def fli_total(li: FulfillmentLineItem, info: Info) -> dict[str, Any]:
    return money_bag(_order_line(store_of(info), li.line_item_id).price * li.quantity)


# --- refunds and returns -------------------------------------------------------------------
@resolves("Refund", "updatedAt", "processedAt")
def refund_time(r: Refund, info: Info) -> Any:
    return r.created_at


@resolves("Refund", "totalRefundedSet")
def refund_total(r: Refund, info: Info) -> dict[str, Any]:
    return money_bag(r.total)


@resolves("Refund", "refundLineItems")
def refund_lines(r: Refund, info: Info, **args: Any) -> dict[str, Any]:
    return connection(r.line_items, args, lambda li: [li.id, li.id])


@resolves("Refund", "order")
def refund_order(r: Refund, info: Info) -> Order:
    return store_of(info).orders[r.order_id]


@resolves("Refund", "return")
def refund_return(r: Refund, info: Info) -> Return | None:
    return store_of(info).returns.get(r.return_id or 0)


@resolves("RefundLineItem", "lineItem")
def refund_line_item(li: RefundLineItem, info: Info) -> LineItem:
    return _order_line(store_of(info), li.line_item_id)


@resolves("RefundLineItem", "restocked")
def refund_line_restocked(li: RefundLineItem, info: Info) -> bool:
    return li.restock_type != "NO_RESTOCK"


@resolves("RefundLineItem", "location")
def refund_line_location(li: RefundLineItem, info: Info) -> Location | None:
    return store_of(info).locations.get(li.location_id or 0)


@resolves("RefundLineItem", "priceSet")
def refund_line_price(li: RefundLineItem, info: Info) -> dict[str, Any]:
    return money_bag(_order_line(store_of(info), li.line_item_id).price)


@resolves("RefundLineItem", "subtotalSet")
def refund_line_subtotal(li: RefundLineItem, info: Info) -> dict[str, Any]:
    return money_bag(li.subtotal)


@resolves("RefundLineItem", "totalTaxSet")
def refund_line_tax(li: RefundLineItem, info: Info) -> dict[str, Any]:
    return money_bag(ZERO)


@resolves("Return", "totalQuantity")
def return_quantity(r: Return, info: Info) -> int:
    return sum(li.quantity for li in r.line_items)


@resolves("Return", "order")
def return_order(r: Return, info: Info) -> Order:
    return store_of(info).orders[r.order_id]


@resolves("Return", "returnLineItems")
def return_lines(r: Return, info: Info, **args: Any) -> dict[str, Any]:
    return connection(r.line_items, args, lambda li: [li.id, li.id])


@resolves("ReturnLineItem", "unprocessedQuantity", "processableQuantity", "refundableQuantity")
def return_line_open(li: ReturnLineItem, info: Info) -> int:
    return li.quantity - li.processed_quantity


@resolves("ReturnLineItem", "refundedQuantity")
def return_line_refunded(li: ReturnLineItem, info: Info) -> int:
    return 0


@resolves("ReturnLineItem", "fulfillmentLineItem")
def return_line_fli(li: ReturnLineItem, info: Info) -> FulfillmentLineItem:
    store = store_of(info)
    for f in store.fulfillments.values():
        for fli in f.line_items:
            if fli.id == li.fulfillment_line_item_id:
                return fli
    raise KeyError(li.fulfillment_line_item_id)

