"""Records rendered in the shapes of ShipBob's 2026-01 API (schema names from
shared/vendor-specs/shipbob/openapi-2026-01.json, components.schemas).

Optional fields the sandbox has no data for are left out rather than invented. Fields the
spec types as a `$ref` (not nullable) are never sent as null.
"""

from __future__ import annotations

from typing import Any

from storeops.sandbox.shipbob.records import (
    DEFAULT_CHANNEL_ID,
    PAT_CHANNEL_ID,
    PAT_SCOPES,
    READ_SCOPES,
    FulfillmentCenter,
    Order,
    OrderLine,
    Product,
    ReturnOrder,
    Shipment,
    Stock,
    Store,
    Subscription,
    Variant,
    iso,
)

GRAMS_PER_OUNCE = 28.349523125
PAT_CHANNEL_NAME = "Personal Access Token Monday, January 5, 2026"


def fulfillment_center(fc: FulfillmentCenter) -> dict[str, Any]:
    """Receiving.FulfillmentCenterViewModel (the catalog has no street lines, so none are sent)."""
    return {"id": fc.id, "name": fc.name, "city": fc.city, "state": fc.state, "zip_code": fc.zip_code,
            # ShipBob's own example spells the country "USA".
            "country": "USA" if fc.country == "US" else fc.country, "timezone": fc.timezone}


def channels() -> list[dict[str, Any]]:
    """Channels.ChannelViewModel: the PAT's own "SMA" channel and the account's default channel
    (developer.shipbob.com/auth: a PAT's first use creates an SMA application and channel)."""
    return [
        {"id": PAT_CHANNEL_ID, "name": PAT_CHANNEL_NAME, "application_name": "SMA", "scopes": PAT_SCOPES},
        {"id": DEFAULT_CHANNEL_ID, "name": "ShipBob Default", "application_name": "ShipBob", "scopes": READ_SCOPES},
    ]


def channel_name(channel_id: int) -> str:
    return PAT_CHANNEL_NAME if channel_id == PAT_CHANNEL_ID else "ShipBob Default"


def variant(store: Store, v: Variant) -> dict[str, Any]:
    """Products.VariantInternalViewModelV5.

    `compliance` is always sent: the spec's `variants` items are oneOf(VariantViewModelV5,
    VariantInternalViewModelV5), and the second only extends the first, so a variant without
    `compliance` would match both branches and fail oneOf.
    """
    on_hand = sum(store.stock[(v.inventory_id, fc.id)].on_hand for fc in store.fulfillment_centers)
    return {
        "id": v.id,
        "sku": v.sku,
        "name": v.name,
        "status": "Active" if v.active else "Inactive",
        "is_digital": False,
        "is_image_uploaded": False,
        "upc": v.barcode,
        "barcodes": [{"value": v.barcode}] if v.barcode else [],
        "created_on": iso(v.created_on),
        "updated_on": iso(v.updated_on),
        "inventory": {"inventory_id": v.inventory_id, "on_hand_qty": on_hand},
        "weight": {"unit": "oz", "weight": round(v.weight_grams / GRAMS_PER_OUNCE, 2)},
        "compliance": {"category": [], "reasons": [], "status": None},
    }


def product(store: Store, p: Product) -> dict[str, Any]:
    """Products.ProductViewModelV5."""
    return {"id": p.id, "name": p.name, "type": "Regular", "user_id": 1, "created_on": iso(p.created_on),
            "updated_on": iso(p.updated_on), "variants": [variant(store, v) for v in p.variants]}


def inventory_totals(store: Store, v: Variant) -> dict[str, Any]:
    """Inventory.InventoryQuantityResponse."""
    levels = [store.stock[(v.inventory_id, fc.id)] for fc in store.fulfillment_centers]
    on_hand = sum(s.on_hand for s in levels)
    committed = sum(s.committed for s in levels)
    fulfillable = sum(s.fulfillable for s in levels)
    return {"inventory_id": v.inventory_id, "sku": v.sku, "name": v.name, "total_on_hand_quantity": on_hand,
            "total_committed_quantity": committed, "total_fulfillable_quantity": fulfillable,
            "total_sellable_quantity": fulfillable, "total_awaiting_quantity": 0, "total_backordered_quantity": 0,
            "total_exception_quantity": 0, "total_internal_transfer_quantity": 0}


