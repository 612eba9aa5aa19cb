"""The outbox: outbound effects written in the same transaction as the decision.

A flow never calls a vendor directly from a handler. It adds an outbox message
(`emit`) in the transaction that changes our state; the relay turns each message into a
durable workflow whose id is derived from the message's idempotency key, so:
- a crash before the commit leaves neither the state change nor the effect,
- a crash after the commit leaves a pending message that the relay picks up,
- a relay that runs twice starts the same workflow id twice, which DBOS treats as
  one workflow (the second start returns the first).

Actions are registered by name with `action(...)`; each runs on a named queue (a
vendor's rate-limited queue, for instance) with the message's payload. An action that
fails for good marks its message `failed` and leaves its workflow in ERROR, so
`Engine.fork` can replay it after the cause is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storeops.core.clock import utcnow
from storeops.core.ids import idempotency_key
from storeops.db.session import Database, ShopScopeViolation
from storeops.engine.models import PENDING, OutboxMessage
from storeops.engine.retry import GaveUp
from storeops.engine.workflows import Engine, step, workflow

log = structlog.get_logger(__name__)

DISPATCHED, DONE, FAILED = "dispatched", "done", "failed"


@dataclass(frozen=True)
class ActionSpec:
    name: str
    queue: str
    fn: Callable[[str, dict[str, Any], str], dict[str, Any] | None]  # (shop_id, payload, key)
    partition: Callable[[str, dict[str, Any]], str] | None = None


_actions: dict[str, ActionSpec] = {}


def action(
    name: str, *, queue: str, partition: Callable[[str, dict[str, Any]], str] | None = None
) -> Callable[[Callable[[str, dict[str, Any], str], dict[str, Any] | None]], Any]:
    """Register an outbound action. Its function runs as a retried step."""

    def decorate(fn: Callable[[str, dict[str, Any], str], dict[str, Any] | None]) -> Any:
        _actions[name] = ActionSpec(name, queue, step(name=f"action:{name}")(fn), partition)
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


def workflow_id_for(key: str) -> str:
    return f"outbox:{key}"


@workflow(name="outbox.run_action")
def run_action(message_id: int, target: str, shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    spec = _actions[target]
    try:
        result = spec.fn(shop_id, payload, key) or {}
    except GaveUp as exc:
        # Failed deliveries are rows a person can list; the workflow stays ERROR so it
        # can be replayed with Engine.fork, whose `_mark_done` then marks it done.
        _mark_failed(message_id, str(exc))
        raise
    _mark_done(message_id, result)
    return result


@step(name="outbox.mark_done")
def _mark_done(message_id: int, result: dict[str, Any]) -> None:
    db = _relay_db()
    with db.system_session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id)
            .values(status=DONE, finished_at=utcnow(), result=result)
            .execution_options(synchronize_session=False)
        )


@step(name="outbox.mark_failed")
def _mark_failed(message_id: int, error: str) -> None:
    db = _relay_db()
    with db.system_session() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status != DONE)
            .values(status=FAILED, finished_at=utcnow(), error=error[:2000])
            .execution_options(synchronize_session=False)
        )


_db_for_steps: Database | None = None


def _relay_db() -> Database:
    if _db_for_steps is None:
        raise RuntimeError("outbox relay has not been started in this process")
    return _db_for_steps


class OutboxRelay:
    """Turns pending outbox messages into workflows, idempotently."""

    def __init__(self, db: Database, engine: Engine, *, batch_size: int = 100) -> None:
        global _db_for_steps
        _db_for_steps = db
        self.db = db
        self.engine = engine
        self.batch_size = batch_size

    def run_once(self) -> int:
        with self.db.system_session() as session:
            messages = session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == PENDING)
                .order_by(OutboxMessage.id)
                .limit(self.batch_size)
            ).all()
            snapshot = [(m.id, m.target, m.shop_id, dict(m.payload), m.idempotency_key) for m in messages]
        for message_id, target, shop_id, payload, key in snapshot:
            spec = _actions.get(target)
            if spec is None:
                self._mark(message_id, status=FAILED, error=f"no action named {target!r}")
                continue
            workflow_id = workflow_id_for(key)
            partition = spec.partition(shop_id, payload) if spec.partition else None
            self.engine.enqueue(
                spec.queue, run_action, message_id, target, shop_id, payload, key,
                workflow_id=workflow_id, partition_key=partition,
            )
            self._mark(message_id, status=DISPATCHED, workflow_id=workflow_id)
            self._settle_if_finished(message_id, workflow_id)
        return len(snapshot)

    def _settle_if_finished(self, message_id: int, workflow_id: str) -> None:
        """Record the outcome of a workflow that had already finished when we enqueued it.

        After a crash between enqueue and mark, the message is pending again; enqueueing
        its workflow id once more returns the first run, whose `_mark_done` step will not
        run again, so without this the message would stay `dispatched` for ever.
        """
        info = self.engine.status(workflow_id)
        if info is None:
            return
        if info.status == "SUCCESS":
            self._settle(message_id, status=DONE, result=self.engine.result(workflow_id) or {})
        elif info.status == "ERROR":
            self._settle(message_id, status=FAILED, error=(info.error or "workflow failed")[:2000])

    def _settle(self, message_id: int, **values: Any) -> None:
        with self.db.system_session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, OutboxMessage.status.in_([PENDING, DISPATCHED]))
                .values(finished_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )

    def _mark(self, message_id: int, **values: Any) -> None:
        with self.db.system_session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == message_id, OutboxMessage.status == PENDING)
                .values(dispatched_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )
