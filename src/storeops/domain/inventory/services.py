"""Inventory services. Every function takes the caller's session (its transaction) and reads
only the session's shop (Database.session(shop_id) scopes every SELECT).

Concurrency: `reserve` and `apply_stock` lock the SKU's StockLevel rows first (SELECT ... FOR
UPDATE on PostgreSQL; SQLite transactions begin IMMEDIATE, one writer at a time), always in
(sku, location) order, so an order and a stock decrease racing for the last units are
serialised and the sum of open reservations never exceeds what is on hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storeops.core.clock import utcnow
from storeops.core.errors import InvalidInput
from storeops.domain.inventory.atp import Policy, StockChange, channel_targets, coalesce, low_stock
from storeops.domain.inventory.models import (
    CHANNELS,
    DRIFT,
    LOW_STOCK,
    OPEN,
    OVERSELL,
    RELEASED,
    SHIPPED,
    SHORT,
    ChannelListing,
    ChannelPolicy,
    InventoryAlert,
    Reservation,
    SkuThreshold,
    StockLevel,
)

CHUNK = 500  # SKUs per IN (...) list


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


# --- policies ------------------------------------------------------------------------------


def policies(session: Session) -> dict[str, Policy]:
    found = {p.channel: Policy(p.safety_buffer, p.floor, p.share_pct)
             for p in session.scalars(select(ChannelPolicy))}
    return {channel: found.get(channel, Policy()) for channel in CHANNELS}


def set_policy(session: Session, shop_id: str, channel: str, *, safety_buffer: int = 0, floor: int = 0,
               share_pct: int = 100) -> Policy:
    if channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    try:
        policy = Policy(safety_buffer, floor, share_pct)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="policy") from exc
    row = session.scalar(select(ChannelPolicy).where(ChannelPolicy.channel == channel))
    if row is None:
        session.add(ChannelPolicy(shop_id=shop_id, channel=channel, safety_buffer=safety_buffer, floor=floor,
                                  share_pct=share_pct))
    else:
        row.safety_buffer, row.floor, row.share_pct = safety_buffer, floor, share_pct
    session.flush()
    return policy


def set_threshold(session: Session, shop_id: str, sku: str, low_stock_at: int) -> None:
    if low_stock_at < 0:
        raise InvalidInput("a low-stock threshold cannot be negative", field="low_stock")
    row = session.scalar(select(SkuThreshold).where(SkuThreshold.sku == sku))
    if row is None:
        session.add(SkuThreshold(shop_id=shop_id, sku=sku, low_stock=low_stock_at))
    else:
        row.low_stock = low_stock_at
    session.flush()


# --- the truth -----------------------------------------------------------------------------


def _locked_levels(session: Session, skus: Sequence[str]) -> dict[tuple[str, str], StockLevel]:
    out: dict[tuple[str, str], StockLevel] = {}
    for chunk in _chunks(sorted(set(skus))):
        rows = session.scalars(select(StockLevel).where(StockLevel.sku.in_(chunk))
                               .order_by(StockLevel.sku, StockLevel.location).with_for_update())
        out.update({(r.sku, r.location): r for r in rows})
    return out


def reserved_by(session: Session, skus: Sequence[str]) -> dict[tuple[str, str], int]:
    """Open reservations: (sku, location) -> units."""
    out: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted(set(skus))):
        rows = session.execute(select(Reservation.sku, Reservation.location, func.sum(Reservation.quantity))
                               .where(Reservation.sku.in_(chunk), Reservation.status == OPEN)
                               .group_by(Reservation.sku, Reservation.location))
        out.update({(sku, loc): int(total or 0) for sku, loc, total in rows})
    return out


def available_by_location(session: Session, skus: Sequence[str]) -> dict[tuple[str, str], int]:
    """(location, sku) -> on hand minus open reservations (never below 0)."""
    reserved = reserved_by(session, skus)
    out: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted(set(skus))):
        for level in session.scalars(select(StockLevel).where(StockLevel.sku.in_(chunk))):
            out[(level.location, level.sku)] = max(0, level.on_hand - reserved.get((level.sku, level.location), 0))
    return out


def routing_stock(session: Session, order_id: str, skus: Sequence[str]) -> tuple[dict[tuple[str, str], int], set[str]]:
    """What routing may use for one order: (location, sku) -> units, the order's own open
    reservations counted back in (they are its units wherever they sit), and the SKUs storeops
    tracks. A SKU without stock rows is untracked: ShipBob alone knows its stock.

    Locks the SKUs' stock rows like `reserve` does, so a `reassign` in the same transaction
    never promises units another order took meanwhile."""
    levels = _locked_levels(session, skus)
    reserved = reserved_by(session, skus)
    own: dict[tuple[str, str], int] = defaultdict(int)
    for row in session.scalars(select(Reservation).where(Reservation.order_id == order_id,
                                                         Reservation.status == OPEN)):
        own[(row.sku, row.location)] += row.quantity
    available = {(loc, sku): max(0, level.on_hand - reserved.get((sku, loc), 0) + own[(sku, loc)])
                 for (sku, loc), level in levels.items()}
    return available, {sku for sku, _ in levels}


def reassign(session: Session, shop_id: str, order_id: str, plan: Iterable[tuple[str, str, int]]) -> bool:
    """Hold the order's units where routing sends it: `plan` is (sku, location, units); the
    order's open reservations elsewhere end. Returns whether anything changed."""
    wanted: dict[tuple[str, str], int] = defaultdict(int)
    for sku, location, units in plan:
        if units <= 0:
            raise InvalidInput(f"units of {sku} at {location} must be positive", field="quantity")
        wanted[(sku, location)] += units
    rows = {(r.sku, r.location): r for r in session.scalars(select(Reservation).where(
        Reservation.order_id == order_id, Reservation.status.in_([OPEN, RELEASED])))}
    current = {key: r.quantity for key, r in rows.items() if r.status == OPEN}
    if current == dict(wanted):
        return False
    for key, row in rows.items():
        if row.status == OPEN and key not in wanted:
            session.delete(row)
    for (sku, location), units in wanted.items():
        existing = rows.get((sku, location))
        if existing is None:
            session.add(Reservation(shop_id=shop_id, order_id=order_id, sku=sku, location=location, quantity=units))
        else:
            existing.status, existing.quantity = OPEN, units
    session.flush()
    return True


