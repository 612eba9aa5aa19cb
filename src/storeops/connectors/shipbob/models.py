"""What we hand the ShipBob connector, and the few answers it turns into our own shapes.

Field names follow ShipBob's 2026-01 spec (shared/vendor-specs/shipbob/openapi-2026-01.json:
Orders.CreateOrderModel, Orders.AddressViewModel, Returns.ReturnInventory,
Inventory.FulfillmentCenterResponse). Money stays Decimal until the wire, where ShipBob
types it as a JSON number (Orders.AddProductToOrderByReferenceIdModel.unit_price: double).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

ReturnAction = Literal["Default", "Restock", "Quarantine", "Dispose"]
OrderType = Literal["DTC", "DropShip", "B2B"]


@dataclass(frozen=True, slots=True)
class Address:
    address1: str
    city: str
    country: str  # ISO 3166-1 alpha-2, e.g. "US"
    address2: str | None = None
    state: str | None = None
    zip_code: str | None = None
    company_name: str | None = None

    def as_json(self) -> dict[str, Any]:
        body = {"address1": self.address1, "city": self.city, "country": self.country}
        for name in ("address2", "state", "zip_code", "company_name"):
            value = getattr(self, name)
            if value:
                body[name] = value
        return body


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    address: Address
    email: str | None = None
    phone_number: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "address": self.address.as_json()}
        if self.email:
            body["email"] = self.email
        if self.phone_number:
            body["phone_number"] = self.phone_number
        return body


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One product, identified by SKU (ShipBob's recommended way: "reference id ... also
    known as sku or seller_sku")."""

    sku: str
    quantity: int
    name: str  # required by the spec; ShipBob uses it if it has no product with this SKU
    unit_price: Decimal | None = None
    external_line_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"reference_id": self.sku, "name": self.name, "quantity": self.quantity}
        if self.unit_price is not None:
            # Exact for prices with two decimals: float(Decimal("52.00")) round-trips.
            body["unit_price"] = float(self.unit_price)
        if self.external_line_id is not None:
            body["external_line_id"] = self.external_line_id
        return body


@dataclass(frozen=True, slots=True)
class ReturnItem:
    inventory_id: int  # ShipBob's inventory item id (shipment products[].inventory_items[].id)
    quantity: int
    action: ReturnAction = "Default"

    def as_json(self) -> dict[str, Any]:
        return {"id": self.inventory_id, "quantity": self.quantity, "requested_action": self.action}


@dataclass(frozen=True, slots=True)
class InventoryLevel:
    """One SKU at one fulfillment center (GET /2026-01/inventory-level/locations)."""

    inventory_id: int
    sku: str | None
    fulfillment_center_id: int
    on_hand: int
    committed: int
    fulfillable: int
