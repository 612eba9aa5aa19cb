"""Fulfillment centers, channels, products and inventory levels (ShipBob 2026-01)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storeops.sandbox.shipbob import views
from storeops.sandbox.shipbob.http import (
    ApiError,
    json_body,
    page,
    problem,
    query_bool,
    query_datetime,
    query_ids,
    query_int,
    query_strings,
)
from storeops.sandbox.shipbob.records import Store, Variant

if TYPE_CHECKING:
    from storeops.sandbox.shipbob.app import ShipbobSandbox

# GET /2026-01/product: "PageSize 1-250"; ShipBob's lists default to 50 per page
# (developer.shipbob.com/guides/tracking: "the default will return only 50 orders").
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 250
GRAMS_PER_OUNCE = Decimal("28.349523125")


def catalog_routes(sb: ShipbobSandbox) -> list[Route]:
    def store() -> Store:  # looked up per call: reset replaces the store
        return sb.store

    async def fulfillment_centers(_: Request) -> Response:
        return JSONResponse([views.fulfillment_center(fc) for fc in store().fulfillment_centers])

    async def channels(request: Request) -> Response:
        size = query_int(request, "RecordsPerPage", 50, low=1, high=250)
        number = query_int(request, "Cursor", 1, low=1, high=10**6)
        items, links = page(views.channels(), request, number=number, size=size)
        return JSONResponse({"items": items, "next": links["next"], "prev": links["prev"]})

    async def list_products(request: Request) -> Response:
        size = query_int(request, "PageSize", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
        number = query_int(request, "Cursor", 1, low=1, high=10**6)
        skus = query_strings(request, "SKU")
        product_ids = query_ids(request, "ProductId")
        variant_ids = query_ids(request, "VariantId")
        inventory_ids = query_ids(request, "InventoryId")
        search = (request.query_params.get("Search") or "").lower()
        since = query_datetime(request, "LastUpdatedTimestamp")
        selected = []
        for product in sorted(store().products.values(), key=lambda p: p.id):
            variants = product.variants
            if product_ids is not None and product.id not in product_ids:
                continue
            if skus is not None and not any(v.sku in skus for v in variants):
                continue
            if variant_ids is not None and not any(v.id in variant_ids for v in variants):
                continue
            if inventory_ids is not None and not any(v.inventory_id in inventory_ids for v in variants):
                continue
            if search and search not in product.name.lower() and not any(search in v.sku.lower() for v in variants):
                continue
            if since is not None and product.updated_on < since:
                continue
            selected.append(product)
        chunk, links = page(selected, request, number=number, size=size)
        return JSONResponse({"items": [views.product(store(), p) for p in chunk], **links})

    async def create_product(request: Request) -> Response:
        body = await json_body(request, errors="problem")
        name = body.get("name")
        variants = body.get("variants") or []
        errors: dict[str, list[str]] = {}
        if not isinstance(name, str) or not name.strip():
            errors["name"] = ["The Name field is required."]
        if not isinstance(variants, list) or not variants:
            errors["variants"] = ["At least one variant is required."]
        seen: set[str] = set()
        for i, v in enumerate(variants if isinstance(variants, list) else []):
            sku = v.get("sku") if isinstance(v, dict) else None
            if not isinstance(sku, str) or not sku.strip():
                errors[f"variants[{i}].sku"] = ["The Sku field is required."]
            elif sku in store().variants_by_sku or sku in seen:
                # developer.shipbob.com/errors: 422 "You have already created a product or
                # order with the same reference_id".
                raise problem(422, "Duplicate SKU", f"A variant with SKU '{sku}' already exists.")
            else:
                seen.add(sku)
        if errors or not isinstance(name, str):
            raise ApiError(400, {"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
                                 "title": "One or more validation errors occurred.", "status": 400,
                                 "errors": errors})
        product = store().add_product(name.strip())
        for v in variants:
            barcode = next((b.get("value") for b in v.get("barcodes") or [] if b.get("value")), None) or v.get("upc")
            weight_oz = Decimal(str(v.get("weight") or 0))
            store().add_variant(product, sku=v["sku"], name=v.get("name") or name, barcode=barcode,
                                price=Decimal("0"), weight_grams=int(weight_oz * GRAMS_PER_OUNCE))
        return JSONResponse(views.product(store(), product), status_code=201)

    async def get_product(request: Request) -> Response:
        product = store().products.get(request.path_params["product_id"])
        if product is None:
            raise problem(404, "Not Found", "Product not found")
        return JSONResponse(views.product(store(), product))

    def _inventory(request: Request) -> list[Variant]:
        ids = query_ids(request, "InventoryIds")
        search = (request.query_params.get("SearchBy") or "").lower()
        active = query_bool(request, "IsActive")
        chosen = []
        for inventory_id in sorted(store().variants_by_inventory):
            v = store().variants_by_inventory[inventory_id]
            if ids is not None and inventory_id not in ids:
                continue
            if search and search not in v.sku.lower() and search not in v.name.lower():
                continue
            if active is not None and v.active != active:
                continue
            chosen.append(v)
        return chosen

    def _paging(request: Request) -> tuple[int, int]:
        try:
            return (query_int(request, "PageSize", DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE),
                    query_int(request, "Cursor", 1, low=1, high=10**6))
        except ApiError as exc:
            raise problem(400, "Bad Request", str(exc.body)) from None

    async def inventory_levels(request: Request) -> Response:
        size, number = _paging(request)
        chunk, links = page(_inventory(request), request, number=number, size=size)
        return JSONResponse({"items": [views.inventory_totals(store(), v) for v in chunk], **links})

    async def inventory_locations(request: Request) -> Response:
        size, number = _paging(request)
        raw_location = request.query_params.get("LocationId")
        location_id = int(raw_location) if raw_location and raw_location.isdigit() else None
        chunk, links = page(_inventory(request), request, number=number, size=size)
        items = [views.inventory_by_location(store(), v, location_id) for v in chunk]
        return JSONResponse({"items": items, **links})

    def _variant(request: Request) -> Variant:
        v = store().variants_by_inventory.get(request.path_params["inventory_id"])
        if v is None:
            raise problem(404, "Not Found", "Inventory not found")
        return v

    async def inventory_level(request: Request) -> Response:
        return JSONResponse(views.inventory_totals(store(), _variant(request)))

    async def inventory_level_locations(request: Request) -> Response:
        return JSONResponse(views.inventory_by_location(store(), _variant(request)))

    return [
        Route("/2026-01/fulfillment-center", sb.api(fulfillment_centers), methods=["GET"]),
        Route("/2026-01/channel", sb.api(channels), methods=["GET"]),
        Route("/2026-01/product", sb.api(list_products), methods=["GET"]),
        Route("/2026-01/product", sb.api(create_product), methods=["POST"]),
        Route("/2026-01/product/{product_id:int}", sb.api(get_product), methods=["GET"]),
        Route("/2026-01/inventory-level", sb.api(inventory_levels), methods=["GET"]),
        Route("/2026-01/inventory-level/locations", sb.api(inventory_locations), methods=["GET"]),
        Route("/2026-01/inventory-level/{inventory_id:int}", sb.api(inventory_level), methods=["GET"]),
        Route("/2026-01/inventory-level/{inventory_id:int}/locations", sb.api(inventory_level_locations),
              methods=["GET"]),
    ]
