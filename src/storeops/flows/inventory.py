"""Inventory automation ("inventory_sync"): one truth, every channel showing its ATP.

    ShipBob (the truth; 2026-01 has no inventory webhook topic, so it is polled)
        scheduled cycle -> GET inventory-level/locations, 250 SKUs x every FC per call,
        paced to POLL_BUDGET_PER_MIN of ShipBob's 150 requests/min
        -> StockLevel (newer wins) -> refresh_targets: channel listings whose ATP moved
           become pending (a burst of changes to one SKU leaves one pending row: coalesced)
    the same cycle plans one push for everything pending (batched across SKUs):
        Shopify   outbox "inventory.shopify_set", 250 levels per inventorySetQuantities call,
                  compare-and-set (changeFromQuantity = the quantity we last saw); a stale
                  compare is re-read and decided (domain.inventory.resolve_conflict), never
                  overwritten blindly
        Amazon    outbox "inventory.amazon_set": AmazonClient.set_quantities picks patches
                  (<= FEED_BREAK_EVEN SKUs) or one JSON_LISTINGS_FEED, whichever costs fewer calls
        Actions read the current target when they run, so a late batch never writes an old number.
    Shopify orders/create|updated|cancelled (intake) -> reserve / release; an order that cannot be
        reserved is an oversell: alert + decision record + metric + OVERSELL_HOOKS
    true-up (scheduled; `true_up`): read what changed on each channel since the last true-up
        (Shopify levels by updated_at, Amazon listings by lastUpdatedDate), compare with the
        targets, re-push what drifted with compare-and-set against what was read, record fixes.

Modes: off (default: nothing, not even polling), shadow (truth, reservations and decision
records; no channel is called), live.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
import zlib
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar, cast

import structlog
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeops.connectors.amazon.client import AmazonClient
from storeops.connectors.shipbob.client import ShipbobClient
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.clock import utcnow
from storeops.core.errors import VendorError
from storeops.core.metrics import REGISTRY
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import LIVE, OFF, AutomationMode
from storeops.domain.inventory import services as stock
from storeops.domain.inventory.atp import StockChange, batches, resolve_conflict
from storeops.domain.inventory.models import (
    AMAZON,
    DRIFT,
    OVERSELL,
    RELEASED,
    SHIPPED,
    SHOPIFY,
    ChannelListing,
    InventoryAlert,
)
from storeops.engine.cursors import advance_cursor, read_cursor
from storeops.engine.inbox import EventContext
from storeops.engine.outbox import action, emit_actions
from storeops.engine.retry import RetryPolicy
from storeops.engine.workflows import QueueSpec, define_queue, schedule, step
from storeops.flows.context import deps
from storeops.flows.demo import connector_for

log = structlog.get_logger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

AUTOMATION = "inventory_sync"
SHOPIFY_BATCH = 250  # inventorySetQuantities: at most 250 quantities per call
AMAZON_BATCH = 20_000  # JSON_LISTINGS_FEED holds up to 25,000 messages
POLL_BUDGET_PER_MIN = 90  # of ShipBob's 150/min; the rest stays for orders and returns
MIN_POLL_S = 5.0
CAS_ROUNDS = 3
CURSOR_POLL, CURSOR_ITEMS = "inventory.shipbob_poll", "inventory.shopify_items"
CURSOR_TRUEUP_SHOPIFY, CURSOR_TRUEUP_AMAZON = "inventory.trueup_shopify", "inventory.trueup_amazon"

# Inside each vendor's rate. A SKU always lands in the same one of SHOPIFY_LANES partitions, so
# two writes of one level never overlap (our own write would look like someone else's change to
# the compare-and-set), while different SKUs go out side by side. Amazon: one feed at a time per
# shop (createFeed refills one request per two minutes).
SHOPIFY_LANES = 4
SHOPIFY_QUEUE = define_queue(QueueSpec(name="inventory.shopify", limit=20, period=1.0, partitioned=True))
AMAZON_QUEUE = define_queue(QueueSpec(name="inventory.amazon", limit=5, period=1.0, partitioned=True))

OVERSELLS = Counter("storeops_inventory_oversells_total", "Order lines storeops could not reserve",
                    registry=REGISTRY)
PUSHED = Counter("storeops_inventory_levels_pushed_total", "Channel quantities written", ["channel"],
                 registry=REGISTRY)

# Called inside the order's transaction with (session, shop_id, event) for every oversold
# order: the exceptions queue registers here (storeops.flows.exceptions, issue #5).
OversellHook = Callable[[Session, str, dict[str, Any]], None]
OVERSELL_HOOKS: list[OversellHook] = []


# One pass at a time in a process: the schedule and a person (CLI, tests) may start one together.
_pass_lock = threading.RLock()
# The true-up's long reads (every changed listing, page after page) wait out a 429 and go on.
READ_POLICY = RetryPolicy(max_attempts=5, base_delay_s=1.0, max_delay_s=30.0)
CYCLE_POLICY = RetryPolicy(max_attempts=2, base_delay_s=0.5, max_delay_s=2.0)  # the next tick retries


def _one_at_a_time(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with _pass_lock:
            return fn(*args, **kwargs)

    return locked


def _now_iso() -> str:
    return utcnow().isoformat()


# --- modes ---------------------------------------------------------------------------------


def mode(session: Session, shop_id: str) -> str:
    """Opt-in (off by default in decisions.DEFAULT_MODES): polling costs ShipBob quota."""
    return decisions.mode_for(session, shop_id, AUTOMATION)


def set_mode(session: Session, shop_id: str, value: str) -> None:
    decisions.set_mode(session, shop_id, AUTOMATION, value)


def enabled_shops(db: Database) -> list[str]:
    with db.system_session() as session:
        return list(session.scalars(select(AutomationMode.shop_id).where(
            AutomationMode.automation == AUTOMATION, AutomationMode.mode != OFF)))


# --- linking: which Shopify item / location is which SKU / FC ---------------------------------


@_one_at_a_time
def link(shop_id: str) -> int:
    """Learn Shopify's inventory items (id, sku) changed since the last link, and its locations
    (matched to ShipBob FCs by name); every SKU gets a Shopify listing per location and an
    Amazon listing. New listings are pending, so the next push writes every channel once.
    Returns how many listings were created."""
    db, box = deps()
    with db.session(shop_id) as session:
        since = read_cursor(session, CURSOR_ITEMS)
    started = _now_iso()
    with closing(connector_for(db, box, shop_id, "shipbob")) as sb:
        fcs = {str(fc["name"]): str(fc["id"]) for fc in cast(ShipbobClient, sb).list_fulfillment_centers()}
    with closing(connector_for(db, box, shop_id, "shopify")) as sh:
        shopify = cast(ShopifyClient, sh)
        locations = {loc.id: fcs[loc.name] for loc in shopify.list_locations() if loc.name in fcs}
        items = shopify.inventory_item_skus(datetime.fromisoformat(since) if since else None)
    rows: list[dict[str, Any]] = []
    for item, sku in items:
        rows += [{"channel": SHOPIFY, "sku": sku, "location": fc, "external_item": item, "external_location": loc}
                 for loc, fc in locations.items()]
        rows.append({"channel": AMAZON, "sku": sku, "location": ""})
    with db.session(shop_id) as session:
        created = stock.link_listings(session, shop_id, rows)
        stock.refresh_targets(session, shop_id, sorted({sku for _, sku in items}))
        advance_cursor(session, shop_id, CURSOR_ITEMS, started)
        # Amazon's watermark is Amazon's own lastUpdatedDate (set by the first true-up, which
        # reads every listing once): its clock, not ours, decides what "changed since" means.
        if read_cursor(session, CURSOR_TRUEUP_SHOPIFY) is None:
            advance_cursor(session, shop_id, CURSOR_TRUEUP_SHOPIFY, started)
    return created


# --- the truth: ShipBob ----------------------------------------------------------------------


def poll_due(session: Session, skus_known: int) -> bool:
    last = read_cursor(session, CURSOR_POLL)
    if last is None:
        return True
    pages = max(1, -(-skus_known // 250))
    interval = max(MIN_POLL_S, pages * 60.0 / POLL_BUDGET_PER_MIN)
    return (utcnow() - datetime.fromisoformat(last)).total_seconds() >= interval


@_one_at_a_time
def poll_shipbob(shop_id: str, *, force: bool = False) -> list[str]:
    """Read every SKU's level at every FC; store what moved. Returns the changed SKUs."""
    db, box = deps()
    with db.session(shop_id) as session:
        known = len(set(session.scalars(select(ChannelListing.sku).where(ChannelListing.channel == AMAZON))))
        if not force and not poll_due(session, known):
            return []
    stamp = _now_iso()
    with closing(connector_for(db, box, shop_id, "shipbob")) as sb:
        levels = cast(ShipbobClient, sb).list_inventory()
    changes = [StockChange(lvl.sku, str(lvl.fulfillment_center_id), lvl.on_hand, stamp) for lvl in levels if lvl.sku]
    return apply_truth(shop_id, changes, cause=f"shipbob_poll:{stamp}")


