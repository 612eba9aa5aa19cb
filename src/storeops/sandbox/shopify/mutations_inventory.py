"""inventorySetQuantities and inventoryAdjustQuantities (Admin GraphQL 2026-07).

Compare-and-set: every InventoryQuantityInput / InventoryChangeInput must carry
`changeFromQuantity` explicitly (null opts out); a value that differs from the stored
quantity fails the whole call with CHANGE_FROM_QUANTITY_STALE and changes nothing
(schema descriptions of both input types; shopify.dev "Manage inventory quantities
and states", compare and swap).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from storeops.sandbox.shopify.graph import store_of
from storeops.sandbox.shopify.ids import now, parse_gid
from storeops.sandbox.shopify.mutations import err, mutation
from storeops.sandbox.shopify.records import HELD_STATES, InventoryLevel
from storeops.sandbox.shopify.store import Store

# shopify.dev "Inventory states": reasons accepted by the quantity mutations.
REASONS = {"correction", "cycle_count_available", "damaged", "movement_created", "movement_updated",
           "movement_received", "movement_canceled", "other", "promotion", "quality_control", "received",
           "reservation_created", "reservation_deleted", "reservation_updated", "restock", "safety_stock",
           "shrinkage"}
MAX_ITEMS = 250


def _group(store: Store, reason: str, uri: str | None, changes: list[dict[str, Any]]) -> dict[str, Any]:
    group_id = store.ids.next()
    return {"id": f"gid://shopify/InventoryAdjustmentGroup/{group_id}", "createdAt": now(), "reason": reason,
            "referenceDocumentUri": uri, "changes": changes}


def _change(store: Store, level: InventoryLevel, name: str, delta: int, after: int,
            ledger: str | None = None) -> dict[str, Any]:
    return {"name": name, "delta": delta, "quantityAfterChange": after, "ledgerDocumentUri": ledger,
            "item": store.items[level.item_id], "location": store.locations[level.location_id]}


def _resolve_level(store: Store, item_gid: str, location_gid: str, path: list[str],
                   typename: str) -> tuple[InventoryLevel | None, dict[str, Any] | None]:
    item_id = parse_gid(item_gid, "InventoryItem")
    loc_id = parse_gid(location_gid, "Location")
    if item_id not in store.items:
        return None, err("The specified inventory item could not be found.", [*path, "inventoryItemId"],
                         "INVALID_INVENTORY_ITEM", typename)
    if loc_id not in store.locations:
        return None, err("The specified location could not be found.", [*path, "locationId"],
                         "INVALID_LOCATION", typename)
    level = store.levels.get((item_id, loc_id))
    if level is None:
        return None, err("The specified inventory item is not stocked at the location.", path,
                         "ITEM_NOT_STOCKED_AT_LOCATION", typename)
    return level, None


@mutation("inventorySetQuantities", idempotent=True, error_type="InventorySetQuantitiesUserError")
def inventory_set_quantities(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    store = store_of(info)
    typename = "InventorySetQuantitiesUserError"
    errors: list[dict[str, Any]] = []
    name, reason = input["name"], input["reason"]
    if name not in ("available", "on_hand"):
        errors.append(err("The quantity name must be either 'available' or 'on_hand'.", ["input", "name"],
                          "INVALID_NAME", typename))
    if reason not in REASONS:
        errors.append(err("The specified reason is invalid.", ["input", "reason"], "INVALID_REASON", typename))
    quantities = input["quantities"]
    if len(quantities) > MAX_ITEMS:
        errors.append(err(f"The input array size of {len(quantities)} is greater than the maximum allowed of "
                          f"{MAX_ITEMS}.", ["input", "quantities"], None, typename))
    plan: list[tuple[InventoryLevel, int]] = []
    seen: set[tuple[int, int]] = set()
    for index, q in enumerate(quantities if not errors else []):
        path = ["input", "quantities", str(index)]
        level, problem = _resolve_level(store, q["inventoryItemId"], q["locationId"], path, typename)
        if problem is not None or level is None:
            errors.append(problem or {})
            continue
        if (level.item_id, level.location_id) in seen:
            errors.append(err("The combination of inventoryItemId and locationId must be unique.", path,
                              "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR", typename))
            continue
        seen.add((level.item_id, level.location_id))
        if q["quantity"] < 0 and name == "on_hand":
            errors.append(err("The quantity can't be negative.", [*path, "quantity"], "INVALID_QUANTITY_NEGATIVE",
                              typename))
            continue
        if "changeFromQuantity" not in q:
            errors.append(err("changeFromQuantity is required: pass the quantity you expect, or null to skip the "
                              "check.", [*path, "changeFromQuantity"], "COMPARE_QUANTITY_REQUIRED", typename))
            continue
        expected = q["changeFromQuantity"]
        if expected is not None and expected != level.quantities[name]:
            errors.append(err(f"The specified compare quantity does not match the current quantity: "
                              f"{level.quantities[name]}.", [*path, "changeFromQuantity"],
                              "CHANGE_FROM_QUANTITY_STALE", typename))
            continue
        plan.append((level, q["quantity"]))
    if errors:  # all or nothing
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    changes = []
    for level, quantity in plan:
        for changed, delta, after in store.change_quantity(level, name, quantity - level.quantities[name]):
            changes.append(_change(store, level, changed, delta, after))
    return {"inventoryAdjustmentGroup": _group(store, reason, input.get("referenceDocumentUri"), changes),
            "userErrors": []}


@mutation("inventoryAdjustQuantities", idempotent=True, error_type="InventoryAdjustQuantitiesUserError")
def inventory_adjust_quantities(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
    store = store_of(info)
    typename = "InventoryAdjustQuantitiesUserError"
    errors: list[dict[str, Any]] = []
    name, reason = input["name"], input["reason"]
    if name not in ("available", "incoming", "on_hand", *HELD_STATES) or name == "committed":
        errors.append(err("The quantity name is invalid.", ["input", "name"], "INVALID_QUANTITY_NAME", typename))
    if reason not in REASONS:
        errors.append(err("The specified reason is invalid.", ["input", "reason"], "INVALID_REASON", typename))
    plan: list[tuple[InventoryLevel, int, str | None]] = []
    for index, change in enumerate(input["changes"] if not errors else []):
        path = ["input", "changes", str(index)]
        level, problem = _resolve_level(store, change["inventoryItemId"], change["locationId"], path, typename)
        if problem is not None or level is None:
            errors.append(problem or {})
            continue
        ledger = change.get("ledgerDocumentUri")
        if name != "available" and not ledger:
            errors.append(err("A ledger document URI is required for quantity names other than available.",
                              [*path, "ledgerDocumentUri"], "INVALID_LEDGER_DOCUMENT", typename))
            continue
        if "changeFromQuantity" not in change:
            errors.append(err("changeFromQuantity is required: pass the quantity you expect, or null to skip the "
                              "check.", [*path, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE", typename))
            continue
        expected = change["changeFromQuantity"]
        if expected is not None and expected != level.quantities[name]:
            errors.append(err(f"The specified compare quantity does not match the current quantity: "
                              f"{level.quantities[name]}.", [*path, "changeFromQuantity"],
                              "CHANGE_FROM_QUANTITY_STALE", typename))
            continue
        plan.append((level, change["delta"], ledger))
    if errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    changes = []
    for level, delta, ledger in plan:
        for changed, d, after in store.change_quantity(level, name, delta):
            changes.append(_change(store, level, changed, d, after, ledger if changed == name else None))
    return {"inventoryAdjustmentGroup": _group(store, reason, input.get("referenceDocumentUri"), changes),
            "userErrors": []}