@dataclass
class StockApplied:
    changed: list[str] = field(default_factory=list)  # SKUs whose on hand moved
    bumped: list[dict[str, Any]] = field(default_factory=list)  # reservations the stock no longer covers


def apply_stock(session: Session, shop_id: str, changes: Iterable[StockChange], *,
                source: str = "shipbob") -> StockApplied:
    """Store the truth. A change older than what we hold is ignored (newer wins).

    When on hand falls below the open reservations (stock lost, a recount), the newest
    reservations are bumped to `short`: they are oversold orders someone has to handle."""
    latest = coalesce(changes)
    # A poll re-reads every level; most have not moved. Compare without locking first, then
    # lock and load only the rows that differ (a 10,000-SKU poll holds the write lock briefly).
    # An unchanged level keeps its older stamp: harmless, a level is polled by one sweep at a time.
    held: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted({sku for sku, _ in latest})):
        held.update({(sku, loc): n for sku, loc, n in session.execute(
            select(StockLevel.sku, StockLevel.location, StockLevel.on_hand).where(StockLevel.sku.in_(chunk)))})
    latest = {k: c for k, c in latest.items() if held.get(k) != c.on_hand}
    levels = _locked_levels(session, [sku for sku, _ in latest])
    result = StockApplied()
    decreased: list[tuple[str, str]] = []
    for key, change in latest.items():
        stamp = datetime.fromisoformat(change.stamp)
        level = levels.get(key)
        if level is None:
            level = StockLevel(shop_id=shop_id, sku=change.sku, location=change.location, on_hand=change.on_hand,
                               source=source, source_updated_at=stamp)
            session.add(level)
            result.changed.append(change.sku)
            continue
        if level.source_updated_at is not None and level.source_updated_at > stamp:
            continue
        level.source_updated_at = stamp
        if level.on_hand != change.on_hand:
            if change.on_hand < level.on_hand:
                decreased.append(key)
            level.on_hand = change.on_hand
            level.source = source
            result.changed.append(change.sku)
    if decreased:
        result.bumped = _bump_uncovered(session, {k: levels[k].on_hand for k in decreased})
    session.flush()
    result.changed = sorted(set(result.changed))
    return result