def location_level(fc: FulfillmentCenter, stock: Stock) -> dict[str, Any]:
    """Inventory.FulfillmentCenterResponse."""
    return {"location_id": fc.id, "name": fc.name, "on_hand_quantity": stock.on_hand,
            "committed_quantity": stock.committed, "fulfillable_quantity": stock.fulfillable,
            "awaiting_quantity": 0, "internal_transfer_quantity": 0}


def inventory_by_location(store: Store, v: Variant, location_id: int | None = None) -> dict[str, Any]:
    """Inventory.InventoryQuantityFcResponse."""
    fcs = [fc for fc in store.fulfillment_centers if location_id is None or fc.id == location_id]
    return {"inventory_id": v.inventory_id, "sku": v.sku, "name": v.name,
            "locations": [location_level(fc, store.stock[(v.inventory_id, fc.id)]) for fc in fcs]}


_ADDRESS_FIELDS = ("address1", "address2", "city", "company_name", "country", "state", "zip_code")


def _address(recipient: dict[str, Any]) -> dict[str, Any]:
    """Orders.AddressViewModel: the fields ShipBob keeps, whatever else the order carried."""
    address = recipient.get("address") or {}
    return {k: address[k] for k in _ADDRESS_FIELDS if address.get(k) is not None}


def order_line(line: OrderLine) -> dict[str, Any]:
    """Orders.ProductInfoViewModel."""
    body: dict[str, Any] = {"reference_id": line.reference_id, "sku": line.reference_id,
                            "quantity": line.quantity, "unit_price": line.unit_price}
    if line.variant is not None:
        body["id"] = line.variant.id
    if line.external_line_id is not None:
        body["external_line_id"] = line.external_line_id
    return body


def shipment(store: Store, s: Shipment, order: Order, *, internal: bool = False) -> dict[str, Any]:
    """Orders.ShipmentViewModel, or Orders.InternalShipmentViewModel (the same plus
    `store_order_id`). GET /2026-01/order/{orderId}/shipment answers oneOf the two, so its
    items must carry `store_order_id` to match exactly one."""
    fc = store.fc(s.fc_id) if s.fc_id is not None else None
    body: dict[str, Any] = {
        "id": s.id,
        "order_id": s.order_id,
        "reference_id": s.reference_id,
        "created_date": iso(s.created),
        "last_update_at": iso(s.last_update),
        "status": s.status,
        "status_details": [] if s.detail is None else [{
            "id": s.detail.id, "name": s.detail.name, "description": s.detail.description,
            "inventory_id": s.detail.inventory_id,
            "exception_fulfillment_center_id": s.fc_id if s.status == "Exception" else None,
        }],
        "recipient": {"name": order.recipient.get("name"), "full_name": order.recipient.get("name"),
                      "email": order.recipient.get("email"), "address": _address(order.recipient)},
        "products": [{"id": line.variant.id, "reference_id": line.reference_id, "sku": line.reference_id,
                      "name": line.variant.name,
                      "inventory_items": [{"id": line.variant.inventory_id, "name": line.variant.name,
                                           "quantity": line.quantity,
                                           "quantity_committed": line.quantity if s.allocated else 0,
                                           "is_dangerous_goods": False}]}
                     for line in s.lines if line.variant is not None],
        "is_tracking_uploaded": False,
        "require_signature": False,
        "ship_option": order.shipping_method,
        "estimated_fulfillment_date_status": "FulfilledOnTime" if s.status == "Completed" else "PendingOnTime",
        "actual_fulfillment_date": iso(s.actual_fulfillment_date),
        "delivery_date": iso(s.delivery_date),
        "last_tracking_update_at": iso(s.last_tracking_update),
        "gift_message": order.gift_message,
    }
    if internal:
        body["store_order_id"] = order.order_number
    if fc is not None:
        body["location"] = {"id": fc.id, "name": fc.name}
    if s.tracking is not None:
        body["tracking"] = {"carrier": s.tracking.carrier, "carrier_service": s.tracking.carrier_service,
                            "tracking_number": s.tracking.tracking_number, "tracking_url": s.tracking.tracking_url,
                            "shipping_date": iso(s.tracking.shipping_date)}
    return body


