"""A simulated storefront: shoppers check out, some abandon, some pay.

POST /_sandbox/checkouts {"count": n, "abandon_rate": 0.3, "seed": 7,
                          "overrides": [{"customer": {...}, "address": {...},
                                         "lines": [{"sku": "MH01-XS-Orange", "quantity": 1}],
                                         "shipping": "standard" | "express" | {"title", "code", "price"},
                                         "payment": "paid" | "pending" | "declined",
                                         "abandon": false}, ...]}

Every checkout emits checkouts/create. Abandoned ones then emit checkouts/update (the
buyer typed an address and left). Declined payments leave the checkout open (a card
decline creates no order). Completed ones create the order: stock moves from available to
committed at the location that ships it, and orders/create (+ orders/paid when paid,
customers/create for a new shopper, inventory_levels/update per level) are emitted.
"""

from __future__ import annotations

import random
import secrets
from decimal import Decimal
from typing import Any

from storeops.sandbox.shopify import orders as ops
from storeops.sandbox.shopify.ids import now
from storeops.sandbox.shopify.payloads import checkout_payload, customer_payload
from storeops.sandbox.shopify.records import Address, Checkout, Customer, LineItem, ShippingLine, Variant
from storeops.sandbox.shopify.store import PROVINCES, Store

FIRST = ["Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Ines", "Omar", "Lena", "Kai", "Rosa", "Theo", "Mila",
         "Jonas", "Priya", "Diego", "Hana", "Felix", "Nora", "Sam"]
LAST = ["Garcia", "Smith", "Chen", "Okafor", "Rossi", "Nguyen", "Kowalski", "Haddad", "Silva", "Novak", "Brown",
        "Ivanova", "Sato", "Jensen", "Moreau", "Khan", "Lopez", "Weber", "Cohen", "Park"]
CITIES = [("Los Angeles", "CA", "90012", 34.05, -118.24), ("Chicago", "IL", "60601", 41.88, -87.63),
          ("Philadelphia", "PA", "19103", 39.95, -75.17), ("New York", "NY", "10001", 40.75, -73.99),
          ("Austin", "TX", "78701", 30.27, -97.74), ("Seattle", "WA", "98101", 47.61, -122.33),
          ("Miami", "FL", "33131", 25.76, -80.19), ("Atlanta", "GA", "30303", 33.75, -84.39),
          ("Denver", "CO", "80202", 39.74, -104.99), ("Boston", "MA", "02108", 42.36, -71.06),
          ("Phoenix", "AZ", "85004", 33.45, -112.07), ("Portland", "OR", "97204", 45.52, -122.68),
          ("Minneapolis", "MN", "55401", 44.98, -93.27), ("Charlotte", "NC", "28202", 35.23, -80.84),
          ("Columbus", "OH", "43215", 39.96, -83.00)]
STREETS = ["Oak", "Pine", "Main", "Elm", "Cedar", "Maple"]
SHIPPING = {"standard": ("Standard Shipping", "STANDARD", Decimal("5.99")),
            "express": ("Express Shipping", "EXPRESS", Decimal("14.99"))}
FREE_SHIPPING_OVER = Decimal("75.00")


class CheckoutRefused(ValueError):
    pass


