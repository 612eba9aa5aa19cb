"""The outbox: effects written with the decision, relayed to durable workflows once."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from storeops.core.clock import utcnow
from storeops.core.errors import VendorError
from storeops.core.settings import Settings
from storeops.db.session import Database, ShopScopeViolation
from storeops.engine import outbox
from storeops.engine.models import OutboxMessage
from storeops.engine.outbox import (
    BATCH_QUEUE,
    OutboxRelay,
    action,
    emit,
    registered_actions,
    retry_failed,
    run_batch,
    workflow_id_for,
)
from storeops.engine.retry import GaveUp, RetryPolicy
from storeops.engine.workflows import Engine, QueueSpec, define_queue

VENDOR = define_queue(QueueSpec("test_engine_outbox.vendor"))
PER_ORDER = define_queue(QueueSpec("test_engine_outbox.per_order", partitioned=True))

TAG_ORDER = "test_engine_outbox.tag_order"
ROUTE_ORDER = "test_engine_outbox.route_order"
CANCEL_ORDER = "test_engine_outbox.cancel_order"
REFUND_ORDER = "test_engine_outbox.refund_order"
LIMITED_TAG = "test_engine_outbox.limited_tag"
LIMITED = define_queue(QueueSpec("test_engine_outbox.limited", limit=5, period=1.0))
call_times: dict[str, float] = {}
NOTIFY = "test_engine_outbox.notify"  # batched; the vendor is down for the order's first N calls
SYNC_STOCK = "test_engine_outbox.sync_stock"  # the same, partitioned
CONFLICTED = "test_engine_outbox.conflicted"  # our own database keeps refusing: not a vendor outage
QUICK = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02)  # a whole policy in ~30 ms
outage_calls: dict[str, int] = {}  # order -> calls the vendor still answers with 503

_lock = threading.Lock()
runs: dict[str, int] = defaultdict(int)  # "<action>:<order>" -> times the action body ran
refusals_fixed: set[str] = set()  # orders whose cancellation the vendor now accepts


def _ran(name: str, order: str) -> int:
    with _lock:
        runs[f"{name}:{order}"] += 1
        return runs[f"{name}:{order}"]


@action(TAG_ORDER, queue=VENDOR.name)
def tag_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    _ran(TAG_ORDER, payload["order"])
    return {"tagged": payload["order"], "tags": payload["tags"], "key": key, "shop": shop_id}


@action(ROUTE_ORDER, queue=PER_ORDER.name, partition=lambda shop_id, payload: f"{shop_id}:{payload['order']}")
def route_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    _ran(ROUTE_ORDER, payload["order"])
    return {"routed": payload["order"]}


@action(CANCEL_ORDER, queue=VENDOR.name)
def cancel_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    _ran(CANCEL_ORDER, payload["order"])
    if payload["order"] not in refusals_fixed:
        raise VendorError("shopify", "order is already fulfilled", status=422)
    return {"cancelled": payload["order"]}


@action(REFUND_ORDER, queue=PER_ORDER.name, partition=lambda shop_id, payload: f"{shop_id}:{payload['order']}")
def refund_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    _ran(REFUND_ORDER, payload["order"])
    if payload["order"] not in refusals_fixed:
        raise VendorError("shopify", "order is already fulfilled", status=422)
    return {"refunded": payload["order"]}


@action(LIMITED_TAG, queue=LIMITED.name)
def limited_tag(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    with _lock:
        call_times[payload["order"]] = time.monotonic()
    return {}


def _through_outage(name: str, order: str) -> None:
    _ran(name, order)
    with _lock:
        if outage_calls.get(order, 0) > 0:
            outage_calls[order] -= 1
            raise VendorError("shopify", "service unavailable", status=503)


@action(NOTIFY, queue=VENDOR.name, policy=QUICK)
def notify(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    _through_outage(NOTIFY, payload["order"])
    return {"notified": payload["order"]}


@action(CONFLICTED, queue=VENDOR.name, policy=QUICK)
def conflicted(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    _ran(CONFLICTED, payload["order"])
    raise OperationalError("UPDATE orders", {}, Exception("database is locked"))


@action(SYNC_STOCK, queue=PER_ORDER.name, partition=lambda shop_id, payload: f"{shop_id}:{payload['order']}",
        policy=QUICK)
def sync_stock(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    _through_outage(SYNC_STOCK, payload["order"])
    return {"synced": payload["order"]}


@pytest.fixture
def order() -> str:
    return f"order-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    started = Engine(settings.engine_database_url, executor_id=f"test-outbox-{uuid.uuid4().hex[:6]}")
    try:
        started.launch()
        yield started
    finally:
        started.shutdown()


@pytest.fixture
def relay(db: Database, engine: Engine) -> OutboxRelay:
    return OutboxRelay(db, engine)


def messages(db: Database) -> list[OutboxMessage]:
    with db.system_session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def message(db: Database, key: str) -> OutboxMessage:
    with db.system_session() as session:
        found = session.scalars(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).one()
        session.expunge(found)
        return found


def emit_tag(db: Database, shop_id: str, order: str, *, cause: str | None = None) -> str:
    with db.session(shop_id) as session:
        return emit(
            session, shop_id=shop_id, target=TAG_ORDER, payload={"order": order, "tags": ["vip"]},
            cause=cause or f"inbox:shopify:{order}",
        )


def wait_for_status(db: Database, key: str, status: str, timeout_s: float = 30.0) -> OutboxMessage:
    deadline = time.monotonic() + timeout_s
    while True:
        found = message(db, key)
        if found.status == status or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


# --- emit --------------------------------------------------------------------------


def test_emit_in_a_shop_transaction_adds_one_pending_message(db: Database, shop_id: str, order: str) -> None:
    key = emit_tag(db, shop_id, order)

    [found] = messages(db)
    assert found.idempotency_key == key
    assert found.shop_id == shop_id
    assert found.target == TAG_ORDER
    assert found.payload == {"order": order, "tags": ["vip"]}
    assert found.status == "pending"
    assert found.created_at.tzinfo is not None
    assert (found.workflow_id, found.result, found.error) == (None, None, None)


def test_emitting_the_same_cause_and_target_twice_adds_one_message(db: Database, shop_id: str, order: str) -> None:
    first = emit_tag(db, shop_id, order)
    with db.session(shop_id) as session:  # the same event handled again, in one transaction even
        again = emit(session, shop_id=shop_id, target=TAG_ORDER, payload={"order": order, "tags": []},
                     cause=f"inbox:shopify:{order}")
        also = emit(session, shop_id=shop_id, target=TAG_ORDER, payload={"order": order, "tags": []},
                    cause=f"inbox:shopify:{order}")

    assert first == again == also
    [found] = messages(db)
    assert found.payload["tags"] == ["vip"]  # the first decision stands

    # Another cause, or another target for the same cause, is another effect.
    emit_tag(db, shop_id, order, cause=f"inbox:shopify:{order}-edited")
    with db.session(shop_id) as session:
        emit(session, shop_id=shop_id, target=ROUTE_ORDER, payload={"order": order}, cause=f"inbox:shopify:{order}")
    assert len(messages(db)) == 3


def test_a_rolled_back_transaction_leaves_no_message(db: Database, shop_id: str, order: str) -> None:
    with pytest.raises(RuntimeError), db.session(shop_id) as session:
        emit(session, shop_id=shop_id, target=TAG_ORDER, payload={"order": order, "tags": []}, cause="inbox:x:1")
        raise RuntimeError("the decision failed after the effect was added")

    assert messages(db) == []


def test_emit_refuses_an_unknown_target_and_another_shops_message(db: Database, shop_id: str, order: str) -> None:
    assert TAG_ORDER in registered_actions()
    with pytest.raises(KeyError), db.session(shop_id) as session:
        emit(session, shop_id=shop_id, target="test_engine_outbox.no_such_action", payload={}, cause="inbox:x:2")
    with pytest.raises(ShopScopeViolation), db.session(shop_id) as session:
        emit(session, shop_id="shop_someone_else", target=TAG_ORDER, payload={"order": order, "tags": []},
             cause="inbox:x:3")
    assert messages(db) == []


# --- relay -------------------------------------------------------------------------


def test_relay_runs_each_action_once_and_stores_its_result(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    # A message whose action was removed in a later release comes first; it must not
    # hold up the ones behind it.
    with db.system_session() as session:
        session.add(OutboxMessage(shop_id=shop_id, idempotency_key=f"gone-{order}", target="test_engine_outbox.gone",
                                  payload={}, status="pending"))
    key = emit_tag(db, shop_id, order)
    with db.session(shop_id) as session:
        routed = emit(session, shop_id=shop_id, target=ROUTE_ORDER, payload={"order": order}, cause=f"route:{order}")

    assert relay.run_once() == 3

    gone = message(db, f"gone-{order}")
    assert gone.status == "failed"
    assert "test_engine_outbox.gone" in (gone.error or "")

    expected = {"tagged": order, "tags": ["vip"], "key": key, "shop": shop_id}
    done = wait_for_status(db, key, "done")
    assert done.status == "done"
    assert done.result == expected
    assert done.finished_at is not None
    # A batched action: its message ran inside one batch workflow on the batch queue.
    assert done.workflow_id is not None and done.workflow_id.startswith(f"outbox-batch:{TAG_ORDER}:")
    assert engine.result(done.workflow_id, timeout_s=10) == {"done": 1, "failed": 0}
    batch = engine.status(done.workflow_id)
    assert batch is not None and batch.queue == BATCH_QUEUE.name
    assert runs[f"{TAG_ORDER}:{order}"] == 1

    # The partitioned action ran in a workflow of its own on its own queue.
    assert engine.result(workflow_id_for(routed), timeout_s=10) == {"routed": order}
    info = engine.status(workflow_id_for(routed))
    assert info is not None and info.queue == PER_ORDER.name
    assert wait_for_status(db, routed, "done").result == {"routed": order}

    assert relay.run_once() == 0  # nothing pending any more
    assert runs[f"{TAG_ORDER}:{order}"] == 1
    assert runs[f"{ROUTE_ORDER}:{order}"] == 1


def test_many_messages_share_few_workflows(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    keys = [emit_tag(db, shop_id, f"{order}-{n}") for n in range(250)]
    assert relay.run_once() == 250
    found = [wait_for_status(db, key, "done") for key in keys]
    assert all(m.status == "done" for m in found)
    assert len({m.workflow_id for m in found}) == 3  # 100 + 100 + 50, not 250 workflows
    assert all(runs[f"{TAG_ORDER}:{order}-{n}"] == 1 for n in range(250))


def test_relays_racing_or_restarting_never_run_an_action_twice(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    keys = [emit_tag(db, shop_id, f"{order}-{n}") for n in range(5)]
    other = OutboxRelay(db, engine)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(r: OutboxRelay) -> None:
        try:
            barrier.wait()
            r.run_once()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in (relay, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    for n, key in enumerate(keys):
        assert wait_for_status(db, key, "done").status == "done"
        assert runs[f"{TAG_ORDER}:{order}-{n}"] == 1


def _claim(db: Database, keys: list[str], batch_id: str, *, dispatched_ago_s: float = 60.0) -> None:
    with db.system_session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key.in_(keys))
            .values(status="dispatched", workflow_id=batch_id,
                    dispatched_at=utcnow() - timedelta(seconds=dispatched_ago_s))
        )


def test_a_batch_claimed_by_a_relay_that_died_before_enqueueing_it_is_enqueued_again(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    keys = [emit_tag(db, shop_id, f"{order}-{n}") for n in range(3)]
    batch_id = f"outbox-batch:{TAG_ORDER}:{order}"
    _claim(db, keys, batch_id)  # claimed, then the relay was killed: no workflow exists

    # Nothing is pending (the messages belong to the batch); the relay's sweep finds the
    # batch without a workflow and enqueues it under its own id.
    assert relay.run_once() == 0
    for n, key in enumerate(keys):
        found = wait_for_status(db, key, "done")
        assert found.status == "done" and found.workflow_id == batch_id
        assert runs[f"{TAG_ORDER}:{order}-{n}"] == 1
    assert relay.recover_orphans(older_than_s=0) == 0  # nothing left dispatched


def test_a_batch_resumed_after_a_crash_delivers_only_what_it_had_not(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    keys = [emit_tag(db, shop_id, f"{order}-{n}") for n in range(3)]
    batch_id = f"outbox-batch:{TAG_ORDER}:{order}"
    _claim(db, keys, batch_id, dispatched_ago_s=0)
    # The process died mid-batch: the first message's outcome was committed, the others not.
    with db.system_session() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.idempotency_key == keys[0])
                        .values(status="done", result={"before": "crash"}))

    assert engine.result(engine.start(run_batch, batch_id, TAG_ORDER, workflow_id=batch_id).get_workflow_id(),
                         timeout_s=20) == {"done": 2, "failed": 0}
    assert message(db, keys[0]).result == {"before": "crash"}
    assert runs[f"{TAG_ORDER}:{order}-0"] == 0
    assert [runs[f"{TAG_ORDER}:{order}-{n}"] for n in (1, 2)] == [1, 1]
    assert all(message(db, k).status == "done" for k in keys)


def test_a_message_left_dispatched_by_a_finished_batch_goes_back_to_pending(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    first, second = emit_tag(db, shop_id, f"{order}-0"), emit_tag(db, shop_id, f"{order}-1")
    batch_id = f"outbox-batch:{TAG_ORDER}:{order}"
    _claim(db, [first], batch_id)
    engine.result(engine.start(run_batch, batch_id, TAG_ORDER, workflow_id=batch_id).get_workflow_id(),
                  timeout_s=20)
    _claim(db, [second], batch_id)  # joined the batch after it ran (cannot happen, but must not be lost)

    assert relay.recover_orphans(older_than_s=5) == 1
    assert message(db, second).status == "pending"
    assert relay.run_once() == 1
    assert wait_for_status(db, second, "done").status == "done"
    assert runs[f"{TAG_ORDER}:{order}-1"] == 1


def test_a_refused_action_marks_its_message_failed_and_a_retry_delivers_it(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    with db.session(shop_id) as session:
        key = emit(session, shop_id=shop_id, target=CANCEL_ORDER, payload={"order": order}, cause=f"cancel:{order}")
        tag = emit(session, shop_id=shop_id, target=TAG_ORDER, payload={"order": order, "tags": []},
                   cause=f"cancel:{order}")
    relay.run_once()

    failed = wait_for_status(db, key, "failed")
    assert failed.status == "failed"
    assert "already fulfilled" in (failed.error or "")
    assert wait_for_status(db, tag, "done").status == "done"  # the other action is not held up
    assert runs[f"{CANCEL_ORDER}:{order}"] == 1  # a 422 is not retried

    refusals_fixed.add(order)  # a person sorted it out with the vendor
    assert retry_failed(db, [key, tag]) == 1  # only the failed one goes again
    relay.run_once()

    done = wait_for_status(db, key, "done")
    assert done.status == "done"
    assert done.result == {"cancelled": order}
    assert runs[f"{CANCEL_ORDER}:{order}"] == 2


def test_a_refused_partitioned_action_fails_its_workflow_and_a_fork_delivers_it(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    with db.session(shop_id) as session:
        key = emit(session, shop_id=shop_id, target=REFUND_ORDER, payload={"order": order}, cause=f"refund:{order}")
    relay.run_once()

    with pytest.raises(GaveUp):
        engine.result(workflow_id_for(key), timeout_s=10)
    failed = wait_for_status(db, key, "failed")
    assert "already fulfilled" in (failed.error or "")
    assert workflow_id_for(key) in {w.workflow_id for w in engine.list(status="ERROR")}

    refusals_fixed.add(order)
    new_id = engine.fork(workflow_id_for(key), start_step=1)

    assert engine.result(new_id, timeout_s=10) == {"refunded": order}
    assert wait_for_status(db, key, "done").result == {"refunded": order}
    assert runs[f"{REFUND_ORDER}:{order}"] == 2


def test_a_vendor_queue_limit_applies_to_calls_inside_batches(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    keys = []
    with db.session(shop_id) as session:
        for n in range(10):
            keys.append(emit(session, shop_id=shop_id, target=LIMITED_TAG, payload={"order": f"{order}-{n}"},
                             cause=f"limited:{order}:{n}"))
    started = time.monotonic()
    relay.run_once()
    found = [wait_for_status(db, key, "done") for key in keys]
    elapsed = time.monotonic() - started
    assert all(m.status == "done" for m in found)
    assert len({m.workflow_id for m in found}) == 1  # one batch...
    # ...whose calls still keep the queue's limit: a burst of 5, then 5 per second.
    stamps = sorted(call_times[f"{order}-{n}"] for n in range(10))
    assert stamps[-1] - stamps[0] >= 0.9 and elapsed >= 0.9


# --- vendor outages: later rounds ----------------------------------------------------------


@pytest.fixture
def short_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "ROUND_DELAY_MIN_S", 0.5)


def run_relay_until(relay: OutboxRelay, db: Database, key: str, status: str, timeout_s: float = 20.0) -> OutboxMessage:
    """Run the relay as `storeops up` does (a loop) until the message reaches `status`."""
    deadline = time.monotonic() + timeout_s
    while True:
        relay.run_once()
        found = message(db, key)
        if found.status == status or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.parametrize("target", [NOTIFY, SYNC_STOCK])
def test_a_vendor_down_through_a_whole_retry_policy_gets_a_later_round_not_a_failure(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str, target: str,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    # Long enough that the relay run below surely comes before the round is due (a loaded CI
    # machine once took over 0.5 s between the requeue and that run).
    monkeypatch.setattr(outbox, "ROUND_DELAY_MIN_S", 3.0)
    outage_calls[order] = QUICK.max_attempts + 1  # the first round fails, and the second's first call
    with db.session(shop_id) as session:
        key = emit(session, shop_id=shop_id, target=target, payload={"order": order}, cause=f"outage:{order}")
    relay.run_once()

    deadline = time.monotonic() + 10
    while (found := message(db, key)).rounds == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert found.status == "pending" and found.rounds == 1
    assert "503" in (found.error or "") and found.failing_since is not None
    assert found.not_before is not None and found.not_before > found.failing_since
    assert found.not_before > utcnow()
    assert relay.run_once() == 0  # not before its time
    assert runs[f"{target}:{order}"] == QUICK.max_attempts

    done = run_relay_until(relay, db, key, "done")
    assert done.status == "done" and done.error is None
    assert done.result == ({"notified": order} if target == NOTIFY else {"synced": order})
    assert done.rounds == 1  # the second round retried its refused first call within its policy
    assert runs[f"{target}:{order}"] == QUICK.max_attempts + 2


def test_a_vendor_down_for_longer_than_the_retry_window_fails_the_message(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str, short_rounds: None,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "RETRY_WINDOW", timedelta(seconds=1))
    outage_calls[order] = 10_000
    with db.session(shop_id) as session:
        key = emit(session, shop_id=shop_id, target=NOTIFY, payload={"order": order}, cause=f"outage:{order}")

    failed = run_relay_until(relay, db, key, "failed")
    assert failed.status == "failed" and "503" in (failed.error or "")
    assert failed.rounds >= 1  # it did get later rounds before the window closed

    outage_calls[order] = 0  # the vendor is back; a person retries
    assert retry_failed(db, [key]) == 1
    done = run_relay_until(relay, db, key, "done")
    assert done.result == {"notified": order} and done.failing_since is None


def test_a_person_retrying_a_failed_partitioned_action_gets_a_new_workflow(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    with db.session(shop_id) as session:
        key = emit(session, shop_id=shop_id, target=REFUND_ORDER, payload={"order": order}, cause=f"refund:{order}")
    assert run_relay_until(relay, db, key, "failed").status == "failed"

    refusals_fixed.add(order)
    assert retry_failed(db, [key]) == 1
    done = run_relay_until(relay, db, key, "done")
    assert done.result == {"refunded": order}
    assert done.workflow_id == workflow_id_for(key, 1) != workflow_id_for(key)
    assert runs[f"{REFUND_ORDER}:{order}"] == 2


def test_our_own_retryable_failure_through_a_whole_policy_fails_instead_of_waiting_a_day(
    db: Database, engine: Engine, relay: OutboxRelay, shop_id: str, order: str
) -> None:
    with db.session(shop_id) as session:
        key = emit(session, shop_id=shop_id, target=CONFLICTED, payload={"order": order}, cause=f"conflict:{order}")
    failed = run_relay_until(relay, db, key, "failed")
    assert failed.status == "failed" and failed.rounds == 0 and failed.not_before is None
    assert "database is locked" in (failed.error or "") and "(after 3 attempts)" in (failed.error or "")
    assert runs[f"{CONFLICTED}:{order}"] == QUICK.max_attempts
