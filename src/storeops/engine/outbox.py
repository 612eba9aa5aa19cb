"""The outbox: outbound effects written in the same transaction as the decision.

A flow never calls a vendor directly from a handler. It adds an outbox message
(`emit`) in the transaction that changes our state; the relay hands messages to durable
workflows, so:
- a crash before the commit leaves neither the state change nor the effect,
- a crash after the commit leaves a pending message that the relay picks up,
- a message is assigned to exactly one workflow (a conditional UPDATE on its row) before
  that workflow is enqueued, so relays that race or restart never deliver it twice.

Two ways to deliver, chosen by the action:
- batched (the default): the relay groups pending messages of one action into a batch
  (up to `BATCH_MAX`), assigns them to the batch's workflow id in one UPDATE, then
  enqueues ONE workflow for the batch. DBOS runs ~100 workflows/s on this machine
  (ARCHITECTURE.md), i.e. ~33 orders/s at three actions per order; one workflow per batch
  lifts that ceiling to the vendors' own speed. Inside, each message is delivered on its
  own (a thread pool, the queue's rate limit per call, the engine's retry policy) and its
  outcome is committed on its row the moment it is known, so a batch resumed after a
  crash skips what is done and re-delivers only the message in flight at the crash; the
  vendor's own idempotency (ShipBob reference_id, Klaviyo unique_id, Shopify tags as a
  set) makes that one call harmless.
- partitioned actions (`partition=`): one workflow per message (id `outbox:<key>`) on the
  action's queue, so DBOS keeps one message per partition key running at a time.

Actions are registered by name with `action(...)`. Each delivery runs under the engine's
retry policy (8 attempts, about a minute of backoff). A vendor still unavailable after that
(5xx, timeouts, 429) is most likely in an outage that lasts minutes or hours, so the message
goes back to pending for a later round (`rounds`, `not_before`): each round waits as long as
the message has been failing (ROUND_DELAY_MIN_S to ROUND_DELAY_MAX_S), for up to
RETRY_WINDOW. An action the vendor refuses (a 4xx it will keep refusing), or one still
failing after the window, marks its message `failed` (a row a person can list);
`retry_failed` sends it again once the cause is fixed (a per-message workflow in ERROR can
also be replayed with `Engine.fork`).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storeops.core.clock import utcnow
from storeops.core.ids import idempotency_key
from storeops.db.session import Database, ShopScopeViolation
from storeops.engine.errors import Action, vendor_side
from storeops.engine.models import PENDING, OutboxMessage, newest_with_counts
from storeops.engine.retry import DEFAULT_POLICY, GaveUp, RetryPolicy
from storeops.engine.workflows import (
    Engine,
    QueueSpec,
    define_queue,
    queue_spec,
    step,
    vendor_limits_enabled,
    workflow,
)

log = structlog.get_logger(__name__)

DISPATCHED, DONE, FAILED = "dispatched", "done", "failed"

ActionFn = Callable[[str, dict[str, Any], str], dict[str, Any] | None]  # (shop_id, payload, key)

# Up to this many messages of one action per batch workflow, delivered by up to
# BATCH_THREADS calls at a time (vendor calls are I/O: threads overlap their latency).
BATCH_MAX = 100
BATCH_THREADS = 16
# Batches run here, not on the vendors' queues: a vendor queue's DBOS limiter counts
# workflow starts, and a batch is many calls. The vendor's limit is applied per call
# instead (_CallLimiter), from the same QueueSpec.
BATCH_QUEUE = define_queue(QueueSpec(name="outbox.batches", worker_concurrency=8, polling_interval_s=0.05))
# A batch assigned but not enqueued (the relay died in between) is enqueued again by the
# next relay after this long.
ORPHAN_AFTER_S = 10.0
# Later rounds for a message whose vendor stayed unavailable through a whole retry policy.
RETRY_WINDOW = timedelta(hours=24)
ROUND_DELAY_MIN_S, ROUND_DELAY_MAX_S = 15.0, 1800.0


@dataclass(frozen=True)
class ActionSpec:
    name: str
    queue: str
    fn: ActionFn  # the DBOS step (per-message workflows)
    partition: Callable[[str, dict[str, Any]], str] | None = None
    body: ActionFn | None = None  # the plain function (batches call it under `policy`)
    policy: RetryPolicy = DEFAULT_POLICY

    @property
    def batched(self) -> bool:
        return self.partition is None and self.body is not None


_actions: dict[str, ActionSpec] = {}


def action(
    name: str, *, queue: str, partition: Callable[[str, dict[str, Any]], str] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> Callable[[ActionFn], Any]:
    """Register an outbound action. Its function runs under the engine's retry policy (or
    `policy`); what is still transient after it goes to a later round (module docstring)."""

    def decorate(fn: ActionFn) -> Any:
        _actions[name] = ActionSpec(name, queue, step(name=f"action:{name}", policy=policy)(fn), partition, fn,
                                    policy)
        return fn

    return decorate


def registered_actions() -> dict[str, ActionSpec]:
    return dict(_actions)


def emit(session: Session, *, shop_id: str, target: str, payload: dict[str, Any], cause: str) -> str:
    """Add an outbound effect to the current transaction. `cause` names the triggering
    event (e.g. "inbox:shopify:123"); the idempotency key is derived from (cause, target),
    so processing the same event again cannot create a second message."""
    if target not in _actions:
        raise KeyError(f"no outbound action named {target!r}")
    # A Core INSERT passes the session's shop checks (they watch ORM objects), so check here.
    scoped = session.info.get("shop_id")
    if scoped is not None and scoped != shop_id:
        raise ShopScopeViolation(f"outbox message for shop {shop_id!r} inside a session for {scoped!r}")
    key = idempotency_key(cause, target)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(OutboxMessage)
        .values(shop_id=shop_id, idempotency_key=key, target=target, payload=payload, status=PENDING,
                created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    return key


def emit_actions(session: Session, shop_id: str, decision_id: int,
                 intended: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Emit a decision's intended actions ({target, payload, cause} each), its id in every
    payload so the action can note its result on it; returns the entries the decision keeps
    as `actions_taken`."""
    taken = []
    for item in intended:
        key = emit(session, shop_id=shop_id, target=item["target"],
                   payload={**item["payload"], "decision_id": decision_id}, cause=item["cause"])
        taken.append({"target": item["target"], "key": key, "status": "emitted", "result": None})
    return taken