def apply_truth(shop_id: str, changes: list[StockChange], *, cause: str) -> list[str]:
    """Store stock changes, refresh the channels' targets, report reservations the stock no
    longer covers (oversells), in one transaction."""
    db, _ = deps()
    with db.session(shop_id) as session:
        applied = stock.apply_stock(session, shop_id, changes)
        stock.refresh_targets(session, shop_id, applied.changed)
        current = mode(session, shop_id)
        for bumped in applied.bumped:
            _oversell(session, shop_id, current, order_id=bumped["order_id"], short=[bumped], cause=cause,
                      reason="stock_lost")
        advance_cursor(session, shop_id, CURSOR_POLL, changes[0].stamp if changes else _now_iso())
    return applied.changed


# --- orders: reservations and oversells -----------------------------------------------------


def _order_lines(data: dict[str, Any]) -> list[tuple[str, int]]:
    lines = []
    for line in data.get("line_items") or []:
        sku = str(line.get("sku") or "")
        quantity = line.get("current_quantity", line.get("quantity"))
        if sku and isinstance(quantity, int) and quantity > 0:
            lines.append((sku, quantity))
    return lines


def on_shopify_order(ctx: EventContext, data: dict[str, Any]) -> None:
    """Reserve a new order's units; release them when it is cancelled or fulfilled.
    Runs inside the inbox transaction (intake calls it before the order automation)."""
    current = mode(ctx.session, ctx.shop_id)
    if current == OFF or data.get("id") is None:
        return
    order_id = str(data["id"])
    if data.get("cancelled_at"):
        stock.refresh_targets(ctx.session, ctx.shop_id, stock.release(ctx.session, order_id, status=RELEASED))
        return
    if data.get("fulfillment_status") == "fulfilled":
        stock.refresh_targets(ctx.session, ctx.shop_id, stock.release(ctx.session, order_id, status=SHIPPED))
        return
    lines = _order_lines(data)
    if not lines:
        return
    flagged = ctx.session.scalar(select(InventoryAlert.id).where(
        InventoryAlert.order_id == order_id, InventoryAlert.kind == OVERSELL,
        InventoryAlert.resolved_at.is_(None)).limit(1))
    if flagged is not None:
        return  # orders/create, /paid and /updated all arrive: one oversell is one alert
    result = stock.reserve(ctx.session, ctx.shop_id, order_id, lines)
    if result.already:
        return
    cause = f"inbox:{ctx.event.vendor}:{ctx.event.event_id}"
    if not result.ok:
        _oversell(ctx.session, ctx.shop_id, current, order_id=order_id, cause=cause, reason="not_reservable",
                  short=[{"sku": s.sku, "wanted": s.wanted, "available": s.available} for s in result.short])
        return
    stock.refresh_targets(ctx.session, ctx.shop_id, sorted({sku for sku, _ in lines}))
    decisions.record(ctx.session, ctx.shop_id, subject=f"order:{order_id}", automation=AUTOMATION, mode=current,
                     inputs={"lines": [{"sku": s, "quantity": q} for s, q in lines]}, rules=["reserve_stock@1"],
                     outputs=result.as_dict(), intended_actions=[], actions_taken=[], cause=cause)