def order_status(order: Order) -> str:
    """Orders.OrderStatus, imputed from the shipments (developer.shipbob.com/status-reference:
    "Order statuses are imputed from the statuses of the underlying shipments")."""
    statuses = [s.status for s in order.shipments]
    if order.cancelled or (statuses and all(st == "Cancelled" for st in statuses)):
        return "Cancelled"
    if "Exception" in statuses or "OnHold" in statuses:
        return "Exception"
    live = [st for st in statuses if st != "Cancelled"]
    if live and all(st == "Completed" for st in live):
        return "Fulfilled"
    if "Completed" in live:
        return "PartiallyFulfilled"
    return "Processing"


def order(store: Store, o: Order) -> dict[str, Any]:
    """Orders.OrderViewModel."""
    body: dict[str, Any] = {
        "id": o.id,
        "reference_id": o.reference_id,
        "order_number": o.order_number,
        "created_date": iso(o.created),
        "purchase_date": iso(o.purchase_date),
        "status": order_status(o),
        "type": o.type,
        "channel": {"id": o.channel_id, "name": channel_name(o.channel_id)},
        "recipient": {"name": o.recipient["name"], "email": o.recipient.get("email"),
                      "phone_number": o.recipient.get("phone_number"), "address": _address(o.recipient)},
        "products": [order_line(line) for line in o.lines],
        "shipments": [shipment(store, s, o) for s in o.shipments],
        "shipping_method": o.shipping_method,
        "financials": {"total_price": o.total_price},
        "gift_message": o.gift_message,
        "tags": o.tags,
    }
    return body


def tracking(s: Shipment) -> dict[str, Any]:
    """Tracking.ShipmentTrackingResponse (only for shipments that have a label)."""
    assert s.tracking is not None
    history = [{"status": status, "message": message, "timestamp": iso(when)}
               for status, message, when in s.tracking_events]
    status = history[-1]["status"] if history else "PreTransit"
    return {"shipment_id": s.id, "carrier": s.tracking.carrier, "service": s.tracking.carrier_service,
            "carrier_tracking_number": s.tracking.tracking_number, "tracking_id": s.tracking.tracking_number,
            "public_tracking_url": s.tracking.tracking_url, "status": status,
            "last_updated": iso(s.last_tracking_update or s.last_update), "history": history}


def return_order(store: Store, r: ReturnOrder, *, v1: bool = False) -> dict[str, Any]:
    """Returns.PublicReturnDto (GET) or Returns.PublicReturnV1Dto (the POST answer)."""
    fc = store.fc(r.fc_id)
    items = []
    for line in r.lines:
        v = store.variants_by_inventory.get(line.inventory_id)
        item: dict[str, Any] = {"id": line.inventory_id, "quantity": line.quantity,
                                "name": v.name if v else None,
                                "action_requested": {"action": line.action, "action_type": line.action},
                                "action_taken": []}
        if not v1:
            item["sku"] = v.sku if v else None
        items.append(item)
    body: dict[str, Any] = {
        "id": r.id, "reference_id": r.reference_id, "status": r.status, "return_type": "Regular",
        "channel": {"id": r.channel_id, "name": channel_name(r.channel_id)},
        "fulfillment_center": {"id": r.fc_id, "name": fc.name if fc else None},
        "inventory": items, "insert_date": iso(r.created), "completed_date": iso(r.completed),
        "original_shipment_id": r.original_shipment_id, "tracking_number": r.tracking_number,
        "store_order_id": r.store_order_id, "transactions": [],
    }
    if not v1:
        dates = {status: when for status, when in r.history}
        body.update({
            "awaiting_arrival_date": iso(dates.get("AwaitingArrival")), "arrived_date": iso(dates.get("Arrived")),
            "processing_date": iso(dates.get("Processing")), "cancelled_date": iso(dates.get("Cancelled")),
            "status_history": [{"status": status, "timestamp": iso(when)} for status, when in r.history],
        })
    return body


def subscription(sub: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    """Webhooks.V2.WebhookViewModelV2 (list) or Webhooks.V2.Create.WebhookViewModelV2 (create)."""
    body: dict[str, Any] = {"id": sub.id, "url": sub.url, "topics": list(sub.topics),
                            "description": sub.description, "created_at": iso(sub.created_at)}
    if with_secret:
        body["secret"] = sub.secret
    else:
        body["enabled"] = sub.enabled
    return body