def workflow_id_for(key: str, round_: int = 0) -> str:
    """The workflow of a partitioned action's message in its `round_` (a later round, or a
    person's retry, is a new workflow: the earlier one has ended)."""
    return f"outbox:{key}" if round_ == 0 else f"outbox:{key}:{round_}"


def batch_workflow_id(target: str) -> str:
    return f"outbox-batch:{target}:{uuid.uuid4().hex}"


# --- per-message workflows (partitioned actions) -------------------------------------------


@workflow(name="outbox.run_action")
def run_action(message_id: int, target: str, shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    spec = _actions[target]
    try:
        result = spec.fn(shop_id, payload, key) or {}
    except GaveUp as exc:
        # A later round is a new workflow (workflow_id_for); this one ends. Failed
        # deliveries are rows a person can list; the workflow stays ERROR so it can be
        # replayed with Engine.fork, whose `_mark_done` then marks it done.
        if _mark_given_up(message_id, str(exc), _transient(exc)) == "requeued":
            return {"requeued": True}
        raise
    _mark_done(message_id, result)
    return result


@step(name="outbox.mark_done")
def _mark_done(message_id: int, result: dict[str, Any]) -> None:
    _finish(message_id, DONE, result=result)


@step(name="outbox.mark_given_up")
def _mark_given_up(message_id: int, error: str, transient: bool) -> str:
    return _give_up(message_id, error, transient)


def _transient(exc: GaveUp) -> bool:
    """The vendor may well answer later (5xx, timeout, 429), as opposed to refusing. Retryable
    failures of our own (database conflicts through a whole policy: likely a bug) fail
    visibly instead, as in the inbox."""
    return exc.resolution.action in (Action.RETRY, Action.RATE_LIMITED) and vendor_side(exc.cause)


def _give_up(message_id: int, error: str, transient: bool, *, workflow_id: str | None = None) -> str:
    """A delivery's retry policy is exhausted or the vendor refused. Transient failures go
    back to pending for a later round while the message is inside RETRY_WINDOW; the rest
    are failed. Returns "requeued", "failed", or "settled" (someone else finished it)."""
    now = utcnow()
    with _relay_db().system_session() as session:
        row = session.execute(
            select(OutboxMessage.failing_since).where(OutboxMessage.id == message_id)
        ).one_or_none()
        since = (row.failing_since if row is not None else None) or now
        if transient and now - since < RETRY_WINDOW:
            wait = min(max((now - since).total_seconds(), ROUND_DELAY_MIN_S), ROUND_DELAY_MAX_S)
            values: dict[str, Any] = {
                "status": PENDING, "workflow_id": None, "dispatched_at": None, "error": error[:2000],
                "rounds": OutboxMessage.rounds + 1, "failing_since": since,
                "not_before": now + timedelta(seconds=random.uniform(wait, wait * 1.2)),
            }
            outcome = "requeued"
        else:
            values = {"status": FAILED, "finished_at": now, "error": error[:2000]}
            outcome = "failed"
        changed = session.execute(
            update(OutboxMessage).where(*_unfinished(message_id, workflow_id)).values(**values)
            .execution_options(synchronize_session=False)
        )
    if not getattr(changed, "rowcount", 0):
        return "settled"
    if outcome == "requeued":
        log.warning("outbox action requeued", message_id=message_id, retry_at=values["not_before"].isoformat(),
                    error=error[:300])
    return outcome


def _unfinished(message_id: int, workflow_id: str | None) -> list[Any]:
    """The row while it is not done (and, with `workflow_id`, still that workflow's)."""
    condition = [OutboxMessage.id == message_id, OutboxMessage.status != DONE]
    if workflow_id is not None:
        condition += [OutboxMessage.workflow_id == workflow_id, OutboxMessage.status == DISPATCHED]
    return condition


def _finish(message_id: int, status: str, *, result: dict[str, Any] | None = None, error: str | None = None,
            workflow_id: str | None = None) -> bool:
    """Record a message's outcome; never overwrites `done`. With `workflow_id`, only while
    the message still belongs to that workflow. True if the row changed."""
    values: dict[str, Any] = {"status": status, "finished_at": utcnow()}
    if result is not None:
        values["result"] = result
    if error is not None:
        values["error"] = error[:2000]
    elif status == DONE:
        values["error"] = None  # an earlier round's error is no longer the story
    with _relay_db().system_session() as session:
        changed = session.execute(
            update(OutboxMessage).where(*_unfinished(message_id, workflow_id)).values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(changed, "rowcount", 0))


# --- batch workflows ---------------------------------------------------------------------------


class _CallLimiter:
    """A token bucket per vendor queue: at most `limit` calls per `period` in this process,
    with a burst of `limit` (the QueueSpec's numbers, applied to calls, not to batches)."""

    def __init__(self, limit: int, period: float) -> None:
        self.rate = limit / period
        self.burst = float(limit)
        self.tokens = float(limit)
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
            time.sleep(wait)


_limiters: dict[str, _CallLimiter] = {}
_limiters_lock = threading.Lock()


def _limiter_for(queue: str) -> _CallLimiter | None:
    if not vendor_limits_enabled():
        return None
    spec = queue_spec(queue)
    if spec is None or not (spec.limit and spec.period):
        return None
    with _limiters_lock:
        if queue not in _limiters:
            _limiters[queue] = _CallLimiter(spec.limit, spec.period)
        return _limiters[queue]


@dataclass
class _Settings:
    batching: bool = True  # False: one workflow per message, as before batches (bench comparisons)


_settings = _Settings()


def set_batching(enabled: bool) -> None:
    """Batch workflows (default) or one workflow per message (`bench orders --outbox
    per-message` measures the difference on the same machine and run)."""
    _settings.batching = enabled


@workflow(name="outbox.run_batch")
def run_batch(batch_id: str, target: str) -> dict[str, int]:
    return _deliver_batch(batch_id, target) or {}


@step(name="outbox.deliver_batch", policy=RetryPolicy(max_attempts=1))
def _deliver_batch(batch_id: str, target: str) -> dict[str, int]:
    """Deliver every message still assigned to this batch. Re-run after a crash, it finds
    only the messages whose outcome was not committed yet."""
    with _relay_db().system_session() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.shop_id, OutboxMessage.payload, OutboxMessage.idempotency_key)
            .where(OutboxMessage.workflow_id == batch_id, OutboxMessage.status == DISPATCHED)
            .order_by(OutboxMessage.id)
        ).all()
    spec = _actions.get(target)
    counts = {"done": 0, "failed": 0}  # and "requeued" / "settled" when there are some
    if not rows:
        return counts
    if spec is None or spec.body is None:
        for row in rows:
            _finish(row.id, FAILED, error=f"no action named {target!r}", workflow_id=batch_id)
        counts["failed"] = len(rows)
        return counts
    body, policy = spec.body, spec.policy
    limiter = _limiter_for(spec.queue)

    def deliver(message_id: int, shop_id: str, payload: dict[str, Any], key: str) -> str:
        if limiter is not None:
            limiter.acquire()
        try:
            result = policy.call(lambda: body(shop_id, dict(payload), key)) or {}
        except GaveUp as exc:
            return _give_up(message_id, str(exc), _transient(exc), workflow_id=batch_id)
        except Exception as exc:  # noqa: BLE001 - a bug in one action must not stop the batch
            log.error("outbox action crashed", target=target, key=key, error=repr(exc))
            _finish(message_id, FAILED, error=repr(exc), workflow_id=batch_id)
            return "failed"
        _finish(message_id, DONE, result=result, workflow_id=batch_id)
        return "done"

    with ThreadPoolExecutor(max_workers=min(BATCH_THREADS, len(rows)), thread_name_prefix="outbox") as pool:
        for outcome in pool.map(lambda r: deliver(r.id, r.shop_id, r.payload, r.idempotency_key), rows):
            counts[outcome] = counts.get(outcome, 0) + 1
    return counts


