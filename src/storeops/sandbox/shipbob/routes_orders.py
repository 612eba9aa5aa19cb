"""Orders, shipments and tracking (ShipBob 2026-01)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storeops.sandbox.shipbob import views
from storeops.sandbox.shipbob.http import (
    ApiError,
    field_errors,
    json_body,
    page_headers,
    query_bool,
    query_datetime,
    query_ids,
    query_int,
    query_strings,
)
from storeops.sandbox.shipbob.records import Order, OrderLine, Shipment, now

if TYPE_CHECKING:
    from storeops.sandbox.shipbob.app import ShipbobSandbox

ORDER_TYPES = ("DTC", "DropShip", "B2B")
# The orders service's answer to a second order with the same reference_id on a channel:
# 422 (developer.shipbob.com/errors: "422 | Duplicate reference ID | You have already
# created a product or order with the same reference_id"), body as recorded against the
# live API in brianzinn/shipbob-node-sdk's README.
DUPLICATE_REFERENCE = {"": ["Cannot insert order with existing ReferenceId"]}
MAX_TRACKING_IDS = 25  # GET /2026-01/shipments-tracking: "Accepts between 1 and 25 shipment IDs"


def _parse_lines(sb: ShipbobSandbox, products: Any) -> list[OrderLine]:
    if not isinstance(products, list) or not products:
        raise field_errors(400, {"products": ["At least one product is required."]})
    errors: dict[str, list[str]] = {}
    lines: list[OrderLine] = []
    for i, item in enumerate(products):
        where = f"products[{i}]"
        if not isinstance(item, dict):
            errors[where] = ["A product object is required."]
            continue
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or quantity < 1:
            errors[f"{where}.quantity"] = ["Quantity must be at least 1."]
            continue
        if "reference_id" in item:
            reference = item.get("reference_id")
            if not isinstance(reference, str) or not reference:
                errors[f"{where}.reference_id"] = ["The reference_id field is required."]
                continue
            variant = sb.store.variants_by_sku.get(reference)
            if variant is None and not item.get("name"):
                # The spec: "Products identified by reference_id must also include the product
                # name if there is no matching ShipBob product."
                errors[f"{where}.name"] = ["Name is required when no product has this reference_id."]
                continue
        elif isinstance(item.get("id"), int):
            variant = sb.store.variant_for_product_id(item["id"])
            if variant is None:
                raise field_errors(422, {f"{where}.id": [f"Product {item['id']} does not exist."]})
            reference = variant.sku
        else:
            errors[where] = ["Either reference_id or id is required."]
            continue
        unit_price = item.get("unit_price")
        lines.append(OrderLine(sb.store.next_id("line"), reference, item.get("name"), quantity,
                               float(unit_price) if isinstance(unit_price, int | float) else None, variant,
                               item.get("external_line_id")))
    if errors:
        raise field_errors(400, errors)
    return lines


def _validate_order(body: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if not isinstance(body.get("reference_id"), str) or not body["reference_id"].strip():
        errors["reference_id"] = ["The reference_id field is required."]
    if not isinstance(body.get("shipping_method"), str) or not body["shipping_method"].strip():
        errors["shipping_method"] = ["The shipping_method field is required."]
    if body.get("type") not in ORDER_TYPES:
        errors["type"] = [f"type must be one of {', '.join(ORDER_TYPES)}."]
    recipient = body.get("recipient")
    if not isinstance(recipient, dict) or not recipient.get("name"):
        errors["recipient.name"] = ["The recipient name is required."]
    else:
        address = recipient.get("address")
        for part in ("address1", "city", "country"):
            if not isinstance(address, dict) or not address.get(part):
                errors[f"recipient.address.{part}"] = [f"The {part} field is required."]
    if errors:
        raise field_errors(400, errors)


def _when(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise field_errors(400, {"purchase_date": [f"The value '{raw}' is not a date."]}) from None


def _tags(raw: Any) -> list[dict[str, str]]:
    """Orders.TagViewModel: name and value, both required."""
    if not isinstance(raw, list):
        return []
    return [{"name": str(t["name"]), "value": str(t["value"])} for t in raw
            if isinstance(t, dict) and t.get("name") is not None and t.get("value") is not None]


def order_routes(sb: ShipbobSandbox) -> list[Route]:
    def find_order(request: Request) -> Order:
        order = sb.store.orders.get(request.path_params["order_id"])
        if order is None:
            raise ApiError(404)
        return order

    def find_shipment(shipment_id: int, order: Order | None = None) -> Shipment:
        shipment = sb.store.shipments.get(shipment_id)
        if shipment is None or (order is not None and shipment.order_id != order.id):
            raise ApiError(404)
        return shipment

    async def create_order(request: Request) -> Response:
        channel_id = sb.channel_for_write(request, "orders_write")
        body = await json_body(request)
        _validate_order(body)
        if sb.store.order_by_reference(channel_id, body["reference_id"]) is not None:
            raise field_errors(422, DUPLICATE_REFERENCE)
        lines = _parse_lines(sb, body.get("products"))
        location_id = body.get("location_id")
        if location_id is not None and sb.store.fc(location_id) is None:
            raise field_errors(422, {"location_id": [f"Location {location_id} does not exist."]})
        created = now()
        order = Order(
            id=sb.store.next_id("order"), reference_id=body["reference_id"], channel_id=channel_id,
            order_number=body.get("order_number"), created=created, purchase_date=_when(body.get("purchase_date")),
            recipient=body["recipient"], lines=lines, shipping_method=body["shipping_method"], type=body["type"],
            shipments=[], total_price=(body.get("financials") or {}).get("total_price"),
            gift_message=body.get("gift_message"), tags=_tags(body.get("tags")), updated=created,
        )
        shipment = Shipment(id=sb.store.next_id("shipment"), order_id=order.id, reference_id=order.reference_id,
                            lines=lines, created=created, last_update=created)
        order.shipments.append(shipment)
        sb.store.orders[order.id] = order
        sb.store.shipments[shipment.id] = shipment
        sb.warehouse.start(order, shipment, location_id)
        sb.wake()
        return JSONResponse(views.order(sb.store, order), status_code=201)

    async def list_orders(request: Request) -> Response:
        number = query_int(request, "Page", 1, low=1, high=2_147_483_647)
        size = query_int(request, "Limit", 50, low=1, high=250)
        ids = query_ids(request, "IDs")
        references = query_strings(request, "ReferenceIds")
        start, end = query_datetime(request, "StartDate"), query_datetime(request, "EndDate")
        updated_from = query_datetime(request, "LastUpdateStartDate")
        updated_to = query_datetime(request, "LastUpdateEndDate")
        has_tracking = query_bool(request, "HasTracking")
        chosen = []
        for order in sb.store.orders.values():
            tracked = any(s.tracking is not None for s in order.shipments)
            if ids is not None and order.id not in ids:
                continue
            if references is not None and order.reference_id not in references:
                continue
            if (start and order.created < start) or (end and order.created > end):
                continue
            if (updated_from and order.updated < updated_from) or (updated_to and order.updated > updated_to):
                continue
            if has_tracking is not None and tracked != has_tracking:
                continue
            chosen.append(order)
        # SortOrder: Newest (default) or Oldest, as ShipBob's order list documents.
        oldest_first = (request.query_params.get("SortOrder") or "Newest").lower() == "oldest"
        chosen.sort(key=lambda o: o.id, reverse=not oldest_first)
        chunk = chosen[(number - 1) * size: number * size]
        headers = page_headers(number, size, len(chosen))
        if number * size < len(chosen):
            headers["Next-Page"] = str(request.url.include_query_params(Page=str(number + 1)))
        return JSONResponse([views.order(sb.store, o) for o in chunk], headers=headers)

    async def get_order(request: Request) -> Response:
        return JSONResponse(views.order(sb.store, find_order(request)))

    async def cancel_order(request: Request) -> Response:
        order = find_order(request)
        results = sb.warehouse.cancel(order)
        done = [ok for _, ok, _ in results]
        status = "Success" if all(done) else "PartialSuccess" if any(done) else "Failure"
        return JSONResponse({
            "order_id": order.id, "status": status, "order": views.order(sb.store, order),
            "canceled_shipment_results": [{"shipment_id": s.id, "action": "Cancel", "is_success": ok,
                                           "reason": reason} for s, ok, reason in results],
        })

    async def order_shipments(request: Request) -> Response:
        order = find_order(request)
        return JSONResponse([views.shipment(sb.store, s, order, internal=True) for s in order.shipments])

    async def order_shipment(request: Request) -> Response:
        order = find_order(request)
        shipment = find_shipment(request.path_params["shipment_id"], order)
        return JSONResponse(views.shipment(sb.store, shipment, order))

    async def get_shipment(request: Request) -> Response:
        shipment = find_shipment(request.path_params["shipment_id"])
        return JSONResponse(views.shipment(sb.store, shipment, sb.store.orders[shipment.order_id]))

    async def shipments_tracking(request: Request) -> Response:
        try:
            ids = query_ids(request, "ShipmentIds")
        except ApiError:
            ids = None
        if not ids or len(ids) > MAX_TRACKING_IDS:
            # Tracking.Get.Api.V1.Publictracking.Shipments.Bad.Request.String: a bare string.
            raise ApiError(400, f"Provide between 1 and {MAX_TRACKING_IDS} shipment ids.")
        found = [sb.store.shipments[i] for i in sorted(ids) if i in sb.store.shipments]
        return JSONResponse([views.tracking(s) for s in found if s.tracking is not None])

    return [
        Route("/2026-01/order", sb.api(create_order), methods=["POST"]),
        Route("/2026-01/order", sb.api(list_orders), methods=["GET"]),
        Route("/2026-01/order/{order_id:int}", sb.api(get_order), methods=["GET"]),
        Route("/2026-01/order/{order_id:int}:cancel", sb.api(cancel_order), methods=["POST"]),
        Route("/2026-01/order/{order_id:int}/shipment", sb.api(order_shipments), methods=["GET"]),
        Route("/2026-01/order/{order_id:int}/shipment/{shipment_id:int}", sb.api(order_shipment), methods=["GET"]),
        Route("/2026-01/shipment/{shipment_id:int}", sb.api(get_shipment), methods=["GET"]),
        Route("/2026-01/shipments-tracking", sb.api(shipments_tracking), methods=["GET"]),
    ]
