"""The store simulator against the five real sandboxes on loopback ports.

One SandboxCluster serves every sandbox from an event loop in a background thread;
each test resets them to their seeded start, then drives them with StoreSimulator over
HTTP exactly as `storeops sandbox run --traffic N` does.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from storeops.sandbox import catalog
from storeops.sandbox.runner import SANDBOXES, SandboxCluster
from storeops.sandbox.simulator import StoreSimulator
from storeops.sandbox.simulator.people import CITIES
from storeops.sandbox.simulator.support import load_sample, utterances_by_intent

BITEXT_INTENTS = 27


@pytest.fixture(scope="module")
def cluster() -> Iterator[SandboxCluster]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sandboxes", daemon=True)
    thread.start()
    running = SandboxCluster(list(SANDBOXES))
    try:
        asyncio.run_coroutine_threadsafe(running.start(), loop).result(timeout=60)
        yield running
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def reset(cluster: SandboxCluster) -> dict[str, Any]:
    described = cluster.describe()
    for entry in described.values():
        httpx.post(f"{entry['url']}/_sandbox/reset", timeout=10).raise_for_status()
    return described


def state(described: dict[str, Any], vendor: str) -> dict[str, Any]:
    return httpx.get(f"{described[vendor]['url']}/_sandbox/state", timeout=10).json()  # type: ignore[no-any-return]


def test_shipped_sample_covers_every_intent_with_attribution() -> None:
    sample = load_sample()
    assert len(utterances_by_intent()) == BITEXT_INTENTS
    assert 200 <= len(sample["messages"]) <= 500
    assert sample["license"]["spdx"] == "CDLA-Sharing-1.0"
    assert "Community Data License Agreement" in sample["license"]["text"]
    assert "Bitext" in sample["source"]["provider"]


def test_a_seeded_store_makes_orders_tickets_returns_and_stock_receipts(cluster: SandboxCluster) -> None:
    described = reset(cluster)
    seeded_orders = len(state(described, "shopify")["orders"])
    simulator = StoreSimulator(described, traffic_per_min=30, seed=7)
    stats = simulator.tick(6)
    counts = stats["counts"]
    assert stats["errors"] == {}

    # Shopify: completed, abandoned and declined checkouts, each as the storefront records it.
    shop = state(described, "shopify")
    statuses = [c["status"] for c in shop["checkouts"]]
    assert counts["checkouts"] == 6 * 30 + counts.get("payment_retries", 0)
    assert statuses.count("abandoned") == counts["checkouts_abandoned"]
    assert statuses.count("payment_failed") == counts["payments_declined"] >= 1
    assert 0.2 <= counts["checkouts_abandoned"] / counts["checkouts"] <= 0.4
    assert len(shop["orders"]) == seeded_orders + counts["orders_completed"]
    assert any("VIP" in order["tags"] for order in shop["orders"])
    assert counts["returning_shoppers"] > 0 and counts["vip_tagged"] > 0

    # Bad addresses reach Shopify as typed: a ZIP of another state, no street number, a mistyped city.
    store = cluster.sandboxes["shopify"].store  # type: ignore[attr-defined]
    known = {(c.name, c.province_code): c.zip for c in CITIES}
    flawed = [o.shipping_address for o in store.orders.values()
              if o.email.endswith("@example.com") and o.shipping_address is not None
              and (not re.match(r"\d", o.shipping_address.address1 or "")
                   or known.get((o.shipping_address.city, o.shipping_address.province_code),
                                o.shipping_address.zip) != o.shipping_address.zip
                   or (o.shipping_address.city, o.shipping_address.province_code) not in known)]
    assert counts["bad_address_orders"] >= 1
    assert len(flawed) >= counts["bad_address_orders"]

    # Gorgias: tickets whose messages are the sample's utterances, citing real order numbers.
    desk = state(described, "gorgias")
    texts = {u.text for rows in utterances_by_intent().values() for u in rows}
    order_names = {o["name"] for o in shop["orders"]}
    sent = [r["body"] for r in simulator.sent if r["vendor"] == "gorgias"]
    assert len(sent) == counts["support_messages"] >= 10
    bodies = {m.get("body_text") for t in desk["tickets"] for m in t.get("messages") or []}
    for body in sent:
        assert body["body"] in bodies
        assert body["body"].split("\n\n")[0] in texts
        cited = re.search(r"Order number: (#\d+)", body["body"])
        if cited:
            assert cited.group(1) in order_names
    assert len(stats["support_by_intent"]) >= 5
    assert counts["return_requests"] >= 1

    # ShipBob: returns registered through the portal, and cartons received at the FCs.
    warehouse = state(described, "shipbob")
    assert sum(r["reference_id"].startswith("RMA-") for r in warehouse["returns"]) == counts["returns_created"] >= 1
    assert counts["stock_receipts"] >= 2
    seeded = {v["sku"]: v["stock"] for p in catalog.products() for v in p["variants"]}
    ship = cluster.sandboxes["shipbob"].store  # type: ignore[attr-defined]
    receipts = [r for r in simulator.sent if r["path"] == "/_sandbox/inventory"]
    for receipt in receipts:
        sku, fc_id, units = receipt["body"]["sku"], receipt["body"]["fc_id"], receipt["body"]["delta"]
        on_hand = ship.stock[(ship.variants_by_sku[sku].inventory_id, fc_id)].on_hand
        assert on_hand == int(seeded[sku][str(fc_id)]) + units
        assert int(seeded[sku][str(fc_id)]) < 5  # it was running low


def _requests(cluster: SandboxCluster, seed: int) -> list[dict[str, Any]]:
    described = reset(cluster)
    simulator = StoreSimulator(described, traffic_per_min=15, seed=seed)
    simulator.tick(3)
    return list(simulator.sent)


def test_the_same_seed_sends_the_same_requests(cluster: SandboxCluster) -> None:
    first, second, other = _requests(cluster, 3), _requests(cluster, 3), _requests(cluster, 4)
    assert len(first) > 45
    assert json.dumps(first) == json.dumps(second)
    assert json.dumps(first) != json.dumps(other)


def test_start_and_stop_pace_traffic_in_the_background(cluster: SandboxCluster) -> None:
    """The interface `storeops up --demo` uses: start() returns at once, stop() ends it."""
    described = reset(cluster)
    seeded_orders = len(state(described, "shopify")["orders"])
    simulator = StoreSimulator(described, rate_per_min=20, seed=5, minute_seconds=0.5)
    simulator.start()
    try:
        deadline = time.monotonic() + 10
        while simulator.stats()["minutes"] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        began = time.monotonic()
        simulator.stop()
    assert time.monotonic() - began < 5
    assert simulator.stats()["minutes"] >= 3
    assert len(state(described, "shopify")["orders"]) > seeded_orders


def _storeops() -> list[str]:
    script = Path(sys.executable).with_name("storeops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "storeops.cli.main"]


def test_sandbox_run_with_traffic_makes_orders_from_the_first_seconds() -> None:
    process = subprocess.Popen([*_storeops(), "sandbox", "run", "--traffic", "600", "--seed", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        described = json.loads(process.stdout.readline())
        assert set(described) == set(SANDBOXES)
        seeded = 12  # the Shopify sandbox's seed orders (ShopifySandbox.seed_orders)
        deadline = time.monotonic() + 10
        orders = 0
        while time.monotonic() < deadline:
            orders = len(state(described, "shopify")["orders"])
            if orders > seeded + 5:
                break
            time.sleep(0.1)
        assert orders > seeded + 5
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err[-2000:]
