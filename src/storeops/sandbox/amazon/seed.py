"""Seed the sandbox from the shared catalog: one listing and one FBA inventory record
per catalog SKU.

Listings are merchant-fulfilled offers (fulfillment channel DEFAULT) whose quantity is
the catalog's stock over the three fulfillment centers; that is the number storeops
keeps equal across channels. FBA inventory is the seller's separate stock in Amazon's
own warehouses (what getInventorySummaries reports), seeded as a share of the same
stock plus some inbound / reserved / unfulfillable units.

Catalog product types map to Amazon product types. The catalog's generic "Apparel"
items have no size or color, so their SHIRT listings carry "required but not supplied"
issues and are suppressed, as such listings would be on Amazon.
"""

from __future__ import annotations

import functools
import html
import random
import re
import string
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from storeops.sandbox import catalog
from storeops.sandbox.amazon import validation as v
from storeops.sandbox.amazon.inventory import FbaRecord
from storeops.sandbox.amazon.listings import Listing

PRODUCT_TYPES = {
    "Hoodies & Sweatshirts": "SWEATSHIRT", "Jackets": "COAT", "Tees": "SHIRT", "Tanks": "SHIRT",
    "Apparel": "SHIRT", "Pants": "PANTS", "Shorts": "SHORTS", "Bras & Tanks": "BRA",
    "Bags": "LUGGAGE", "Erin Recommends": "LUGGAGE", "New Luma Yoga Collection": "LUGGAGE",
    "Performance Fabrics": "LUGGAGE", "Fitness Equipment": "SPORTING_GOODS", "Watches": "WATCH",
    "Bracelet": "BRACELET", "Earrings": "EARRING", "Necklace": "NECKLACE", "Indoor": "HOME", "Outdoor": "HOME",
}


def amazon_id(rng: random.Random, prefix: str, length: int) -> str:
    """An ASIN / FNSKU-shaped id: prefix + upper-case letters and digits."""
    value, chars = rng.getrandbits(64), []
    for _ in range(length - len(prefix)):
        value, digit = divmod(value, 36)
        chars.append(_ID_ALPHABET[digit])
    return prefix + "".join(chars)


_ID_ALPHABET = string.digits + string.ascii_uppercase


@functools.lru_cache(maxsize=1024)
def _product_texts(title: str, description: str) -> tuple[str, str, tuple[str, ...]]:
    """(title, description, bullet points) of a product, once per product, not per SKU."""
    title = html.unescape(title).strip()
    description = html.unescape(description or title)[: v.DESCRIPTION_MAX]
    parts = [p.strip(" .") for p in re.split(r"•|\.\s", description) if p.strip(" .")]
    bullets = tuple(p[: v.BULLET_POINT_MAX] for p in parts[: v.BULLET_POINTS_MAX]) or (title,)
    return title, description, bullets


def listing_attributes(product: dict[str, Any], variant: dict[str, Any], marketplace_id: str) -> dict[str, Any]:
    def text(value: str) -> list[dict[str, Any]]:
        return [{"value": value, "language_tag": "en_US", "marketplace_id": marketplace_id}]

    title, description, bullets = _product_texts(product["title"], product.get("description") or "")
    if variant.get("title") and variant["title"] != "Default Title":
        title = f"{title} - {html.unescape(variant['title'])}"
    # Amazon's attribute schema types prices as JSON numbers; the catalog's Decimal
    # string becomes one only here, at the vendor's wire format.
    price = float(Decimal(variant["price"]))
    attributes: dict[str, Any] = {
        "item_name": text(title[: v.ITEM_NAME_MAX]),
        "brand": text(product.get("vendor") or "Generic"),
        "product_description": text(description),
        "bullet_point": [{"value": b, "language_tag": "en_US", "marketplace_id": marketplace_id} for b in bullets],
        "condition_type": [{"value": "new_new", "marketplace_id": marketplace_id}],
        "purchasable_offer": [{"marketplace_id": marketplace_id, "currency": "USD",
                               "our_price": [{"schedule": [{"value_with_tax": price}]}]}],
        "list_price": [{"marketplace_id": marketplace_id, "currency": "USD", "value": price}],
        "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT",
                                      "quantity": sum(int(n) for n in variant.get("stock", {}).values())}],
        "externally_assigned_product_identifier": [{"type": "ean", "value": variant["barcode"],
                                                    "marketplace_id": marketplace_id}],
    }
    options = variant.get("options") or {}
    if options.get("color"):
        attributes["color"] = text(options["color"])
    if options.get("size"):
        attributes["size"] = text(options["size"])
    if variant.get("weight_grams"):
        attributes["item_package_weight"] = [{"value": round(variant["weight_grams"] / 1000, 3), "unit": "kilograms",
                                              "marketplace_id": marketplace_id}]
    return attributes


def _some(roll: float, chance: float, most: int) -> int:
    """With probability `chance`, 1..most units; else none."""
    return min(most, 1 + int(roll / chance * most)) if roll < chance else 0


def seed(rng: random.Random, now: datetime, marketplace_id: str,
         products_limit: int | None = None) -> tuple[dict[str, Listing], dict[str, FbaRecord]]:
    listings: dict[str, Listing] = {}
    fba: dict[str, FbaRecord] = {}
    for product in catalog.products(products_limit):
        product_type = PRODUCT_TYPES.get(product.get("product_type", ""), "SPORTING_GOODS")
        for variant in product["variants"]:
            sku = variant["sku"]
            attributes = listing_attributes(product, variant, marketplace_id)
            # rng.random() arithmetic: randint is slow enough to matter 20k times per seed.
            roll = [rng.random() for _ in range(12)]
            created = now - timedelta(days=90 + 630 * roll[0])
            updated = now - timedelta(days=1 + 88 * roll[1])
            asin = amazon_id(rng, "B0", 10)
            fn_sku = amazon_id(rng, "X00", 10)
            listings[sku] = Listing(
                sku=sku, product_type=product_type, requirements="LISTING", attributes=attributes, asin=asin,
                fn_sku=fn_sku, created=created.replace(microsecond=0), updated=updated.replace(microsecond=0),
                issues=v.validate_listing(product_type, "LISTING", attributes, marketplace_id),
            )
            stock = attributes["fulfillment_availability"][0]["quantity"]

            fba[sku] = FbaRecord(
                sku=sku, asin=asin, fn_sku=fn_sku, product_name=attributes["item_name"][0]["value"],
                fulfillable=int(stock * roll[2] / 2), inbound_working=_some(roll[3], 0.25, 20),
                inbound_shipped=_some(roll[4], 0.25, 20), inbound_receiving=_some(roll[5], 0.25, 10),
                pending_customer_order=_some(roll[6], 0.3, 3), fc_processing=_some(roll[7], 0.25, 1),
                customer_damaged=_some(roll[8], 0.2, 1),
                updated=(now - timedelta(days=60 * roll[9])).replace(microsecond=0),
            )
    return listings, fba