class Storefront:
    def __init__(self, store: Store) -> None:
        self.store = store

    def run(self, body: dict[str, Any], fallback: random.Random) -> dict[str, Any]:
        count = int(body.get("count", 1))
        if not 0 <= count <= 1000:
            raise CheckoutRefused("count must be between 0 and 1000")
        abandon_rate = float(body.get("abandon_rate", 0.0))
        if not 0.0 <= abandon_rate <= 1.0:
            raise CheckoutRefused("abandon_rate must be between 0 and 1")
        rng = random.Random(body["seed"]) if body.get("seed") is not None else fallback
        overrides = list(body.get("overrides") or [])
        count = max(count, len(overrides))
        results = [self._one(rng, overrides[i] if i < len(overrides) else {}, abandon_rate) for i in range(count)]
        return {
            "checkouts": results,
            "completed": sum(r["status"] == "completed" for r in results),
            "abandoned": sum(r["status"] == "abandoned" for r in results),
            "payment_failed": sum(r["status"] == "payment_failed" for r in results),
            "out_of_stock": sum(r["status"] == "out_of_stock" for r in results),
        }

    # --- one shopper -----------------------------------------------------------------------
    def _one(self, rng: random.Random, spec: dict[str, Any], abandon_rate: float) -> dict[str, Any]:
        store = self.store
        customer, is_new = self._customer(rng, spec.get("customer") or {})
        address = self._address(rng, customer, spec.get("address") or {})
        lines = self._lines(rng, spec.get("lines"))
        subtotal = sum((v.price * q for v, q in lines), Decimal("0"))
        shipping = self._shipping(spec.get("shipping", "standard"), subtotal)
        stamp = now()
        checkout = Checkout(
            id=store.ids.next(), token=secrets.token_hex(16), cart_token=secrets.token_hex(12), email=customer.email,
            customer_id=customer.id, shipping_address=address, shipping_line=shipping, created_at=stamp,
            updated_at=stamp, line_items=[self._checkout_line(v, q) for v, q in lines])
        store.checkouts[checkout.id] = checkout
        if is_new:
            store.customers[customer.id] = customer
            store.emit("customers/create", lambda: customer_payload(customer))
        store.emit("checkouts/create", lambda: checkout_payload(store, checkout))
        abandon = spec.get("abandon")
        if abandon is None:
            abandon = rng.random() < abandon_rate
        payment = spec.get("payment", "paid")
        result: dict[str, Any] = {"checkout_id": checkout.id, "checkout_token": checkout.token,
                                  "email": customer.email, "customer_id": customer.id,
                                  "lines": [{"sku": v.sku, "variant_id": v.id, "quantity": q} for v, q in lines],
                                  "total_price": str(subtotal + shipping.price)}
        if abandon or payment == "declined":
            checkout.status = "abandoned" if abandon else "payment_failed"
            checkout.updated_at = now()
            store.emit("checkouts/update", lambda: checkout_payload(store, checkout))
            return {**result, "status": checkout.status}
        try:
            order = ops.place_order(store, ops.Placement(
                customer=customer, email=customer.email, shipping_address=address, lines=lines,
                shipping_line=shipping, paid=payment != "pending",
                gateway="shopify_payments" if payment != "pending" else "manual",
                checkout_token=checkout.token, cart_token=checkout.cart_token, note=spec.get("note"),
                tags=spec.get("tags")))
        except ops.OrderRefused as refused:
            checkout.status = "out_of_stock"
            return {**result, "status": "out_of_stock", "error": refused.message}
        checkout.status, checkout.order_id, checkout.completed_at = "completed", order.id, now()
        return {**result, "status": "completed", "order_id": order.id, "order_gid": order.gid, "order_name": order.name,
                "financial_status": order.financial_status}

    def _customer(self, rng: random.Random, spec: dict[str, Any]) -> tuple[Customer, bool]:
        store = self.store
        if spec.get("email"):
            known = next((c for c in store.customers.values() if c.email.lower() == spec["email"].lower()), None)
            if known is not None:
                return known, False
        elif store.customers and rng.random() < 0.3:  # a returning shopper
            return rng.choice(sorted(store.customers.values(), key=lambda c: c.id)), False
        first = spec.get("first_name") or rng.choice(FIRST)
        last = spec.get("last_name") or rng.choice(LAST)
        customer_id = store.ids.next()
        email = spec.get("email") or f"{first}.{last}.{customer_id % 100000}@example.com".lower()
        stamp = now()
        customer = Customer(id=customer_id, first_name=first, last_name=last, email=email,
                            phone=spec.get("phone") or f"+1555{rng.randrange(1000000, 9999999)}", addresses=[],
                            created_at=stamp, updated_at=stamp, accepts_marketing=bool(
                                spec.get("accepts_marketing", rng.random() < 0.4)))
        return customer, True

    def _address(self, rng: random.Random, customer: Customer, spec: dict[str, Any]) -> Address:
        if customer.addresses and not spec:
            return customer.addresses[0]
        city, code, zip_, lat, lon = rng.choice(CITIES)
        province_code = spec.get("province_code", code)
        address = Address(
            id=self.store.ids.next(), first_name=customer.first_name, last_name=customer.last_name,
            address1=spec.get("address1") or f"{rng.randrange(1, 9999)} {rng.choice(STREETS)} St",
            address2=spec.get("address2"), city=spec.get("city", city), province_code=province_code,
            province=PROVINCES.get(province_code, province_code), zip=spec.get("zip", zip_),
            phone=customer.phone or "+15550000000", country=spec.get("country", "United States"),
            country_code=spec.get("country_code", "US"), latitude=lat, longitude=lon)
        customer.addresses.insert(0, address)
        return address

    def _lines(self, rng: random.Random, spec: list[dict[str, Any]] | None) -> list[tuple[Variant, int]]:
        store = self.store
        if spec:
            by_sku = {v.sku: v for v in store.variants.values() if v.sku}
            lines = []
            for line in spec:
                variant = by_sku.get(line.get("sku", "")) or store.variants.get(
                    int(str(line.get("variant_id", 0)).rsplit("/", 1)[-1] or 0))
                if variant is None:
                    raise CheckoutRefused(f"no variant for {line}")
                quantity = int(line.get("quantity", 1))
                if quantity < 1:
                    raise CheckoutRefused(f"quantity must be at least 1: {line}")
                lines.append((variant, quantity))
            return lines
        ids = sorted(store.variants)
        wanted = rng.choice([1, 1, 1, 2, 2, 3])
        picked: dict[int, int] = {}
        for _ in range(50 * wanted):  # random probes: most variants have stock somewhere
            if len(picked) >= wanted:
                break
            variant = store.variants[rng.choice(ids)]
            most = max((lvl.quantities["available"] for lvl in store.levels_of_item(variant.inventory_item_id)),
                       default=0)
            if most > 0 and variant.id not in picked:
                picked[variant.id] = most
        if not picked:
            raise CheckoutRefused("nothing is in stock")
        return [(store.variants[v], rng.randint(1, min(2, most))) for v, most in picked.items()]

    def _shipping(self, spec: Any, subtotal: Decimal) -> ShippingLine:
        if isinstance(spec, dict):
            title, code, price = spec.get("title", "Custom"), spec.get("code", "CUSTOM"), Decimal(str(spec["price"]))
        else:
            title, code, price = SHIPPING.get(str(spec), SHIPPING["standard"])
            if code == "STANDARD" and subtotal >= FREE_SHIPPING_OVER:
                price = Decimal("0.00")
        return ShippingLine(id=self.store.ids.next(), title=title, code=code, price=price)

    def _checkout_line(self, variant: Variant, qty: int) -> LineItem:
        product = self.store.product_of(variant)
        return LineItem(id=self.store.ids.next(), variant_id=variant.id, product_id=product.id, title=product.title,
                        variant_title=None if variant.title == "Default Title" else variant.title, sku=variant.sku,
                        vendor=product.vendor, quantity=qty, price=variant.price, grams=variant.weight_grams)
