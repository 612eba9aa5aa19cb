"""Queries and fields for the shop, locations, products, variants and inventory."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from storeops.sandbox.shopify import search
from storeops.sandbox.shopify.graph import connection, resolves, sort_key, store_of
from storeops.sandbox.shopify.ids import CURRENCY, gid, iso_z, money_v2, parse_gid
from storeops.sandbox.shopify.mutations import err, mutation
from storeops.sandbox.shopify.payloads import option_id
from storeops.sandbox.shopify.records import InventoryItem, InventoryLevel, Location, Product, Variant
from storeops.sandbox.shopify.store import Store

Info = GraphQLResolveInfo


# --- shop ----------------------------------------------------------------------------------
@resolves("QueryRoot", "shop")
def shop(_: Any, info: Info) -> dict[str, Any]:
    store = store_of(info)
    return {
        "id": gid("Shop", store.shop_id), "name": store.shop_name, "email": f"owner@{store.shop_domain}",
        "contactEmail": f"support@{store.shop_domain}", "myshopifyDomain": store.shop_domain,
        "currencyCode": CURRENCY, "ianaTimezone": "Etc/UTC", "weightUnit": "GRAMS",
        # The Standard plan's limits (100 points/s, 2000 bucket) apply to Basic and Shopify plans.
        "plan": {"publicDisplayName": "Basic", "partnerDevelopment": False, "shopifyPlus": False},
        "createdAt": store.shop_created_at, "updatedAt": store.shop_created_at,
        "url": f"https://{store.shop_domain}",
    }


# --- locations -----------------------------------------------------------------------------
LOCATION_FIELDS = {"name": lambda loc: loc.name, "id": lambda loc: loc.id, "active": lambda loc: loc.is_active}


@resolves("QueryRoot", "locations")
def locations(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    items = search.apply(store_of(info).locations.values(), args.get("query"), LOCATION_FIELDS, lambda loc: loc.name)
    return connection(items, args, sort_key(args.get("sortKey"), {"NAME": lambda loc: loc.name.lower(),
                                                                   "ID": lambda loc: loc.id}))


@resolves("QueryRoot", "location")
def location(_: Any, info: Info, id: str | None = None) -> Location | None:
    store = store_of(info)
    if id is None:  # no id: the shop's primary location
        return min(store.locations.values(), key=lambda loc: loc.fc_id, default=None)
    return store.locations.get(parse_gid(id, "Location") or 0)


LEVEL_FIELDS = {
    "inventory_item_id": lambda lvl: lvl.item_id, "location_id": lambda lvl: lvl.location_id,
    "updated_at": lambda lvl: lvl.updated_at,
}


def _levels(store: Store, levels: list[InventoryLevel], args: dict[str, Any]) -> dict[str, Any]:
    fields = {**LEVEL_FIELDS, "sku": lambda lvl: store.items[lvl.item_id].sku}
    items = search.apply(levels, args.get("query"), fields, lambda lvl: store.items[lvl.item_id].sku)
    return connection(items, args, lambda lvl: [lvl.item_id, lvl.location_id])


@resolves("Location", "inventoryLevels")
def location_levels(loc: Location, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return _levels(store, store.levels_at(loc.id), args)


@resolves("Location", "inventoryLevel")
def location_level(loc: Location, info: Info, inventoryItemId: str, **_: Any) -> InventoryLevel | None:
    return store_of(info).levels.get((parse_gid(inventoryItemId, "InventoryItem") or 0, loc.id))


# --- products and variants -----------------------------------------------------------------
def product_fields(store: Store) -> dict[str, search.Getter]:
    return {
        "id": lambda p: p.id, "title": lambda p: p.title, "handle": lambda p: p.handle,
        "vendor": lambda p: p.vendor, "product_type": lambda p: p.product_type, "status": lambda p: p.status,
        "tag": lambda p: p.tags, "created_at": lambda p: p.created_at, "updated_at": lambda p: p.updated_at,
        "published_at": lambda p: p.published_at,
        "sku": lambda p: [store.variants[v].sku for v in p.variant_ids],
        "barcode": lambda p: [store.variants[v].barcode for v in p.variant_ids],
    }


PRODUCT_SORTS = {"ID": lambda p: p.id, "TITLE": lambda p: p.title.lower(), "VENDOR": lambda p: p.vendor.lower(),
                 "PRODUCT_TYPE": lambda p: p.product_type.lower(), "CREATED_AT": lambda p: iso_z(p.created_at),
                 "UPDATED_AT": lambda p: iso_z(p.updated_at), "PUBLISHED_AT": lambda p: iso_z(p.published_at)}


@resolves("QueryRoot", "products")
def products(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    items = search.apply(store.products.values(), args.get("query"), product_fields(store), lambda p: p.title)
    return connection(items, args, sort_key(args.get("sortKey"), PRODUCT_SORTS))


@resolves("QueryRoot", "product")
def product(_: Any, info: Info, id: str) -> Product | None:
    return store_of(info).products.get(parse_gid(id, "Product") or 0)


def variant_fields(store: Store) -> dict[str, search.Getter]:
    return {
        "id": lambda v: v.id, "sku": lambda v: v.sku, "barcode": lambda v: v.barcode, "title": lambda v: v.title,
        "product_id": lambda v: v.product_id, "inventory_item_id": lambda v: v.inventory_item_id,
        "created_at": lambda v: v.created_at, "updated_at": lambda v: v.updated_at,
    }


@resolves("QueryRoot", "productVariants")
def product_variants(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    items = search.apply(store.variants.values(), args.get("query"), variant_fields(store), lambda v: v.sku)
    return connection(items, args, sort_key(args.get("sortKey"), {
        "ID": lambda v: v.id, "SKU": lambda v: v.sku or "", "TITLE": lambda v: v.title.lower(),
        "POSITION": lambda v: v.position}))


@resolves("QueryRoot", "productVariant")
def product_variant(_: Any, info: Info, id: str) -> Variant | None:
    return store_of(info).variants.get(parse_gid(id, "ProductVariant") or 0)


@resolves("Product", "options")
def product_options(p: Product, info: Info, first: int | None = None) -> list[dict[str, Any]]:
    options = [{"id": gid("ProductOption", option_id(p, i)), "name": name, "position": i, "values": values}
               for i, (name, values) in enumerate(p.options, start=1)]
    return options if first is None else options[:first]


@resolves("Product", "variants")
def product_variant_list(p: Product, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return connection([store.variants[v] for v in p.variant_ids], args, sort_key(
        args.get("sortKey") or "POSITION", {"POSITION": lambda v: v.position, "ID": lambda v: v.id,
                                             "SKU": lambda v: v.sku or ""}))


@resolves("Product", "variantsCount")
def product_variant_count(p: Product, info: Info) -> dict[str, Any]:
    return {"count": len(p.variant_ids), "precision": "EXACT"}


@resolves("Product", "totalInventory")
def product_total_inventory(p: Product, info: Info) -> int:
    store = store_of(info)
    return sum(store.available_total(store.variants[v]) for v in p.variant_ids)


@resolves("Product", "tracksInventory")
def product_tracks_inventory(p: Product, info: Info) -> bool:
    return True


@resolves("Product", "hasOnlyDefaultVariant")
def product_default_only(p: Product, info: Info) -> bool:
    return p.options == [("Title", ["Default Title"])]


@resolves("ProductVariant", "displayName")
def variant_display_name(v: Variant, info: Info) -> str:
    return f"{store_of(info).product_of(v).title} - {v.title}"


@resolves("ProductVariant", "inventoryQuantity")
def variant_quantity(v: Variant, info: Info) -> int:
    return store_of(info).available_total(v)


@resolves("ProductVariant", "availableForSale")
def variant_for_sale(v: Variant, info: Info) -> bool:
    return v.inventory_policy == "CONTINUE" or store_of(info).available_total(v) > 0


@resolves("ProductVariant", "selectedOptions")
def variant_options(v: Variant, info: Info) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in v.options.items()]


@resolves("ProductVariant", "product")
def variant_product(v: Variant, info: Info) -> Product:
    return store_of(info).product_of(v)


@resolves("ProductVariant", "inventoryItem")
def variant_item(v: Variant, info: Info) -> InventoryItem:
    return store_of(info).items[v.inventory_item_id]


# --- inventory items and levels ------------------------------------------------------------
@resolves("QueryRoot", "inventoryItems")
def inventory_items(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    fields = {"id": lambda i: i.id, "sku": lambda i: i.sku, "created_at": lambda i: i.created_at,
              "updated_at": lambda i: i.updated_at}
    items = search.apply(store_of(info).items.values(), args.get("query"), fields, lambda i: i.sku)
    return connection(items, args, sort_key("ID", {"ID": lambda i: i.id}))


@resolves("QueryRoot", "inventoryItem")
def inventory_item(_: Any, info: Info, id: str) -> InventoryItem | None:
    return store_of(info).items.get(parse_gid(id, "InventoryItem") or 0)


@resolves("QueryRoot", "inventoryLevel")
def inventory_level(_: Any, info: Info, id: str) -> InventoryLevel | None:
    found = store_of(info).find(id)
    return found if isinstance(found, InventoryLevel) else None


@resolves("InventoryItem", "measurement")
def item_measurement(item: InventoryItem, info: Info) -> dict[str, Any]:
    return {"id": gid("InventoryItemMeasurement", item.id),
            "weight": {"unit": "GRAMS", "value": float(item.weight_grams)}}


@resolves("InventoryItem", "unitCost")
def item_cost(item: InventoryItem, info: Info) -> dict[str, Any] | None:
    return None if item.unit_cost is None else money_v2(item.unit_cost)


@resolves("InventoryItem", "inventoryLevels")
def item_levels(item: InventoryItem, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return _levels(store, store.levels_of_item(item.id), args)


@resolves("InventoryItem", "inventoryLevel")
def item_level(item: InventoryItem, info: Info, locationId: str, **_: Any) -> InventoryLevel | None:
    return store_of(info).levels.get((item.id, parse_gid(locationId, "Location") or 0))


@resolves("InventoryLevel", "item")
def level_item(level: InventoryLevel, info: Info) -> InventoryItem:
    return store_of(info).items[level.item_id]


@resolves("InventoryLevel", "location")
def level_location(level: InventoryLevel, info: Info) -> Location:
    return store_of(info).locations[level.location_id]


@resolves("InventoryLevel", "canDeactivate")
def level_can_deactivate(level: InventoryLevel, info: Info) -> bool:
    return level.quantities["committed"] == 0


@resolves("InventoryLevel", "quantities")
def level_quantities(level: InventoryLevel, info: Info, names: list[str]) -> list[dict[str, Any]]:
    # Unknown names are skipped; Shopify answers only the names it knows.
    return [{"id": f"gid://shopify/InventoryQuantity/{level.location_id}?inventory_item_id={level.item_id}"
                   f"&name={name}", "name": name, "quantity": level.quantities[name], "updatedAt": level.updated_at}
            for name in names if name in level.quantities]


# --- product content (productUpdate, 2026-07: `product: ProductUpdateInput`) ----------------
@resolves("Product", "seo")
def product_seo(p: Product, info: Info) -> dict[str, Any]:
    return {"title": p.seo_title, "description": p.seo_description}


PRODUCT_TITLE_MAX = 255


@mutation("productUpdate")
def product_update(_: Any, info: Info, product: dict[str, Any] | None = None, **args: Any) -> dict[str, Any]:
    """Title, descriptionHtml, seo, vendor, productType, tags and status; other inputs are refused
    with a userError rather than silently ignored."""
    store = store_of(info)
    fields = product or args.get("input") or {}
    found = store.products.get(parse_gid(fields.get("id") or "", "Product") or 0)
    if found is None:
        return {"product": None, "userErrors": [err("Product does not exist", ["id"])]}
    supported = {"id", "title", "descriptionHtml", "seo", "vendor", "productType", "tags", "status"}
    # graphql-core fills input defaults in (deleteConflictingConstrainedMetafields: false).
    unsupported = sorted(k for k, v in fields.items() if k not in supported and v not in (None, False))
    if unsupported:
        return {"product": None,
                "userErrors": [err(f"The sandbox does not emulate {unsupported[0]}", [unsupported[0]])]}
    title = fields.get("title")
    if title is not None and not str(title).strip():
        return {"product": None, "userErrors": [err("Title can't be blank", ["title"])]}
    if title is not None and len(title) > PRODUCT_TITLE_MAX:
        return {"product": None, "userErrors": [err(f"Title is too long (maximum is {PRODUCT_TITLE_MAX} characters)",
                                                    ["title"])]}
    for name, attr in (("title", "title"), ("descriptionHtml", "description_html"), ("vendor", "vendor"),
                       ("productType", "product_type"), ("tags", "tags"), ("status", "status")):
        if fields.get(name) is not None:
            setattr(found, attr, fields[name])
    seo = fields.get("seo")
    if seo is not None:
        found.seo_title = seo.get("title", found.seo_title)
        found.seo_description = seo.get("description", found.seo_description)
    store.touch_product(found)
    return {"product": found, "userErrors": []}