def _oversell(session: Session, shop_id: str, current: str, *, order_id: str, short: list[dict[str, Any]],
              cause: str, reason: str) -> None:
    """An order for units no channel should have offered: a person must act."""
    OVERSELLS.inc(len(short))
    event = {"order_id": order_id, "reason": reason, "short": short}
    for line in short:
        stock.raise_alert(session, shop_id, OVERSELL, line["sku"], order_id=order_id, detail=event)
    decisions.record(session, shop_id, subject=f"order:{order_id}", automation=AUTOMATION, mode=current,
                     inputs={"order_id": order_id}, rules=["oversell_check@1"],
                     outputs={"oversold": True, **event}, intended_actions=[], actions_taken=[], cause=cause)
    log.warning("oversell", shop=shop_id, **event)
    for hook in OVERSELL_HOOKS:
        hook(session, shop_id, event)


# --- pushing: plan in one transaction, write through the outbox ----------------------------------


@_one_at_a_time
def plan_push(shop_id: str) -> dict[str, int]:
    """Everything pending -> outbox messages (live) or intended actions only (shadow)."""
    db, _ = deps()
    with db.session(shop_id) as session:
        current = mode(session, shop_id)
        if current == OFF:
            return {}
        shopify = stock.pending_listings(session, SHOPIFY)
        amazon = stock.pending_listings(session, AMAZON)
        if not shopify and not amazon:
            return {}
        stamp = _now_iso()
        messages: list[dict[str, Any]] = []
        lanes: dict[int, list[list[str]]] = {}
        for r in shopify:
            if r.external_item:
                lanes.setdefault(lane_of(r.sku), []).append([r.sku, r.location])
        for lane, levels in sorted(lanes.items()):
            for n, keys in enumerate(batches(levels, SHOPIFY_BATCH)):
                messages.append({"target": "inventory.shopify_set", "cause": f"inventory_push:{stamp}:s{lane}.{n}",
                                 "payload": {"keys": list(keys), "lane": lane}})
        for n, chunk in enumerate(batches([r.sku for r in amazon], AMAZON_BATCH)):
            messages.append({"target": "inventory.amazon_set", "cause": f"inventory_push:{stamp}:a{n}",
                             "payload": {"skus": list(chunk)}})
        for row in (*shopify, *amazon):
            row.pending = False
        summary = [{"target": m["target"], "cause": m["cause"],
                    "count": len(m["payload"].get("keys") or m["payload"].get("skus") or [])} for m in messages]
        sample = [{"channel": r.channel, "sku": r.sku, "location": r.location, "target": r.target,
                   "last_pushed": r.last_pushed} for r in (*shopify[:10], *amazon[:10])]
        record = decisions.record(
            session, shop_id, subject=f"inventory:push:{stamp}", automation=AUTOMATION, mode=current,
            inputs={"pending": {"shopify": len(shopify), "amazon": len(amazon)}, "sample": sample},
            rules=["atp@1", "coalesce_per_sku@1"], outputs={"messages": len(messages)}, intended_actions=summary,
            actions_taken=[], cause=f"inventory_cycle:{stamp}")
        if current == LIVE:
            record.actions_taken = emit_actions(session, shop_id, record.id, messages)
        return {"shopify": len(shopify), "amazon": len(amazon), "messages": len(messages)}


