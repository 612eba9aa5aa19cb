"""The Klaviyo sandbox's start state: the demo account, catalog items from the shared seed
catalog (storeops.sandbox.catalog), some customers, two lists, two segments and a few
"Placed Order" events (so the "Placed Order" metric exists, as in a live store's account)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from storeops.sandbox.catalog import products
from storeops.sandbox.klaviyo.store import KlaviyoStore, KList, Segment

SEED_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
STORE_URL = "https://demo.storeops.example"
FIRST = ["Ava", "Ben", "Chloe", "Diego", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena"]
LAST = ["Adams", "Brown", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jones"]
PROFILE_COUNT = 30


def account(store: KlaviyoStore) -> dict[str, Any]:
    return {
        "id": store.ids.short(),
        "test_account": True,
        "contact_information": {
            "default_sender_name": "storeops demo store", "default_sender_email": "hello@demo.storeops.example",
            "website_url": STORE_URL, "organization_name": "storeops demo store",
            "street_address": {"address1": "1 Market St", "address2": None, "city": "San Francisco",
                               "region": "CA", "country": "US", "zip": "94105"},
        },
        "industry": "Apparel & Accessories",
        "timezone": "America/Los_Angeles",
        "preferred_currency": "USD",
        "public_api_key": store.ids.short(),
        "locale": "en-US",
    }


def seed(store: KlaviyoStore, rng: random.Random) -> None:
    at = SEED_START
    for product in products():
        prices = [Decimal(v["price"]) for v in product["variants"]]
        store.create_catalog_item({
            "external_id": str(product["id"]), "title": product["title"],
            "description": product["description"] or product["title"],
            "url": f"{STORE_URL}/products/{product['handle']}",
            "price": min(prices) if prices else None, "published": True,
            "custom_metadata": {"handle": product["handle"], "vendor": product["vendor"],
                                "product_type": product["product_type"],
                                "skus": [v["sku"] for v in product["variants"]]},
        }, at=at)
        at += timedelta(seconds=1)

    profiles = []
    for n in range(PROFILE_COUNT):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        at += timedelta(minutes=7)
        profiles.append(store.create_profile({
            "email": f"{first.lower()}.{last.lower()}{n}@example.com", "first_name": first, "last_name": last,
            "location": {"country": "US"}, "properties": {"source": "sandbox seed"},
        }, at=at))

    newsletter = KList(id=store.ids.short(), seq=store.next_seq(), name="Newsletter", created=SEED_START,
                       updated=at)
    vip = KList(id=store.ids.short(), seq=store.next_seq(), name="VIP Customers", created=SEED_START, updated=at)
    for profile in profiles:
        if rng.random() < 0.5:
            newsletter.members[profile.id] = profile.created
    for profile in profiles[:4]:
        vip.members[profile.id] = profile.created
    store.lists = {newsletter.id: newsletter, vip.id: vip}
    for name in ("Engaged (90 days)", "Repeat Buyers"):
        segment = Segment(id=store.ids.short(), seq=store.next_seq(), name=name, created=SEED_START, updated=at)
        store.segments[segment.id] = segment

    items = list(store.catalog_items.values())
    for n, profile in enumerate(profiles[:10]):
        item = rng.choice(items)
        store.track(profile, {
            "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
            "properties": {"OrderId": f"seed-{1000 + n}", "ItemNames": [item.title]},
            "value": item.price, "value_currency": "USD", "unique_id": f"seed-order-{1000 + n}",
            "time": profile.created + timedelta(hours=1),
        }, received=profile.created + timedelta(hours=1))