def _bump_uncovered(session: Session, on_hand: Mapping[tuple[str, str], int]) -> list[dict[str, Any]]:
    bumped: list[dict[str, Any]] = []
    reserved = reserved_by(session, [sku for sku, _ in on_hand])
    for (sku, location), units in on_hand.items():
        excess = reserved.get((sku, location), 0) - units
        if excess <= 0:
            continue
        newest = session.scalars(select(Reservation).where(Reservation.sku == sku, Reservation.location == location,
                                                           Reservation.status == OPEN)
                                 .order_by(Reservation.created_at.desc(), Reservation.id.desc()))
        for row in newest:
            if excess <= 0:
                break
            row.status = SHORT
            excess -= row.quantity
            bumped.append({"order_id": row.order_id, "sku": sku, "location": location, "quantity": row.quantity})
    return bumped


# --- reservations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Shortage:
    sku: str
    wanted: int
    available: int


@dataclass
class ReservationResult:
    ok: bool
    reserved: list[tuple[str, str, int]] = field(default_factory=list)  # (sku, location, units)
    short: list[Shortage] = field(default_factory=list)
    already: bool = False  # the order held reservations before this call

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "already": self.already,
                "reserved": [{"sku": s, "location": loc, "quantity": q} for s, loc, q in self.reserved],
                "short": [{"sku": s.sku, "wanted": s.wanted, "available": s.available} for s in self.short]}


def _wanted(lines: Iterable[tuple[str, int]]) -> dict[str, int]:
    wanted: dict[str, int] = defaultdict(int)
    for sku, quantity in lines:
        if not sku:
            raise InvalidInput("every order line needs a SKU", field="sku")
        if quantity <= 0:
            raise InvalidInput(f"quantity of {sku} must be positive", field="quantity")
        wanted[sku] += quantity
    return dict(wanted)


def reserve(session: Session, shop_id: str, order_id: str, lines: Iterable[tuple[str, int]],
            location: str | None = None) -> ReservationResult:
    """Promise the order's units, all or nothing.

    `lines` are (sku, quantity). With `location`, only that location's units count;
    without, each line takes the location with the most free units, splitting over
    locations only when no single one has enough. Short lines reserve nothing and come
    back in `short`. Calling it again for the same order returns what it holds."""
    wanted = _wanted(lines)
    held = list(session.scalars(select(Reservation).where(Reservation.order_id == order_id,
                                                          Reservation.status.in_([OPEN, SHIPPED]))))
    if held:
        return ReservationResult(True, [(r.sku, r.location, r.quantity) for r in held], already=True)
    levels = _locked_levels(session, list(wanted))
    reserved = reserved_by(session, list(wanted))
    plan: list[tuple[str, str, int]] = []
    short: list[Shortage] = []
    for sku, quantity in sorted(wanted.items()):
        free = {loc: max(0, lvl.on_hand - reserved.get((s, loc), 0))
                for (s, loc), lvl in levels.items() if s == sku and (location is None or loc == location)}
        total = sum(free.values())
        if total < quantity:
            short.append(Shortage(sku, quantity, total))
            continue
        whole = [loc for loc, units in free.items() if units >= quantity]
        if whole:
            best = max(whole, key=lambda loc: (free[loc], loc))
            plan.append((sku, best, quantity))
            continue
        left = quantity
        for loc, units in sorted(free.items(), key=lambda kv: (-kv[1], kv[0])):
            take = min(units, left)
            if take:
                plan.append((sku, loc, take))
                left -= take
    if short:
        return ReservationResult(False, [], short)
    for sku, loc, units in plan:
        session.add(Reservation(shop_id=shop_id, order_id=order_id, sku=sku, location=loc, quantity=units))
    session.flush()
    return ReservationResult(True, plan)