_db_for_steps: Database | None = None


def _relay_db() -> Database:
    if _db_for_steps is None:
        raise RuntimeError("outbox relay has not been started in this process")
    return _db_for_steps


def list_messages(db: Database, *, status: str | None = None, target: str | None = None,
                  shop_id: str | None = None, limit: int = 100) -> dict[str, Any]:
    """Messages, newest first, and their counts by status (for the API, the CLI, people):
    `retry_at` is set on a pending message waiting for a later round."""
    with db.system_session() as session:
        rows, by_status = newest_with_counts(session, OutboxMessage, shop_id=shop_id, limit=limit, status=status,
                                             target=target)
        messages = [
            {
                "id": m.id, "shop_id": m.shop_id, "target": m.target, "status": m.status,
                "key": m.idempotency_key, "created_at": m.created_at.isoformat(),
                "finished_at": m.finished_at.isoformat() if m.finished_at else None, "error": m.error,
                "decision_id": (m.payload or {}).get("decision_id"), "rounds": m.rounds,
                "retry_at": m.not_before.isoformat() if m.status == PENDING and m.not_before else None,
                "failing_since": m.failing_since.isoformat() if m.failing_since else None,
            }
            for m in rows
        ]
    return {"counts": by_status, "messages": messages}


def retry_failed(db: Database, keys: list[str]) -> int:
    """Send failed messages again (after a person fixed the cause): back to pending, so the
    relay delivers them in its next batch. Returns how many were failed."""
    return _requeue_failed(db, OutboxMessage.idempotency_key.in_(keys))


