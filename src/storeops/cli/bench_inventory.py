"""storeops bench inventory: a burst of stock changes at ShipBob -> every channel shows the new ATP.

Setup (not timed): the ShipBob, Shopify and Amazon sandboxes run in this process with their
real rate limits (ShipBob 150 requests/min, Shopify's 2000-point bucket restoring 100/s, Amazon's
per-operation token buckets). Each is seeded with `--skus` SKUs (the sandbox catalog plus
synthetic ones, written into the sandboxes' stores directly, as their seed data is). storeops
connects the shop, turns inventory sync live, learns Shopify's items, and a Worker runs the
first full sync until every channel equals the truth.

Measured: `--skus` stock changes land at ShipBob at once (each SKU's on hand at one FC moves).
From that instant, the clock runs until the Shopify sandbox shows the new ATP at every
location for every SKU, and the Amazon sandbox the new total for every SKU. The Worker finds
the changes by itself (its scheduled ShipBob poll), pushes them batched, and nothing else
nudges it. API calls are the sandboxes' own request counters over the measured window, so
they include the polls. The naive integration: one Shopify call and one Amazon call per
change (plus the same polls).

When the burst lands relative to storeops' ShipBob sweeps decides much of the wait. A sweep of
10,000 SKUs (40 pages) is read in about 2 s here (the ShipBob limiter's burst), then the next
one is due 40 x 60 / 90 = 27 s after it began; so the wait is mostly that interval's phase.
By default the burst lands whenever setup ends (any phase: runs differ by up to ~30 s);
`--burst-into-sweep S` lands it S seconds after a sweep has begun (its first page read after
a quiet spell): with S = 3 the sweep is over and every change waits a whole interval, the
worst phase, the same in every run.

Amazon processes a JSON_LISTINGS_FEED in ~60 s of vendor time (IN_QUEUE 30 s + IN_PROGRESS 30 s,
sandbox/amazon/feeds.py); `--time-scale` divides vendor time (never the rate limits).
"""

from __future__ import annotations

import asyncio
import copy
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from storeops.cli.common import emit_json

T = TypeVar("T")
VENDORS = ["shopify", "shipbob", "amazon"]