def release(session: Session, order_id: str, *, status: str = RELEASED) -> list[str]:
    """End the order's open reservations (cancelled: released; shipped: shipped). Returns SKUs."""
    if status not in (RELEASED, SHIPPED):
        raise InvalidInput("a reservation is released or shipped", field="status")
    rows = list(session.scalars(select(Reservation).where(Reservation.order_id == order_id,
                                                          Reservation.status == OPEN)))
    for row in rows:
        row.status = status
    session.flush()
    return sorted({r.sku for r in rows})


# --- channels ------------------------------------------------------------------------------


def link_listings(session: Session, shop_id: str, rows: Iterable[Mapping[str, Any]]) -> int:
    """Upsert listings: {channel, sku, location, external_item?, external_location?}. New rows are
    pending (never pushed). Returns how many were created."""
    wanted = {(r["channel"], r["sku"], r.get("location") or ""): r for r in rows}
    existing: dict[tuple[str, str, str], ChannelListing] = {}
    for chunk in _chunks(sorted({sku for _, sku, _ in wanted})):
        for row in session.scalars(select(ChannelListing).where(ChannelListing.sku.in_(chunk))):
            existing[(row.channel, row.sku, row.location)] = row
    created = 0
    for key, r in wanted.items():
        held = existing.get(key)
        if held is None:
            session.add(ChannelListing(shop_id=shop_id, channel=key[0], sku=key[1], location=key[2],
                                       external_item=r.get("external_item"),
                                       external_location=r.get("external_location"), pending=True))
            created += 1
        else:
            held.external_item = r.get("external_item") or held.external_item
            held.external_location = r.get("external_location") or held.external_location
    session.flush()
    return created


def refresh_targets(session: Session, shop_id: str, skus: Sequence[str]) -> int:
    """Recompute every listed channel's ATP for these SKUs; a listing whose target differs
    from what we last pushed becomes pending. Low-stock alerts open and close here.
    Returns how many listings are pending now among these SKUs."""
    if not skus:
        return 0
    rules = policies(session)
    reserved = reserved_by(session, skus)
    on_hand: dict[str, dict[str, int]] = defaultdict(dict)
    thresholds: dict[str, int] = {}
    listings: list[ChannelListing] = []
    open_low: dict[str, InventoryAlert] = {}
    for chunk in _chunks(sorted(set(skus))):
        for level in session.scalars(select(StockLevel).where(StockLevel.sku.in_(chunk))):
            on_hand[level.sku][level.location] = level.on_hand
        thresholds.update({sku: low for sku, low in session.execute(
            select(SkuThreshold.sku, SkuThreshold.low_stock).where(SkuThreshold.sku.in_(chunk)))})
        listings += session.scalars(select(ChannelListing).where(ChannelListing.sku.in_(chunk)))
        open_low.update({a.sku: a for a in session.scalars(select(InventoryAlert).where(
            InventoryAlert.sku.in_(chunk), InventoryAlert.kind == LOW_STOCK, InventoryAlert.resolved_at.is_(None)))})
    targets: dict[str, dict[tuple[str, str], int]] = {}
    for sku in set(skus):
        held = {loc: units for (s, loc), units in reserved.items() if s == sku}
        targets[sku] = channel_targets(on_hand.get(sku, {}), held, rules)
    pending = 0
    for listing in listings:
        target = targets[listing.sku].get((listing.channel, listing.location), 0)
        listing.target = target
        listing.pending = listing.stocked and target != listing.last_pushed
        pending += listing.pending
    for sku in set(skus):
        threshold = thresholds.get(sku, 0)
        free = sum(max(0, units - reserved.get((sku, loc), 0)) for loc, units in on_hand.get(sku, {}).items())
        alert = open_low.get(sku)
        if low_stock(free, threshold) and alert is None:
            raise_alert(session, shop_id, LOW_STOCK, sku, detail={"available": free, "threshold": threshold})
        elif alert is not None and not low_stock(free, threshold):
            alert.resolved_at = utcnow()
    session.flush()
    return pending