def _shop_partition(shop_id: str, payload: dict[str, Any]) -> str:
    return shop_id


def lane_of(sku: str) -> int:
    return zlib.crc32(sku.encode()) % SHOPIFY_LANES


def _lane_partition(shop_id: str, payload: dict[str, Any]) -> str:
    return f"{shop_id}:{payload.get('lane', 0)}"


def _items_key(base: str, items: list[tuple[str, str, int, int | None]]) -> str:
    digest = hashlib.sha256(json.dumps(items, separators=(",", ":")).encode()).hexdigest()[:16]
    return f"{base[:40]}:{digest}"


@action("inventory.shopify_set", queue=SHOPIFY_QUEUE.name, partition=_lane_partition)
def shopify_set(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Write the current targets of these levels, compare-and-set against what we last saw."""
    db, box = deps()
    keys = [(str(k[0]), str(k[1])) for k in payload["keys"]]
    with db.session(shop_id) as session:
        rows = stock.listings_for(session, SHOPIFY, keys)
        plan = {k: (r.external_item, r.external_location, r.target, r.last_seen) for k, r in rows.items()
                if r.stocked and r.external_item and r.external_location and r.target is not None}
    conflicts: list[dict[str, Any]] = []
    unstocked: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        shopify = cast(ShopifyClient, client)
        for _ in range(CAS_ROUNDS):
            order = sorted(plan)
            items = [(str(plan[k][0]), str(plan[k][1]), int(cast(int, plan[k][2])), plan[k][3]) for k in order]
            if not items:
                break
            errors = shopify.set_available(items, idempotency_key=_items_key(key, items))
            if not errors:
                break
            stale: list[tuple[str, str]] = []
            for error in errors:
                path = error.get("field") or []
                index = int(path[2]) if len(path) > 2 and str(path[2]).isdigit() else None
                if index is None:
                    raise VendorError("shopify", f"inventorySetQuantities refused: {error}", status=422)
                if error.get("code") == "CHANGE_FROM_QUANTITY_STALE":
                    stale.append(order[index])
                elif error.get("code") in ("ITEM_NOT_STOCKED_AT_LOCATION", "INVALID_INVENTORY_ITEM",
                                           "INVALID_LOCATION"):
                    unstocked.append(order[index])
                    plan.pop(order[index])
                else:
                    raise VendorError("shopify", f"inventorySetQuantities refused: {error}", status=422)
            now_at = shopify.read_available([(str(plan[k][0]), str(plan[k][1])) for k in stale])
            for k in stale:
                item, loc, target, last_seen = plan[k]
                current = now_at.get((str(item), str(loc)))
                if current is None:
                    unstocked.append(k)
                    plan.pop(k)
                    continue
                decided = resolve_conflict(int(cast(int, target)), last_seen, current)
                conflicts.append({"sku": k[0], "location": k[1], "expected": last_seen, "found": current,
                                  "target": target, "decision": decided.reason, "set": decided.quantity})
                if decided.quantity is None:
                    seen[k] = current
                    plan.pop(k)
                else:
                    plan[k] = (item, loc, decided.quantity, current)
        else:
            raise VendorError("shopify", "compare-and-set kept failing: levels change under us", status=409)
    with db.session(shop_id) as session:
        rows = stock.listings_for(session, SHOPIFY, keys)
        now = utcnow()
        # A level capped by a conflict stays below its target until the SKU's ATP moves again
        # (the order that explains it reaches us): not pending, or the next cycle would raise it.
        conflicted = {(c["sku"], c["location"]) for c in conflicts}
        for k, (_, _, quantity, _) in plan.items():
            row = rows[k]
            row.last_pushed = row.last_seen = int(cast(int, quantity))
            row.pushed_at = row.seen_at = now
            row.pending = row.target != row.last_pushed and k not in conflicted
        for k, current in seen.items():
            rows[k].last_seen = rows[k].last_pushed = current
            rows[k].seen_at = now
            rows[k].pending = False
        for k in unstocked:
            rows[k].stocked = False
            rows[k].pending = False
        result = {"written": len(plan), "conflicts": conflicts[:50], "unstocked": [list(k) for k in unstocked]}
        if conflicts:
            decisions.record(session, shop_id, subject=f"inventory:conflict:{key[:16]}", automation=AUTOMATION,
                             mode=LIVE, inputs={"levels": len(keys)}, rules=["compare_and_set@1"],
                             outputs={"conflicts": conflicts[:200]}, intended_actions=[], actions_taken=[],
                             cause=f"outbox:{key}")
        decisions.note_emitted_result(session, payload, key, result)
    PUSHED.labels(SHOPIFY).inc(len(plan))
    return result


@action("inventory.amazon_set", queue=AMAZON_QUEUE.name, partition=_shop_partition)
def amazon_set(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Absolute quantities (safe to repeat): patches for a few SKUs, one feed for many."""
    db, box = deps()
    skus = [str(s) for s in payload["skus"]]
    with db.session(shop_id) as session:
        rows = stock.listings_for(session, AMAZON, [(sku, "") for sku in skus])
        quantities = {sku: int(r.target) for (sku, _), r in rows.items() if r.stocked and r.target is not None}
    with closing(connector_for(db, box, shop_id, "amazon")) as client:
        update = cast(AmazonClient, client).set_quantities(quantities)
    refused = [sku for sku, sub in update.submissions.items() if not sub.accepted]
    with db.session(shop_id) as session:
        rows = stock.listings_for(session, AMAZON, [(sku, "") for sku in skus])
        now = utcnow()
        for sku, quantity in quantities.items():
            row = rows[(sku, "")]
            if sku in refused:
                continue
            row.last_pushed, row.pushed_at = quantity, now
            row.pending = row.target != quantity
        result = {"path": update.path, "feed_id": update.feed_id, "written": len(quantities) - len(refused),
                  "refused": refused[:50]}
        decisions.note_emitted_result(session, payload, key, result)
    PUSHED.labels(AMAZON).inc(len(quantities) - len(refused))
    return result


# --- true-up -------------------------------------------------------------------------------


def _amazon_quantity(item: dict[str, Any]) -> int | None:
    for entry in item.get("fulfillmentAvailability") or []:
        if entry.get("fulfillmentChannelCode") == "DEFAULT" and isinstance(entry.get("quantity"), int):
            return int(entry["quantity"])
    return None


@_one_at_a_time
def true_up(shop_id: str, *, full: bool = False) -> dict[str, Any]:
    """Compare what each channel shows (changed since the last true-up, or everything with
    `full`) with the targets; what differs is pushed again (compare-and-set against the value
    read) and recorded. Returns {"checked", "drift": [...]}."""
    db, box = deps()
    with db.session(shop_id) as session:
        current = mode(session, shop_id)
        since = {name: None if full else read_cursor(session, name)
                 for name in (CURSOR_TRUEUP_SHOPIFY, CURSOR_TRUEUP_AMAZON)}
        locations = sorted({loc for loc in session.scalars(select(ChannelListing.external_location).where(
            ChannelListing.channel == SHOPIFY)) if loc})
    if current == OFF:
        return {"checked": 0, "drift": []}
    started = _now_iso()
    seen_shopify: dict[tuple[str, str], int] = {}
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        shopify = cast(ShopifyClient, client)
        after = since[CURSOR_TRUEUP_SHOPIFY]
        for loc in locations:
            since_at = datetime.fromisoformat(after) if after else None
            levels = READ_POLICY.call(functools.partial(shopify.location_levels, loc, since_at)) or {}
            seen_shopify.update({(item, loc): qty for item, qty in levels.items()})
    seen_amazon: dict[str, int] = {}
    amazon_mark = since[CURSOR_TRUEUP_AMAZON]
    with closing(connector_for(db, box, shop_id, "amazon")) as client:
        start = datetime.fromisoformat(amazon_mark) if amazon_mark else datetime(2000, 1, 1, tzinfo=UTC)
        amazon = cast(AmazonClient, client)
        wanted = ("summaries", "fulfillmentAvailability")
        listed = READ_POLICY.call(lambda: amazon.listings_changed_since(start, wanted))
        for item in listed or []:
            quantity = _amazon_quantity(item)
            if quantity is not None:
                seen_amazon[str(item["sku"])] = quantity
            for summary in item.get("summaries") or []:
                stamp = summary.get("lastUpdatedDate")
                if isinstance(stamp, str):
                    stamp = datetime.fromisoformat(stamp.replace("Z", "+00:00")).isoformat()
                    amazon_mark = max(amazon_mark or stamp, stamp)
    drift: list[dict[str, Any]] = []
    with db.session(shop_id) as session:
        now = utcnow()
        by_item: dict[tuple[str, str], ChannelListing] = {}
        items = {item for item, _ in seen_shopify}
        for chunk in batches(sorted(items), 500):
            for listing in session.scalars(select(ChannelListing).where(ChannelListing.channel == SHOPIFY,
                                                                        ChannelListing.external_item.in_(chunk))):
                by_item[(str(listing.external_item), str(listing.external_location))] = listing
        found: list[tuple[ChannelListing | None, int]] = [(by_item.get(k), qty) for k, qty in seen_shopify.items()]
        amazon_rows = stock.listings_for(session, AMAZON, [(sku, "") for sku in seen_amazon])
        found += [(amazon_rows.get((sku, "")), qty) for sku, qty in seen_amazon.items()]
        for row, qty in found:
            if row is None or not row.stocked:
                continue
            row.last_seen, row.seen_at = qty, now
            in_sync = row.last_pushed is not None and row.last_pushed == row.target
            if in_sync and row.target != qty:
                drift.append({"channel": row.channel, "sku": row.sku, "location": row.location, "found": qty,
                              "target": row.target})
                row.last_pushed = qty  # what the channel shows now: pending until the push fixes it
                row.pending = True
        for d in drift[:100]:
            stock.raise_alert(session, shop_id, DRIFT, d["sku"], detail=d)
        decisions.record(session, shop_id, subject=f"inventory:true-up:{started}", automation=AUTOMATION,
                         mode=current, inputs={"since": since, "read": {"shopify": len(seen_shopify),
                                                                       "amazon": len(seen_amazon)}},
                         rules=["true_up@1"], outputs={"drift": drift[:200], "repaired": len(drift)},
                         intended_actions=[], actions_taken=[], cause=f"true_up:{started}")
        advance_cursor(session, shop_id, CURSOR_TRUEUP_SHOPIFY, started)
        if amazon_mark:
            advance_cursor(session, shop_id, CURSOR_TRUEUP_AMAZON, amazon_mark)
    if drift:
        plan_push(shop_id)
    return {"checked": len(seen_shopify) + len(seen_amazon), "drift": drift}


# --- the schedule --------------------------------------------------------------------------


@_one_at_a_time
def run_cycle(shop_id: str) -> dict[str, Any]:
    """One pass for a shop: link if never linked, poll ShipBob when due, push what is pending."""
    db, _ = deps()
    with db.session(shop_id) as session:
        linked = read_cursor(session, CURSOR_ITEMS) is not None
    if not linked:
        link(shop_id)
    changed = poll_shipbob(shop_id)
    return {"changed": len(changed), **plan_push(shop_id)}


@step(name="inventory.cycle", policy=CYCLE_POLICY)
def _cycle_step(shop_id: str) -> dict[str, Any]:
    return run_cycle(shop_id)


@step(name="inventory.true_up", policy=CYCLE_POLICY)
def _true_up_step(shop_id: str) -> int:
    link(shop_id)  # products added since the last true-up
    return len(true_up(shop_id)["drift"])


@step(name="inventory.enabled_shops")
def _enabled_step() -> list[str]:
    db, _ = deps()
    return enabled_shops(db)


@schedule("inventory_cycle", "*/5 * * * * *")
def inventory_cycle(scheduled_at: datetime, context: Any) -> None:
    for shop_id in _enabled_step() or []:
        try:
            _cycle_step(shop_id)
        except Exception as exc:  # noqa: BLE001 - one shop's failure must not stop the others
            log.error("inventory cycle failed", shop=shop_id, error=repr(exc))


@schedule("inventory_true_up", "0 */15 * * * *")
def inventory_true_up(scheduled_at: datetime, context: Any) -> None:
    for shop_id in _enabled_step() or []:
        try:
            _true_up_step(shop_id)
        except Exception as exc:  # noqa: BLE001
            log.error("inventory true-up failed", shop=shop_id, error=repr(exc))


def wait_idle(shop_id: str, timeout_s: float = 60.0) -> bool:
    """True once no listing of the shop is pending and every push has been written (tests, bench)."""
    db, _ = deps()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with db.session(shop_id) as session:
            busy = session.scalar(select(ChannelListing.id).where(
                ChannelListing.stocked.is_(True),
                (ChannelListing.pending.is_(True)) | (ChannelListing.last_pushed.is_(None))
                | (ChannelListing.last_pushed != ChannelListing.target)).limit(1))
        if busy is None:
            return True
        time.sleep(0.2)
    return False
