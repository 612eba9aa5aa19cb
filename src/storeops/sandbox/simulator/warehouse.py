"""The warehouse side of the store: stock arriving at ShipBob's fulfillment centers for
SKUs running low, and returns customers register through a returns portal.

Reads go through ShipBob's public API with the sandbox token, sparingly: the simulator
shares the account's 150-requests-per-minute window (developer.shipbob.com/rate-limit)
with storeops itself, so it scans the inventory once, then re-reads only SKUs it sold,
a few times an hour. Stock receipts use the sandbox's POST /_sandbox/inventory (a dock
receiving cartons is not an API call the merchant makes); returns use POST
/2026-01/return, as ShipBob's Returns Portal and return apps do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from storeops.sandbox.simulator.links import Links

LOW_STOCK = 5  # fulfillable units at an FC below which the buyer orders a carton
CASE_PACKS = (24, 36, 48, 60, 72, 96)  # units received per SKU per delivery
INVENTORY_PAGE = 250  # ShipBob's maximum PageSize for inventory-level
MAX_REREAD = 100  # inventory ids per targeted re-read
RETURN_ACTIONS = (("Restock", 75), ("Quarantine", 15), ("Default", 10))
# The FC a region's returns are sent back to: the nearest of the three (by its state).
NEAREST_FC_STATE = {"west": "CA", "midwest": "IL", "canada": "IL", "south": "PA", "northeast": "PA"}


@dataclass
class Placed:
    """A completed Shopify order, as the shopper remembers it."""

    name: str  # "#1013"
    order_id: int
    order_gid: str
    shopper_key: int
    lines: list[tuple[str, int]]  # (sku, quantity)
    minute: int


@dataclass
class Warehouse:
    ready: bool = False
    channel_id: int | None = None
    fc_by_state: dict[str, int] = field(default_factory=dict)
    inventory_ids: dict[str, int] = field(default_factory=dict)  # sku -> ShipBob inventory id
    levels: dict[tuple[str, int], int] = field(default_factory=dict)  # (sku, fc) -> fulfillable
    stocked: set[tuple[str, int]] = field(default_factory=set)  # (sku, fc) the FC carries at all
    sold: set[str] = field(default_factory=set)  # SKUs sold since the last re-read

    async def prepare(self, links: Links) -> None:
        """The channel returns are written on, the FCs, and one full inventory scan."""
        self.ready = True
        status, channels = await links.shipbob_api("GET", "channel")
        if status == 200 and isinstance(channels, dict):
            writable = [c for c in channels.get("items") or [] if "returns_write" in (c.get("scopes") or [])]
            self.channel_id = writable[0]["id"] if writable else None
        status, centers = await links.shipbob_api("GET", "fulfillment-center")
        if status == 200 and isinstance(centers, list):
            self.fc_by_state = {str(fc.get("state")): int(fc["id"]) for fc in reversed(centers)}
        cursor = 1
        while cursor <= 100:
            status, page = await links.shipbob_api("GET", "inventory-level/locations",
                                                   params={"PageSize": INVENTORY_PAGE, "Cursor": cursor})
            if status != 200 or not isinstance(page, dict):
                break
            self._absorb(page.get("items") or [], initial=True)
            if not page.get("next"):
                break
            cursor += 1

    def _absorb(self, items: list[dict[str, Any]], *, initial: bool = False) -> None:
        for item in items:
            sku = str(item.get("sku"))
            self.inventory_ids[sku] = int(item["inventory_id"])
            for location in item.get("locations") or []:
                key = (sku, int(location["location_id"]))
                self.levels[key] = int(location.get("fulfillable_quantity") or 0)
                if initial and int(location.get("on_hand_quantity") or 0) > 0:
                    self.stocked.add(key)

    async def restock(self, links: Links, rng: random.Random, budget: int) -> list[dict[str, Any]]:
        """Re-read the SKUs sold lately, then receive cartons for the lowest stocked levels."""
        sold = sorted(self.inventory_ids[s] for s in self.sold if s in self.inventory_ids)
        self.sold.clear()
        for start in range(0, min(len(sold), 2 * MAX_REREAD), MAX_REREAD):
            ids = ",".join(str(i) for i in sold[start:start + MAX_REREAD])
            status, page = await links.shipbob_api("GET", "inventory-level/locations",
                                                   params={"InventoryIds": ids, "PageSize": INVENTORY_PAGE})
            if status == 200 and isinstance(page, dict):
                self._absorb(page.get("items") or [])
        low = sorted((level, sku, fc) for (sku, fc), level in self.levels.items()
                     if level < LOW_STOCK and (sku, fc) in self.stocked)
        receipts = []
        for level, sku, fc in low[:budget]:
            units = rng.choice(CASE_PACKS)
            status, answer = await links.call("shipbob", "POST", "/_sandbox/inventory",
                                              body={"sku": sku, "fc_id": fc, "delta": units})
            if status == 200 and isinstance(answer, dict):
                self.levels[(sku, fc)] = int(answer.get("fulfillable", level + units))
                receipts.append({"sku": sku, "fc_id": fc, "units": units, "was": level})
        return receipts

    async def portal_return(self, links: Links, rng: random.Random, placed: Placed,
                            region: str) -> dict[str, Any] | None:
        """The shopper registers the return; the portal creates ShipBob's return order.

        If storeops sent the order to ShipBob, its shipped shipment is the original (and
        its FC receives the parcel); otherwise the parcel goes to the region's nearest FC."""
        if self.channel_id is None:
            return None
        action = rng.choices([a for a, _ in RETURN_ACTIONS], weights=[w for _, w in RETURN_ACTIONS])[0]
        quantities: dict[int, int] = {}
        for sku, quantity in placed.lines:
            if sku in self.inventory_ids:
                inventory_id = self.inventory_ids[sku]
                quantities[inventory_id] = quantities.get(inventory_id, 0) + quantity
        if not quantities:
            return None
        tracking = "9400" + "".join(str(rng.randrange(10)) for _ in range(18))  # USPS-style tracking number
        # The reference storeops chose when it created the ShipBob order is not known here:
        # ask for every form a Shopify order is commonly referenced by.
        references = [str(placed.order_id), placed.order_gid, placed.name, placed.name.lstrip("#")]
        status, orders = await links.shipbob_api("GET", "order", params={"ReferenceIds": ",".join(references)})
        shipment = None
        if status == 200 and isinstance(orders, list):
            shipment = next((s for o in orders for s in o.get("shipments") or [] if s.get("status") == "Completed"),
                            None)
        fc_id = (shipment or {}).get("location", {}).get("id") or self.fc_by_state.get(
            NEAREST_FC_STATE.get(region, "PA")) or next(iter(self.fc_by_state.values()), 1)
        body: dict[str, Any] = {
            "reference_id": f"RMA-{placed.name.lstrip('#')}",
            "fulfillment_center": {"id": int(fc_id)},
            "inventory": [{"id": i, "quantity": q, "requested_action": action} for i, q in sorted(quantities.items())],
            "tracking_number": tracking,
        }
        if shipment is not None:
            body["original_shipment_id"] = shipment["id"]
        status, created = await links.shipbob_api("POST", "return", body=body, channel_id=self.channel_id)
        if status != 201 or not isinstance(created, dict):
            return None
        return {"return_id": created.get("id"), "reference_id": body["reference_id"], "fc_id": fc_id,
                "action": action, "original_shipment_id": body.get("original_shipment_id")}
