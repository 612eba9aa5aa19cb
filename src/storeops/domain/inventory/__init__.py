"""Inventory: stock levels, reservations, channel ATP.

The truth is StockLevel (units on hand per SKU per location, from ShipBob). What a channel
may offer is its available-to-promise (atp.py): on hand - open reservations - the channel's
safety buffer, its share of the pool, zero below its floor.

Service API for other flows, all inside the caller's transaction (services.py):

    reserve(session, shop_id, order_id, lines, location=None) -> ReservationResult
        lines: [(sku, quantity)]. All or nothing: ok=True with (sku, location, units) reserved,
        or ok=False with `short` = [Shortage(sku, wanted, available)] and nothing reserved.
        Idempotent per order (a second call returns what the order holds, already=True).
        Locks the SKUs' stock rows (FOR UPDATE), so concurrent orders never promise the same unit.
    release(session, order_id, status="released"|"shipped") -> [sku]
        Cancelled orders release; shipped orders stop counting (ShipBob's on hand drops).
    available_by_location(session, skus) -> {(location, sku): on hand - reserved}
        Which FC can ship what, from our snapshot, without a vendor call.
    routing_stock(session, order_id, skus) -> ({(location, sku): units}, tracked SKUs)
        For routing one order: its own reservations count back in; locks the rows.
    reassign(session, shop_id, order_id, [(sku, location, units)]) -> changed
        Routing chose the FCs: the order's units are held there, nowhere else.
    refresh_targets(session, shop_id, skus)
        After any of the above: recompute channel ATP, mark changed listings pending (the
        inventory flow pushes them, coalesced and batched).

Pure functions (atp.py): atp, channel_targets, coalesce, batches, resolve_conflict.
"""

from storeops.domain.inventory.atp import (
    Policy,
    Resolution,
    StockChange,
    atp,
    atp_by_channel,
    batches,
    channel_targets,
    coalesce,
    resolve_conflict,
)
from storeops.domain.inventory.services import (
    ReservationResult,
    Shortage,
    StockApplied,
    available_by_location,
    reassign,
    release,
    reserve,
    routing_stock,
)

__all__ = [
    "Policy",
    "ReservationResult",
    "Resolution",
    "Shortage",
    "StockApplied",
    "StockChange",
    "atp",
    "atp_by_channel",
    "available_by_location",
    "batches",
    "channel_targets",
    "coalesce",
    "release",
    "reassign",
    "reserve",
    "routing_stock",
    "resolve_conflict",
]
