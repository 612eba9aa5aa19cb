"""What happens in the warehouse: stock allocation, shipments moving through ShipBob's
statuses, and returns being received.

Statuses and status-detail ids are ShipBob's (developer.shipbob.com/status-reference:
Processing/Picked 100, Packed 101, Labeled 102; Completed/Processing 200 "Waiting For
Carrier Pickup", InTransit 201, OutForDelivery 202, Delivered 203; Exception/OutOfStock 303,
UnknownSku 304). "LabeledCreated" is the label step's value of Orders.OrderStatusEnum in
openapi-2026-01.json. Webhook topics are the spec's Webhooks.Topics enum: order.shipped fires
when the label exists and tracking is first available (developer.shipbob.com/2026-07/guides/
tracking: "order.shipped - First tracking details become available after label
purchase/print"), order.shipment.delivered on delivery, order.shipment.exception when stock is
missing, order.shipment.cancelled on cancel, return.created/updated/completed for returns.

Each step waits a vendor-time delay; the sandbox's time_scale divides it, so a day passes
in seconds in a demo. POST /_sandbox/advance takes one step at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storeops.sandbox.shipbob import views
from storeops.sandbox.shipbob.records import (
    Order,
    ReturnOrder,
    Shipment,
    StatusDetail,
    Store,
    Tracking,
    iso,
    now,
)

HOUR = 3600.0


@dataclass(frozen=True)
class Step:
    status: str
    detail: StatusDetail | None
    after_s: float  # vendor seconds after the previous step
    topic: str | None = None  # webhook fired on entering this step
    scan: tuple[str, str] | None = None  # carrier tracking event (Tracking.TrackingHistoryItem status, message)


SHIPMENT_STEPS: list[Step] = [
    Step("Processing", None, 0.0),
    Step("Processing", StatusDetail(100, "Picked", "Picking Completed"), 0.5 * HOUR),
    Step("Processing", StatusDetail(101, "Packed", "Packing Completed"), 0.5 * HOUR),
    Step("LabeledCreated", StatusDetail(102, "Labeled", "Label Generated"), 1 * HOUR,
         topic="order.shipped", scan=("PreTransit", "Shipping label created")),
    Step("Completed", StatusDetail(200, "Processing", "Waiting For Carrier Pickup"), 4 * HOUR),
    Step("Completed", StatusDetail(201, "InTransit", "Shipment In Transit"), 8 * HOUR,
         scan=("InTransit", "Accepted at carrier facility")),
    Step("Completed", StatusDetail(202, "OutForDelivery", "Shipment Out For Delivery"), 36 * HOUR,
         scan=("InTransit", "Out for delivery")),
    Step("Completed", StatusDetail(203, "Delivered", "Shipment Delivered"), 6 * HOUR,
         topic="order.shipment.delivered", scan=("Delivered", "Delivered")),
]
SHIPPED_STEP = 4  # the parcel leaves the building: stock goes from on hand + committed
LAST_STEP = len(SHIPMENT_STEPS) - 1

OUT_OF_STOCK = StatusDetail(303, "OutOfStock", "No Stock On Hand For Sku")
UNKNOWN_SKU = StatusDetail(304, "UnknownSku", "No Sku History")

# Return order statuses (developer.shipbob.com/status-reference, Return Statuses) and the
# vendor-time each one takes.
RETURN_STEPS: list[tuple[str, float]] = [
    ("AwaitingArrival", 0.0), ("Arrived", 72 * HOUR), ("Processing", 24 * HOUR), ("Completed", 24 * HOUR),
]

_CARRIERS = [
    ("USPS", "Ground Advantage", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    ("UPS", "Ground", "https://www.ups.com/track?tracknum={}"),
    ("FedEx", "Home Delivery", "https://www.fedex.com/fedextrack/?trknbr={}"),
]

Emit = Callable[[str, dict[str, Any]], None]


class Warehouse:
    """Moves orders, shipments and returns along; calls `emit(topic, payload)` for webhooks."""

    def __init__(self, store: Store, *, time_scale: float, emit: Emit,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.time_scale = time_scale
        self.emit = emit
        self.monotonic = monotonic

    # --- scheduling ------------------------------------------------------------------
    def _due_in(self, vendor_s: float) -> float:
        return self.monotonic() + vendor_s / self.time_scale

    def next_due(self) -> float | None:
        times = [s.next_at for s in self.store.shipments.values() if s.next_at is not None]
        times += [r.next_at for r in self.store.returns.values() if r.next_at is not None]
        return min(times, default=None)

    def run_due(self) -> int:
        """Take every step whose time has come; returns how many were taken."""
        taken = 0
        moment = self.monotonic()
        for shipment in list(self.store.shipments.values()):
            if shipment.next_at is not None and shipment.next_at <= moment:
                taken += self.advance_shipment(shipment)
        for ret in list(self.store.returns.values()):
            if ret.next_at is not None and ret.next_at <= moment:
                taken += self.advance_return(ret)
        return taken

    def advance_all(self) -> int:
        """One step for every shipment and return that is still moving (POST /_sandbox/advance)."""
        taken = 0
        for shipment in list(self.store.shipments.values()):
            if shipment.next_at is not None:
                taken += self.advance_shipment(shipment)
        for ret in list(self.store.returns.values()):
            if ret.next_at is not None:
                taken += self.advance_return(ret)
        return taken

    # --- shipments -------------------------------------------------------------------
    def start(self, order: Order, shipment: Shipment, preferred_fc: int | None) -> None:
        """A new shipment: commit stock at one fulfillment center, or park it in Exception."""
        if self.allocate(shipment, preferred_fc):
            shipment.next_at = self._due_in(SHIPMENT_STEPS[1].after_s)
        else:
            self._touch(order, shipment)
            self.emit("order.shipment.exception", self.shipment_payload(shipment))

    def allocate(self, shipment: Shipment, preferred_fc: int | None) -> bool:
        store = self.store
        unknown = next((line for line in shipment.lines if line.variant is None), None)
        if unknown is not None:
            self._set(shipment, "Exception", UNKNOWN_SKU)
            return False
        fcs = [fc for fc in store.fulfillment_centers if preferred_fc is None or fc.id == preferred_fc]

        def short_lines(fc_id: int) -> list[int]:
            return [line.variant.inventory_id for line in shipment.lines if line.variant is not None
                    and store.stock[(line.variant.inventory_id, fc_id)].fulfillable < line.quantity]

        # ShipBob picks the location; the sandbox takes one that holds every line, else the
        # one missing the fewest lines (where the shipment then waits in Exception).
        ranked = sorted(fcs, key=lambda fc: (len(short_lines(fc.id)), fc.id))
        if not ranked:
            self._set(shipment, "Exception", OUT_OF_STOCK)
            return False
        best = ranked[0]
        shipment.fc_id = best.id
        missing = short_lines(best.id)
        if missing:
            self._set(shipment, "Exception", StatusDetail(OUT_OF_STOCK.id, OUT_OF_STOCK.name,
                                                          OUT_OF_STOCK.description, inventory_id=missing[0]))
            return False
        for line in shipment.lines:
            assert line.variant is not None
            store.stock[(line.variant.inventory_id, best.id)].committed += line.quantity
        shipment.allocated = True
        self._set(shipment, "Processing", None)
        return True

    def retry_exceptions(self) -> int:
        """After a stock receipt: shipments waiting for stock try again."""
        released = 0
        for shipment in self.store.shipments.values():
            if shipment.status == "Exception" and self.allocate(shipment, None):
                shipment.next_at = self._due_in(SHIPMENT_STEPS[1].after_s)
                self._touch(self.store.orders[shipment.order_id], shipment)
                released += 1
        return released

    def advance_shipment(self, shipment: Shipment) -> int:
        if shipment.step >= LAST_STEP or shipment.status in ("Cancelled", "Exception"):
            shipment.next_at = None
            return 0
        shipment.step += 1
        step = SHIPMENT_STEPS[shipment.step]
        order = self.store.orders[shipment.order_id]
        self._set(shipment, step.status, step.detail)
        moment = now()
        if step.topic == "order.shipped":
            carrier, service, url = _CARRIERS[self.store.rng.randrange(len(_CARRIERS))]
            number = _tracking_number(carrier, self.store.rng.randrange(10**12))
            shipment.tracking = Tracking(carrier, service, number, url.format(number), shipping_date=moment)
        if shipment.step == SHIPPED_STEP:
            self._ship_stock(shipment)
            shipment.actual_fulfillment_date = moment
        if step.scan is not None:
            shipment.tracking_events.append((*step.scan, moment))
            shipment.last_tracking_update = moment
        if shipment.step == LAST_STEP:
            shipment.delivery_date = moment
            shipment.next_at = None
        else:
            shipment.next_at = self._due_in(SHIPMENT_STEPS[shipment.step + 1].after_s)
        self._touch(order, shipment)
        if step.topic is not None:
            self.emit(step.topic, self.shipment_payload(shipment))
        return 1

    def cancel(self, order: Order) -> list[tuple[Shipment, bool, str | None]]:
        """Cancel what has no label yet; returns (shipment, cancelled, reason)."""
        results: list[tuple[Shipment, bool, str | None]] = []
        for shipment in order.shipments:
            if shipment.status == "Cancelled":
                results.append((shipment, True, None))
                continue
            if shipment.step >= 3:  # a label exists: ShipBob can no longer stop it
                results.append((shipment, False, f"Shipment is {shipment.status} and cannot be canceled"))
                continue
            self._release(shipment)
            shipment.next_at = None
            self._set(shipment, "Cancelled", None)
            self._touch(order, shipment)
            results.append((shipment, True, None))
            self.emit("order.shipment.cancelled", self.shipment_payload(shipment))
        order.cancelled = all(s.status == "Cancelled" for s in order.shipments)
        return results

    def _ship_stock(self, shipment: Shipment) -> None:
        if not shipment.allocated or shipment.fc_id is None:
            return
        for line in shipment.lines:
            assert line.variant is not None
            stock = self.store.stock[(line.variant.inventory_id, shipment.fc_id)]
            stock.committed -= line.quantity
            stock.on_hand -= line.quantity
        shipment.allocated = False

    def _release(self, shipment: Shipment) -> None:
        if shipment.allocated and shipment.fc_id is not None:
            for line in shipment.lines:
                assert line.variant is not None
                self.store.stock[(line.variant.inventory_id, shipment.fc_id)].committed -= line.quantity
        shipment.allocated = False

    def _set(self, shipment: Shipment, status: str, detail: StatusDetail | None) -> None:
        shipment.status = status
        shipment.detail = detail
        shipment.history.append((status, detail.name if detail else status, now()))

    def _touch(self, order: Order, shipment: Shipment) -> None:
        moment = now()
        shipment.last_update = moment
        order.updated = moment

    def shipment_payload(self, shipment: Shipment) -> dict[str, Any]:
        order = self.store.orders[shipment.order_id]
        return views.shipment(self.store, shipment, order)

    # --- returns ---------------------------------------------------------------------
    def start_return(self, ret: ReturnOrder) -> None:
        ret.history.append(("AwaitingArrival", ret.created))
        ret.next_at = self._due_in(RETURN_STEPS[1][1])
        self.emit("return.created", views.return_order(self.store, ret))

    def advance_return(self, ret: ReturnOrder) -> int:
        if ret.step >= len(RETURN_STEPS) - 1 or ret.status == "Cancelled":
            ret.next_at = None
            return 0
        ret.step += 1
        status = RETURN_STEPS[ret.step][0]
        moment = now()
        ret.status = status
        ret.history.append((status, moment))
        if status == "Completed":
            ret.completed = moment
            ret.next_at = None
            for line in ret.lines:
                # Restock (and Default, which is the product's own return preference)
                # puts the units back on hand; Quarantine and Dispose do not.
                if line.action in ("Restock", "Default"):
                    self.store.stock[(line.inventory_id, ret.fc_id)].on_hand += line.quantity
        else:
            ret.next_at = self._due_in(RETURN_STEPS[ret.step + 1][1])
        topic = "return.completed" if status == "Completed" else "return.updated"
        self.emit(topic, views.return_order(self.store, ret))
        return 1


def _tracking_number(carrier: str, n: int) -> str:
    if carrier == "UPS":
        return f"1Z999AA1{n:012d}"[:18]
    if carrier == "FedEx":
        return f"{n:012d}"
    return f"9400111{n:015d}"


def event_body(topic: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A webhook body: the resource as the REST API shows it, plus topic and event_time (the
    two envelope fields ShipBob's published webhook example carries; per-topic payload
    schemas are not published, see shared/vendor-specs/README.md section 3)."""
    return {"topic": topic, "event_time": iso(now()), **payload}