class _Loop:
    """The sandboxes' event loop in a thread; `call` runs a function on it (their state is
    only ever touched from that loop)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-sandboxes", daemon=True)
        self.thread.start()

    def call(self, fn: Callable[[], T], timeout: float = 120.0) -> T:
        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=timeout)

    def run(self, coro: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@contextmanager
def _cluster(time_scale: float) -> Iterator[tuple[_Loop, Any]]:
    from storeops.sandbox.runner import SandboxCluster

    loop = _Loop()
    cluster = SandboxCluster(VENDORS, time_scale=time_scale)
    try:
        loop.run(cluster.start())
        yield loop, cluster
    finally:
        loop.run(cluster.stop(), timeout=30)
        loop.stop()


def _seed(cluster: Any, total: int) -> list[str]:
    """Add synthetic SKUs so every sandbox holds `total` (runs on the sandbox loop)."""
    from storeops.sandbox.shopify.records import QUANTITY_NAMES, InventoryItem, InventoryLevel
    from storeops.sandbox.shopify.records import Product as ShopifyProduct
    from storeops.sandbox.shopify.records import Variant as ShopifyVariant

    shipbob, shopify, amazon = (cluster.sandboxes[n] for n in ("shipbob", "shopify", "amazon"))
    have = sorted(shipbob.store.variants_by_sku)
    extra = [f"BENCH-{i:05d}" for i in range(max(0, total - len(have)))]
    template = next(item for item in amazon.store.items.values() if not item.issues)
    store = shopify.store
    locations = list(store.locations.values())
    product_id = store.ids.next()
    stamp = store.shop_created_at
    product = ShopifyProduct(id=product_id, title="Bench item", handle="bench-item", description_html="",
                             vendor="bench", product_type="Bench", tags=[], options=[("Title", ["Default Title"])],
                             variant_ids=[], created_at=stamp, updated_at=stamp, published_at=stamp)
    store.products[product_id] = product
    sb_product = shipbob.store.add_product("Bench item")
    for n, sku in enumerate(extra):
        quantity = 5 + n % 20
        variant = shipbob.store.add_variant(sb_product, sku=sku, name=sku, barcode=None, price=Decimal("0"),
                                            weight_grams=100)
        for fc in shipbob.store.fulfillment_centers:
            shipbob.store.stock[(variant.inventory_id, fc.id)].on_hand = quantity
        variant_id, item_id = store.ids.next(), store.ids.next()
        store.variants[variant_id] = ShopifyVariant(
            id=variant_id, product_id=product_id, inventory_item_id=item_id, title=sku, sku=sku, barcode=None,
            price=Decimal("10"), position=n + 1, options={"Title": "Default Title"}, weight_grams=100,
            created_at=stamp, updated_at=stamp)
        store.items[item_id] = InventoryItem(id=item_id, variant_id=variant_id, sku=sku, weight_grams=100,
                                             created_at=stamp, updated_at=stamp)
        product.variant_ids.append(variant_id)
        for loc in locations:
            quantities = dict.fromkeys(QUANTITY_NAMES, 0)
            quantities["available"] = quantities["on_hand"] = quantity
            level = InventoryLevel(item_id=item_id, location_id=loc.id, quantities=quantities, created_at=stamp,
                                   updated_at=stamp)
            store.levels[(item_id, loc.id)] = level
            store.item_levels.setdefault(item_id, []).append(level)
        listing = copy.deepcopy(template)
        listing.sku = sku
        listing.attributes["fulfillment_availability"] = [{"fulfillment_channel_code": "DEFAULT",
                                                           "quantity": quantity * 3}]
        amazon.store.items[sku] = listing
    return have + extra


def _burst(cluster: Any, skus: list[str]) -> dict[tuple[str, int], int]:
    """One stock change per SKU at one FC (receipts and losses); returns the new truth."""
    store = cluster.sandboxes["shipbob"].store
    fcs = [fc.id for fc in store.fulfillment_centers]
    for n, sku in enumerate(skus):
        variant = store.variants_by_sku[sku]
        level = store.stock[(variant.inventory_id, fcs[n % len(fcs)])]
        delta = 1 + n % 7 if n % 3 else -min(level.on_hand, 1 + n % 4)
        level.on_hand += delta if delta else 1
    return _truth(cluster, skus)


def _truth(cluster: Any, skus: list[str]) -> dict[tuple[str, int], int]:
    store = cluster.sandboxes["shipbob"].store
    return {(sku, fc.id): store.stock[(store.variants_by_sku[sku].inventory_id, fc.id)].on_hand
            for sku in skus for fc in store.fulfillment_centers}


def _lagging(cluster: Any, truth: dict[tuple[str, int], int]) -> dict[str, int]:
    """How many Shopify levels / Amazon listings differ from the truth's ATP (no reservations,
    default policies: ATP = on hand)."""
    cluster.sandboxes["amazon"].tick()  # feeds progress when observed (as GET /_sandbox/state does)
    shopify, amazon = cluster.sandboxes["shopify"].store, cluster.sandboxes["amazon"].store
    by_fc = {loc.fc_id: loc.id for loc in shopify.locations.values()}
    item_of = {item.sku: item.id for item in shopify.items.values()}
    totals: dict[str, int] = {}
    shopify_off = 0
    for (sku, fc), on_hand in truth.items():
        totals[sku] = totals.get(sku, 0) + on_hand
        level = shopify.levels.get((item_of[sku], by_fc[fc]))
        shopify_off += level is not None and level.quantities["available"] != on_hand
    amazon_off = 0
    for sku, total in totals.items():
        listing = amazon.items.get(sku)
        quantity = next((e.get("quantity") for e in (listing.attributes.get("fulfillment_availability") or [])
                         if e.get("fulfillment_channel_code") == "DEFAULT"), None) if listing else None
        amazon_off += listing is not None and quantity != total
    return {"shopify": int(shopify_off), "amazon": int(amazon_off)}


_last_progress = [0.0]


def _progress(what: str, lagging: dict[str, int]) -> None:
    """A line on stderr every few seconds (stdout carries the JSON)."""
    if time.monotonic() - _last_progress[0] >= 5.0:
        _last_progress[0] = time.monotonic()
        print(f"{what}: {lagging}", file=sys.stderr, flush=True)


SWEEP_ROUTE = "GET /2026-01/inventory-level/locations"


def _wait_for_sweep_start(loop: _Loop, cluster: Any, quiet_s: float = 2.0, timeout_s: float = 180.0) -> None:
    """Return when a ShipBob inventory sweep reads its first page after `quiet_s` without one."""
    def count() -> int:
        return int(loop.call(lambda: cluster.sandboxes["shipbob"].stats.requests[SWEEP_ROUTE]))

    last, changed_at = count(), time.monotonic()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = count()
        if now != last:
            if time.monotonic() - changed_at >= quiet_s:
                return
            last, changed_at = now, time.monotonic()
        time.sleep(0.05)
    raise RuntimeError("no ShipBob inventory sweep began")


def _calls(cluster: Any) -> dict[str, int]:
    counts = {name: sum(cluster.sandboxes[name].stats.requests.values()) for name in VENDORS}
    counts.update({f"{name}_throttled": cluster.sandboxes[name].stats.throttled for name in VENDORS})
    return counts


def run_inventory(skus: int, time_scale: float, timeout_s: float, database_url: str | None,
                  burst_into_sweep: float | None = None) -> dict[str, Any]:
    from cryptography.fernet import Fernet

    from storeops.cli.bench import _scratch_database
    from storeops.core.secrets import SecretBox
    from storeops.core.settings import Settings
    from storeops.db.migrate import upgrade
    from storeops.db.session import Database
    from storeops.flows import context as flow_context
    from storeops.flows import inventory as flow
    from storeops.flows.demo import connect_demo_shop
    from storeops.flows.runtime import Worker

    with tempfile.TemporaryDirectory(prefix="storeops-bench-") as tmp, _scratch_database(database_url) as scratch, \
            _cluster(time_scale) as (loop, cluster):
        url = scratch or f"sqlite:///{Path(tmp) / 'storeops.db'}"
        settings = Settings(data_dir=Path(tmp), database_url=url, secret_key=Fernet.generate_key().decode())
        db = Database(url)
        upgrade(db)
        all_skus = loop.call(lambda: _seed(cluster, skus))[:max(skus, 1)]
        box = SecretBox(settings.secret_key.encode() if settings.secret_key else Fernet.generate_key())
        shop = connect_demo_shop(db, box, cluster.describe(), "http://127.0.0.1:9").shop_id
        # No web app runs here to receive webhooks: without this, Shopify's inventory_levels/update
        # deliveries (one per level written) to a closed port and their retries would take the
        # sandboxes' event loop, which is not what is measured.
        loop.call(lambda: [cluster.sandboxes[n].store.subscriptions.clear() for n in ("shopify", "shipbob")])
        worker = Worker(settings, db)
        flow_context.configure(db, box)
        worker.start()
        try:
            setup_started = time.perf_counter()
            with db.session(shop) as session:
                flow.set_mode(session, shop, "live")
            flow.run_cycle(shop)  # link + first poll + first push (the schedule would do the same)
            truth = loop.call(lambda: _truth(cluster, all_skus))
            deadline = time.monotonic() + timeout_s
            while any((lag := loop.call(lambda: _lagging(cluster, truth))).values()):
                _progress("first sync, levels still lagging", lag)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the first sync did not finish: {loop.call(lambda: _lagging(cluster, truth))}")
                time.sleep(1.0)
            # A running shop did its first true-up long ago (it reads every Amazon listing once to
            # set Amazon's watermark); do it here so a scheduled one in the window reads only changes.
            flow.true_up(shop)
            setup_s = time.perf_counter() - setup_started

            if burst_into_sweep is not None:
                _wait_for_sweep_start(loop, cluster)
                time.sleep(burst_into_sweep)
            before = loop.call(lambda: _calls(cluster))
            started = time.perf_counter()
            truth = loop.call(lambda: _burst(cluster, all_skus))
            reached: dict[str, float | None] = {"shopify": None, "amazon": None}
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline and None in reached.values():
                lagging = loop.call(lambda: _lagging(cluster, truth))
                _progress("after the burst, still lagging", lagging)
                for channel, off in lagging.items():
                    if off == 0 and reached[channel] is None:
                        reached[channel] = round(time.perf_counter() - started, 2)
                time.sleep(0.25)
            calls = {name: n - before[name] for name, n in loop.call(lambda: _calls(cluster)).items()}
            lagging = loop.call(lambda: _lagging(cluster, truth))
        finally:
            worker.stop()
            db.dispose()
    changes = len(all_skus)
    throttled = {name: calls.pop(f"{name}_throttled") for name in VENDORS}
    total_calls = sum(calls.values())
    consistent = None if None in reached.values() else max(v for v in reached.values() if v is not None)
    return {
        "bench": "inventory",
        "database": "postgresql" if scratch else "sqlite",
        "skus": changes,
        "changes": changes,
        "time_scale": time_scale,
        "burst_into_sweep_s": burst_into_sweep,
        "setup_seconds": round(setup_s, 1),
        "seconds_until_channel_consistent": reached,
        "seconds_until_all_consistent": consistent,
        "goal_60s_met": consistent is not None and consistent <= 60,
        "still_lagging": lagging,
        "api_calls": calls,
        "api_calls_total": total_calls,
        "throttled_answers": throttled,
        "calls_per_100_changes": round(100 * total_calls / changes, 2) if changes else None,
        "naive_calls": 2 * changes + calls.get("shipbob", 0),
        "notes": "api_calls count every request the sandboxes served in the measured window, "
                 "ShipBob polls and Amazon LWA/feed-document requests included",
        "window": str(timedelta(seconds=round(time.perf_counter() - started))),
        "true_up_schedule": "every 15 min at :00/:15/:30/:45; a run inside the window adds its reads",
    }


def inventory(
    skus: Annotated[int, typer.Option(help="SKUs in every sandbox; each gets one stock change")] = 10_000,
    time_scale: Annotated[float, typer.Option(help="divides vendor processing time (Amazon feeds), "
                                                   "never rate limits")] = 1.0,
    timeout_s: Annotated[float, typer.Option(help="give up waiting after this many seconds")] = 600.0,
    database_url: Annotated[str | None, typer.Option(help="PostgreSQL URL; default a temporary SQLite")] = None,
    burst_into_sweep: Annotated[float | None, typer.Option(
        help="land the burst this many seconds after a ShipBob sweep has begun (default: when setup ends)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = True,
) -> None:
    """A burst of stock changes at ShipBob: time until Shopify and Amazon show the new ATP, and API calls."""
    result = run_inventory(skus, time_scale, timeout_s, database_url, burst_into_sweep)
    if json_out:
        emit_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
