"""What routing an order reads besides the order: the stock it may use and the merchant's rules.

Stock. When storeops tracks inventory (the inventory_sync automation is shadow or live, so
ShipBob's levels per FC are polled into stock_levels), routing uses that snapshot: on hand
minus the other orders' open reservations, per FC. A SKU without stock rows is untracked and
treated as available everywhere: ShipBob alone knows, and an FC short of it parks the
shipment in Exception (the stock_shortage path in flows/orders.py). When the snapshot
cannot ship the order from anywhere, the order still goes to ShipBob on the assumption of
stock there (the snapshot may lag a receipt); the decision record says so.

Holding units. Once a live decision routes the order, its units are reserved at the FCs
that ship them (the inventory flow reserved them at intake wherever most were free; this
moves them). Channels then offer what is left, so two orders never promise the same unit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import OFF
from storeops.domain.inventory import services as stock
from storeops.domain.orders import FulfillmentCenter, Line, OrderFacts, RoutingRule
from storeops.domain.orders import services as orders

INVENTORY = "inventory_sync"
SNAPSHOT_RULE = "stock_snapshot@1"
ASSUMED_RULE = "stock_assumed_at_shipbob@1"
SNAPSHOT, UNTRACKED, SHORT = "snapshot", "untracked", "snapshot_short"


@dataclass
class RoutingStock:
    """The stock map routing gets, and what it was made of (for the decision record)."""

    stock: dict[tuple[str, str], int]  # (fc id, sku) -> units
    tracked: set[str] = field(default_factory=set)  # SKUs with stock rows
    source: str = UNTRACKED

    def outputs(self) -> dict[str, Any]:
        by_fc: dict[str, dict[str, int]] = defaultdict(dict)
        for (fc, sku), units in sorted(self.stock.items()):
            if sku in self.tracked:
                by_fc[fc][sku] = units
        return {"source": self.source, "tracked_skus": sorted(self.tracked), "available": dict(by_fc)}


def _wanted(lines: Sequence[Line]) -> dict[str, int]:
    wanted: dict[str, int] = defaultdict(int)
    for line in lines:
        wanted[line.sku] += line.quantity
    return wanted


def _plenty(lines: Sequence[Line], fcs: Sequence[FulfillmentCenter]) -> dict[tuple[str, str], int]:
    return {(fc.id, sku): units for fc in fcs for sku, units in _wanted(lines).items()}


def tracks_stock(session: Session, shop_id: str) -> bool:
    return decisions.mode_for(session, shop_id, INVENTORY) != OFF


def stock_for(session: Session, shop_id: str, order_id: str, facts: OrderFacts,
              fcs: Sequence[FulfillmentCenter]) -> RoutingStock:
    """The stock map for routing this order (locks its SKUs' stock rows when tracked)."""
    plenty = _plenty(facts.lines, fcs)
    if not tracks_stock(session, shop_id):
        return RoutingStock(plenty)
    available, tracked = stock.routing_stock(session, order_id, sorted({line.sku for line in facts.lines}))
    if not tracked:
        return RoutingStock(plenty)
    units = {(fc.id, sku): (available.get((fc.id, sku), 0) if sku in tracked else wanted)
             for fc in fcs for sku, wanted in _wanted(facts.lines).items()}
    return RoutingStock(units, tracked, SNAPSHOT)


def assumed(view: RoutingStock, facts: OrderFacts, fcs: Sequence[FulfillmentCenter]) -> RoutingStock:
    """The snapshot cannot ship the order: route as if ShipBob had the stock."""
    return RoutingStock(_plenty(facts.lines, fcs), view.tracked, SHORT)


def hold_units(session: Session, shop_id: str, order_id: str, view: RoutingStock,
               assignments: Mapping[str, Sequence[Line]]) -> list[tuple[str, str, int]] | None:
    """Reserve the tracked lines at the FCs that ship them. None (nothing changed) when the
    stock is untracked, or the snapshot has not got the units where the order goes (short
    everywhere, or a person forced another FC): those units cannot be promised."""
    if view.source != SNAPSHOT:
        return None
    plan = [(line.sku, fc, line.quantity) for fc, lines in assignments.items() for line in lines
            if line.sku in view.tracked]
    wanted: dict[tuple[str, str], int] = defaultdict(int)
    for sku, fc, units in plan:
        wanted[(fc, sku)] += units
    if not plan or any(view.stock.get(key, 0) < units for key, units in wanted.items()):
        return None  # a person forced an FC the snapshot has not got the units at
    if stock.reassign(session, shop_id, order_id, plan):
        # Per-location channel numbers (Shopify's) follow where the units are held now.
        stock.refresh_targets(session, shop_id, sorted({sku for sku, _, _ in plan}))
    return plan


def routing_rules(session: Session) -> tuple[RoutingRule, ...]:
    return orders.routing_rules(session)[0]
