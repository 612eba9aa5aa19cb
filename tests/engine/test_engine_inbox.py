"""The inbox's worker side: leases, handlers in the mark's transaction, retries, requeue."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta

import orjson
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from storeops.core.clock import utcnow
from storeops.core.errors import VendorError
from storeops.db.session import Database
from storeops.engine.inbox import (
    BatchResult,
    EventContext,
    Handler,
    InboxProcessor,
    InboxPump,
    InvalidPayload,
    NewEvent,
    claim_batch,
    insert_events,
    pending_count,
    release_leases,
    requeue,
)
from storeops.engine.models import InboxEvent

VENDOR = "shopify"


def remember_customer(ctx: EventContext) -> None:
    ctx.event.subject = f"customer:{ctx.payload['customer']}"


def slow_remember_customer(ctx: EventContext) -> None:
    remember_customer(ctx)
    ctx.session.flush()
    time.sleep(0.005)  # widen the window in which a second worker can race


def vendor_down(ctx: EventContext) -> None:
    raise VendorError(VENDOR, "service unavailable", status=503)


def vendor_refuses(ctx: EventContext) -> None:
    raise VendorError(VENDOR, "customer email is malformed", status=400)


def remember_then_refuse(ctx: EventContext) -> None:
    remember_customer(ctx)
    ctx.session.flush()
    raise VendorError(VENDOR, "customer email is malformed", status=400)


def database_conflict(ctx: EventContext) -> None:
    raise OperationalError("UPDATE customers", {}, Exception("database is locked"))


def wrong_shape(ctx: EventContext) -> None:
    if "customer" not in ctx.payload:
        raise InvalidPayload("customers/update without a customer")
    remember_customer(ctx)


HANDLERS: dict[str, Handler] = {
    "customers/create": remember_customer,
    "customers/slow": slow_remember_customer,
    "customers/unavailable": vendor_down,
    "customers/refused": vendor_refuses,
    "customers/half_done": remember_then_refuse,
    "customers/update": wrong_shape,
    "customers/conflict": database_conflict,
}


def handler_for(vendor: str, topic: str) -> Handler | None:
    return HANDLERS.get(topic) if vendor == VENDOR else None


def add_events(db: Database, shop_id: str, topic: str, bodies: Sequence[bytes]) -> list[int]:
    prefix = uuid.uuid4().hex[:8]
    new = [
        NewEvent(shop_id, VENDOR, f"{prefix}-{n}", topic, {"X-Shopify-Topic": topic}, body)
        for n, body in enumerate(bodies)
    ]
    assert insert_events(db, new) == [True] * len(new)
    with db.system_session() as session:
        return sorted(
            session.scalars(
                select(InboxEvent.id).where(InboxEvent.event_id.in_([e.event_id for e in new]))
            ).all()
        )


def customer(n: int) -> bytes:
    return orjson.dumps({"customer": n, "email": f"c{n}@example.com"})


def load(db: Database, inbox_id: int) -> InboxEvent:
    with db.system_session() as session:
        event = session.get(InboxEvent, inbox_id)
        assert event is not None
        session.expunge(event)
        return event


def processor(db: Database, worker: str = "worker-a", **kwargs: int) -> InboxProcessor:
    return InboxProcessor(db, handler_for, worker=worker, **kwargs)


# --- leases ------------------------------------------------------------------------


def test_leased_events_are_not_claimed_again_until_the_lease_expires(db: Database, shop_id: str) -> None:
    ids = add_events(db, shop_id, "customers/create", [customer(1), customer(2)])

    assert claim_batch(db, limit=10, lease_s=0.5, worker="a") == ids
    assert claim_batch(db, limit=10, lease_s=0.5, worker="b") == []
    assert [load(db, i).attempts for i in ids] == [1, 1]

    time.sleep(0.6)

    assert claim_batch(db, limit=10, lease_s=0.05, worker="b") == ids
    assert [load(db, i).attempts for i in ids] == [2, 2]
    assert claim_batch(db, limit=10, lease_s=30, worker="c") == []

    # Once settled, an event is never claimed again, lease or not.
    assert processor(db, worker="b").process(ids).processed == 2
    time.sleep(0.1)
    assert claim_batch(db, limit=10, lease_s=30, worker="c") == []


def test_released_leases_make_a_killed_workers_events_claimable_at_once(db: Database, shop_id: str) -> None:
    ids = add_events(db, shop_id, "customers/create", [customer(1), customer(2), customer(3)])
    assert claim_batch(db, limit=2, lease_s=300, worker="killed") == ids[:2]
    assert processor(db, worker="killed").process(ids[:1]).processed == 1  # settled before the kill
    assert release_leases(db) == 1  # only the pending one it held
    assert claim_batch(db, limit=10, lease_s=30, worker="restarted") == ids[1:]


def test_claim_takes_the_oldest_up_to_the_limit(db: Database, shop_id: str) -> None:
    ids = add_events(db, shop_id, "customers/create", [customer(n) for n in range(5)])

    assert claim_batch(db, limit=2, lease_s=30, worker="a") == ids[:2]
    assert claim_batch(db, limit=10, lease_s=30, worker="b") == ids[2:]


# --- outcomes ----------------------------------------------------------------------


def test_handler_effects_commit_with_the_processed_mark(db: Database, shop_id: str) -> None:
    [inbox_id] = add_events(db, shop_id, "customers/create", [customer(7)])

    result = processor(db, worker="worker-a").process(claim_batch(db, limit=10, lease_s=30, worker="worker-a"))

    assert (result.processed, result.handled) == (1, 1)
    event = load(db, inbox_id)
    assert event.status == "processed"
    assert event.subject == "customer:7"
    assert event.processed_by == "worker-a"
    assert event.process_count == 1
    assert event.processed_at is not None
    assert event.lease_until is None
    assert event.error is None

    # A second worker whose lease had expired gets to the same event afterwards: its
    # handler runs, but its effects roll back with the mark it could not make.
    late = InboxProcessor(db, lambda vendor, topic: lambda ctx: setattr(ctx.event, "subject", "customer:late"),
                          worker="worker-b").process([inbox_id])

    assert (late.processed, late.lost_race) == (0, 1)
    event = load(db, inbox_id)
    assert (event.subject, event.processed_by, event.process_count) == ("customer:7", "worker-a", 1)


def test_a_transient_vendor_error_leaves_the_event_pending_with_a_later_lease(db: Database, shop_id: str) -> None:
    [inbox_id] = add_events(db, shop_id, "customers/unavailable", [customer(1)])
    claimed_at = utcnow()
    ids = claim_batch(db, limit=10, lease_s=0.05, worker="a")

    result = processor(db).process(ids)

    assert (result.retried, result.failed, result.processed) == (1, 0, 0)
    event = load(db, inbox_id)
    assert event.status == "pending"
    assert event.attempts == 1
    assert event.process_count == 0
    assert event.lease_until is not None
    assert event.lease_until > claimed_at + timedelta(seconds=1)  # pushed past the 0.05 s claim
    assert "transient" in (event.error or "") and "service unavailable" in (event.error or "")
    time.sleep(0.1)
    assert claim_batch(db, limit=10, lease_s=30, worker="b") == []  # backing off

    # A vendor that stays down is waited out past max_attempts (an outage outlasts ~8 minutes
    # of backoff)...
    with db.system_session() as session:
        session.execute(update(InboxEvent).where(InboxEvent.id == inbox_id).values(lease_until=None))
    result = processor(db, max_attempts=1).process(claim_batch(db, limit=10, lease_s=30, worker="b"))
    assert result.retried == 1 and load(db, inbox_id).status == "pending"

    # ...until the event is older than the window: then it fails for good.
    with db.system_session() as session:
        session.execute(update(InboxEvent).where(InboxEvent.id == inbox_id).values(lease_until=None))
    result = InboxProcessor(db, handler_for, worker="c", max_attempts=1,
                            vendor_retry_window=timedelta(0)).process(claim_batch(db, limit=10, lease_s=30,
                                                                                  worker="c"))

    assert result.failed == 1
    event = load(db, inbox_id)
    assert (event.status, event.attempts, event.lease_until) == ("failed", 3, None)


def test_a_database_conflict_is_retried_only_max_attempts_times(db: Database, shop_id: str) -> None:
    [inbox_id] = add_events(db, shop_id, "customers/conflict", [customer(1)])
    result = processor(db, max_attempts=1).process(claim_batch(db, limit=10, lease_s=30, worker="a"))
    assert result.failed == 1
    assert load(db, inbox_id).error == "transient: OperationalError('(builtins.Exception) database is locked')"


def test_a_permanent_vendor_error_fails_the_event_and_undoes_its_effects(db: Database, shop_id: str) -> None:
    [refused] = add_events(db, shop_id, "customers/refused", [customer(1)])
    [half_done] = add_events(db, shop_id, "customers/half_done", [customer(8)])

    result = processor(db).process(claim_batch(db, limit=10, lease_s=30, worker="a"))

    assert (result.failed, result.retried) == (2, 0)
    event = load(db, refused)
    assert event.status == "failed"
    assert "customer email is malformed" in (event.error or "")
    assert "system" in (event.error or "")
    assert event.lease_until is None
    assert event.attempts == 1
    event = load(db, half_done)
    assert event.status == "failed"
    assert event.subject is None  # flushed by the handler, rolled back with it
    assert event.process_count == 0


def test_a_body_that_is_not_json_or_of_the_wrong_shape_is_invalid(db: Database, shop_id: str) -> None:
    [garbled] = add_events(db, shop_id, "customers/create", [b"{not json"])
    [shapeless] = add_events(db, shop_id, "customers/update", [b'{"id": 1}'])

    result = processor(db).process(claim_batch(db, limit=10, lease_s=30, worker="a"))

    assert result.invalid == 2
    event = load(db, garbled)
    assert event.status == "invalid"
    assert "not JSON" in (event.error or "")
    assert event.subject is None
    assert load(db, shapeless).status == "invalid"
    assert "without a customer" in (load(db, shapeless).error or "")


def test_an_event_without_a_handler_is_ignored(db: Database, shop_id: str) -> None:
    [inbox_id] = add_events(db, shop_id, "app/uninstalled", [b"{not even json"])
    outcomes: list[tuple[str, str]] = []

    result = InboxProcessor(db, handler_for, worker="a", on_outcome=lambda v, o: outcomes.append((v, o))).process(
        [inbox_id]
    )

    assert result.ignored == 1
    assert outcomes == [(VENDOR, "ignored")]
    event = load(db, inbox_id)
    assert event.status == "ignored"
    assert event.process_count == 1


def test_a_batch_settles_each_event_on_its_own(db: Database, shop_id: str) -> None:
    good = add_events(db, shop_id, "customers/create", [customer(1), customer(2)])
    bad = add_events(db, shop_id, "customers/refused", [customer(3)])
    ugly = add_events(db, shop_id, "customers/create", [b"<xml/>"])

    result = processor(db).process(sorted(good + bad + ugly))

    assert (result.processed, result.failed, result.invalid) == (2, 1, 1)
    assert [load(db, i).subject for i in good] == ["customer:1", "customer:2"]


# --- concurrency -------------------------------------------------------------------


def test_two_processors_racing_for_the_same_events_process_each_once(db: Database, shop_id: str) -> None:
    ids = add_events(db, shop_id, "customers/slow", [customer(n) for n in range(30)])
    barrier = threading.Barrier(2)
    results: dict[str, BatchResult] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            results[name] = processor(db, worker=name).process(ids)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in ("worker-a", "worker-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert sum(r.processed for r in results.values()) == len(ids)
    assert sum(r.lost_race for r in results.values()) == len(ids)
    events = [load(db, i) for i in ids]
    assert all(e.status == "processed" and e.process_count == 1 for e in events)
    assert [e.subject for e in events] == [f"customer:{n}" for n in range(30)]


def test_two_pumps_share_the_inbox_without_doing_anything_twice(db: Database, shop_id: str) -> None:
    ids = add_events(db, shop_id, "customers/slow", [customer(n) for n in range(40)])
    pumps = [
        InboxPump(processor(db, worker=name), batch_size=5, lease_s=30, idle_s=0.01)
        for name in ("pump-a", "pump-b")
    ]
    for pump in pumps:
        pump.start()
    try:
        deadline = time.monotonic() + 30
        while pending_count(db) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for pump in pumps:
            pump.stop()

    events = [load(db, i) for i in ids]
    assert all(e.status == "processed" and e.process_count == 1 for e in events)
    assert {e.processed_by for e in events} <= {"pump-a", "pump-b"}


# --- pump and requeue --------------------------------------------------------------


def test_drain_processes_everything_ready(db: Database, shop_id: str) -> None:
    ids = add_events(db, shop_id, "customers/create", [customer(n) for n in range(7)])
    down = add_events(db, shop_id, "customers/unavailable", [customer(99)])

    total = InboxPump(processor(db), batch_size=3, lease_s=30, idle_s=0.01).drain(timeout_s=10)

    assert (total.processed, total.retried) == (7, 1)
    assert pending_count(db) == 1  # the unavailable one waits for its backoff
    assert all(load(db, i).status == "processed" for i in ids)
    assert load(db, down[0]).status == "pending"


def test_requeue_puts_failed_and_invalid_events_back(db: Database, shop_id: str) -> None:
    refused = add_events(db, shop_id, "customers/refused", [customer(1)])
    garbled = add_events(db, shop_id, "customers/create", [b"garbled"])
    fine = add_events(db, shop_id, "customers/create", [customer(3)])
    pump = InboxPump(processor(db), batch_size=10, lease_s=30, idle_s=0.01)
    pump.drain(timeout_s=10)
    assert [load(db, i).status for i in refused + garbled + fine] == ["failed", "invalid", "processed"]

    assert requeue(db, refused + garbled + fine) == 2

    for inbox_id in refused + garbled:
        event = load(db, inbox_id)
        assert (event.status, event.attempts, event.error, event.lease_until) == ("pending", 0, None, None)
    assert load(db, fine[0]).status == "processed"

    # After the fix (here: the vendor now accepts it, the body was repaired) they go through.
    handlers_after_fix = {"customers/refused": remember_customer, "customers/create": remember_customer}
    with db.system_session() as session:
        session.execute(update(InboxEvent).where(InboxEvent.id == garbled[0]).values(body=customer(2)))
    fixed = InboxPump(
        InboxProcessor(db, lambda vendor, topic: handlers_after_fix.get(topic), worker="after-fix"),
        batch_size=10, lease_s=30, idle_s=0.01,
    ).drain(timeout_s=10)

    assert fixed.processed == 2
    assert [load(db, i).subject for i in refused + garbled] == ["customer:1", "customer:2"]
    assert requeue(db, refused + garbled) == 0  # nothing failed any more