def raise_alert(session: Session, shop_id: str, kind: str, sku: str, *, order_id: str | None = None,
                detail: dict[str, Any] | None = None) -> InventoryAlert:
    if kind not in (OVERSELL, LOW_STOCK, DRIFT):
        raise InvalidInput(f"unknown alert kind {kind!r}", field="kind")
    alert = InventoryAlert(shop_id=shop_id, kind=kind, sku=sku, order_id=order_id, detail=detail or {})
    session.add(alert)
    session.flush()
    return alert


def open_alerts(session: Session, limit: int = 200) -> list[InventoryAlert]:
    return list(session.scalars(select(InventoryAlert).where(InventoryAlert.resolved_at.is_(None))
                                .order_by(InventoryAlert.id.desc()).limit(limit)))


def pending_listings(session: Session, channel: str, limit: int | None = None) -> list[ChannelListing]:
    query = select(ChannelListing).where(ChannelListing.channel == channel, ChannelListing.pending.is_(True),
                                         ChannelListing.stocked.is_(True)).order_by(ChannelListing.id)
    return list(session.scalars(query.limit(limit) if limit else query))


def listings_for(session: Session, channel: str,
                 keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ChannelListing]:
    """(sku, location) -> listing of `channel`."""
    wanted = set(keys)
    out: dict[tuple[str, str], ChannelListing] = {}
    for chunk in _chunks(sorted({sku for sku, _ in wanted})):
        for row in session.scalars(select(ChannelListing).where(ChannelListing.channel == channel,
                                                                ChannelListing.sku.in_(chunk))):
            if (row.sku, row.location) in wanted:
                out[(row.sku, row.location)] = row
    return out


# --- what the dashboard shows --------------------------------------------------------------


def overview(session: Session, *, sku_prefix: str | None = None, limit: int = 100,
             offset: int = 0) -> list[dict[str, Any]]:
    """Per SKU: on hand, reserved, free, and per channel/location the ATP (target), last pushed,
    last seen on the channel, drift (seen - target) and whether a push is pending."""
    query = select(StockLevel.sku).distinct().order_by(StockLevel.sku)
    if sku_prefix:
        query = query.where(StockLevel.sku.startswith(sku_prefix))
    skus = list(session.scalars(query.limit(limit).offset(offset)))
    if not skus:
        return []
    reserved = reserved_by(session, skus)
    rows: dict[str, dict[str, Any]] = {sku: {"sku": sku, "on_hand": 0, "reserved": 0, "locations": {},
                                             "channels": [], "alerts": []} for sku in skus}
    for level in session.scalars(select(StockLevel).where(StockLevel.sku.in_(skus))):
        row = rows[level.sku]
        held = reserved.get((level.sku, level.location), 0)
        row["on_hand"] += level.on_hand
        row["reserved"] += held
        row["locations"][level.location] = {"on_hand": level.on_hand, "reserved": held}
    for listing in session.scalars(select(ChannelListing).where(ChannelListing.sku.in_(skus))
                                   .order_by(ChannelListing.channel, ChannelListing.location)):
        drift = None if listing.last_seen is None or listing.target is None else listing.last_seen - listing.target
        rows[listing.sku]["channels"].append({
            "channel": listing.channel, "location": listing.location, "atp": listing.target,
            "last_pushed": listing.last_pushed, "last_seen": listing.last_seen, "drift": drift,
            "pending": listing.pending, "stocked": listing.stocked,
            "pushed_at": listing.pushed_at.isoformat() if listing.pushed_at else None})
    for alert in session.scalars(select(InventoryAlert).where(InventoryAlert.sku.in_(skus),
                                                              InventoryAlert.resolved_at.is_(None))):
        rows[alert.sku]["alerts"].append({"kind": alert.kind, "order_id": alert.order_id, "detail": alert.detail})
    for row in rows.values():
        row["available"] = max(0, row["on_hand"] - row["reserved"])
    return [rows[sku] for sku in skus]