def retry_failed_ids(db: Database, ids: Sequence[int], *, shop_id: str | None = None) -> int:
    """`retry_failed` by message id (what the API and the dashboard list), optionally only the
    shop's own messages. Returns how many were failed and go again."""
    scope = [OutboxMessage.shop_id == shop_id] if shop_id is not None else []
    return _requeue_failed(db, OutboxMessage.id.in_(list(ids)), *scope)


def _requeue_failed(db: Database, *which: Any) -> int:
    """The failed messages among `which`, back to pending as a new round (a partitioned
    action's ended workflow is not re-run), with no wait and a fresh retry window."""
    with db.system_session() as session:
        changed = session.execute(
            update(OutboxMessage)
            .where(*which, OutboxMessage.status == FAILED)
            .values(status=PENDING, workflow_id=None, dispatched_at=None, finished_at=None, error=None,
                    rounds=OutboxMessage.rounds + 1, not_before=None, failing_since=None)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(changed, "rowcount", 0) or 0)


class OutboxRelay:
    """Hands pending outbox messages to workflows, each message to exactly one."""

    def __init__(self, db: Database, engine: Engine, *, batch_size: int = 500, batch_max: int = BATCH_MAX) -> None:
        global _db_for_steps
        _db_for_steps = db
        self.db = db
        self.engine = engine
        self.batch_size = batch_size
        self.batch_max = batch_max
        self._last_sweep = 0.0

    def run_once(self) -> int:
        """Dispatch up to `batch_size` pending messages; returns how many were seen."""
        with self.db.system_session() as session:
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.target, OutboxMessage.shop_id, OutboxMessage.payload,
                       OutboxMessage.idempotency_key, OutboxMessage.rounds)
                .where(OutboxMessage.status == PENDING,
                       or_(OutboxMessage.not_before.is_(None), OutboxMessage.not_before <= utcnow()))
                .order_by(OutboxMessage.id)
                .limit(self.batch_size)
            ).all()
        by_target: dict[str, list[int]] = defaultdict(list)
        for message_id, target, shop_id, payload, key, rounds in rows:
            spec = _actions.get(target)
            if spec is None:
                self._settle(message_id, status=FAILED, error=f"no action named {target!r}")
            elif spec.batched and _settings.batching:
                by_target[target].append(message_id)
            else:
                self._dispatch_one(spec, message_id, shop_id, dict(payload), key, rounds)
        for target, ids in by_target.items():
            for start in range(0, len(ids), self.batch_max):
                self._dispatch_batch(target, ids[start:start + self.batch_max])
        if time.monotonic() - self._last_sweep > ORPHAN_AFTER_S / 2:
            self._last_sweep = time.monotonic()
            self.recover_orphans()
        return len(rows)

    def _dispatch_batch(self, target: str, ids: list[int]) -> None:
        batch_id = batch_workflow_id(target)
        with self.db.system_session() as session:
            # Claim: only rows still pending join the batch (another relay may have taken some).
            claimed = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == PENDING)
                .values(status=DISPATCHED, workflow_id=batch_id, dispatched_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if not getattr(claimed, "rowcount", 0):
                return
        self.engine.enqueue(BATCH_QUEUE.name, run_batch, batch_id, target, workflow_id=batch_id)

    def recover_orphans(self, older_than_s: float = ORPHAN_AFTER_S) -> int:
        """Batches whose messages were claimed but whose workflow never got enqueued (the
        relay died in between), or whose workflow ended leaving a message unsettled: enqueue
        them again (the same id: idempotent), or give the message back to pending."""
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        with self.db.system_session() as session:
            stuck = session.execute(
                select(OutboxMessage.workflow_id, OutboxMessage.target)
                .where(OutboxMessage.status == DISPATCHED, OutboxMessage.dispatched_at < cutoff,
                       OutboxMessage.workflow_id.like("outbox-batch:%"))
                .distinct()
            ).all()
        recovered = 0
        for batch_id, target in stuck:
            if batch_id is None:
                continue
            info = self.engine.status(batch_id)
            if info is None:
                self.engine.enqueue(BATCH_QUEUE.name, run_batch, batch_id, target, workflow_id=batch_id)
                recovered += 1
            elif info.status not in ("PENDING", "ENQUEUED", "DELAYED"):
                with self.db.system_session() as session:
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.workflow_id == batch_id, OutboxMessage.status == DISPATCHED)
                        .values(status=PENDING, workflow_id=None, dispatched_at=None)
                        .execution_options(synchronize_session=False)
                    )
                recovered += 1
        return recovered

    def _dispatch_one(self, spec: ActionSpec, message_id: int, shop_id: str, payload: dict[str, Any],
                      key: str, rounds: int) -> None:
        workflow_id = workflow_id_for(key, rounds)
        partition = spec.partition(shop_id, payload) if spec.partition else None
        self.engine.enqueue(
            spec.queue, run_action, message_id, spec.name, shop_id, payload, key,
            workflow_id=workflow_id, partition_key=partition,
        )
        self._mark(message_id, rounds, status=DISPATCHED, workflow_id=workflow_id)
        self._settle_if_finished(message_id, workflow_id, rounds)

    def _settle_if_finished(self, message_id: int, workflow_id: str, rounds: int) -> None:
        """Record the outcome of a workflow that had already finished when we enqueued it.

        After a crash between enqueue and mark, the message is pending again; enqueueing
        its workflow id once more returns the first run, whose `_mark_done` step will not
        run again, so without this the message would stay `dispatched` for ever.
        """
        info = self.engine.status(workflow_id)
        if info is None:
            return
        # A round that requeued its message moved `rounds` on, so the conditions below
        # (this round only) leave the message to its next round.
        if info.status == "SUCCESS":
            self._settle(message_id, rounds, status=DONE, result=self.engine.result(workflow_id) or {})
        elif info.status == "ERROR":
            self._settle(message_id, rounds, status=FAILED, error=(info.error or "workflow failed")[:2000])

    def _settle(self, message_id: int, rounds: int | None = None, **values: Any) -> None:
        condition = [OutboxMessage.id == message_id, OutboxMessage.status.in_([PENDING, DISPATCHED])]
        if rounds is not None:
            condition.append(OutboxMessage.rounds == rounds)
        with self.db.system_session() as session:
            session.execute(
                update(OutboxMessage)
                .where(*condition)
                .values(finished_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )

    def _mark(self, message_id: int, rounds: int, **values: Any) -> None:
        with self.db.system_session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, OutboxMessage.status == PENDING,
                       OutboxMessage.rounds == rounds)
                .values(dispatched_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )
