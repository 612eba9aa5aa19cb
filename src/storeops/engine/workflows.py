"""A thin wrapper over DBOS Transact, so nothing else imports `dbos` directly.

What it gives the rest of storeops:
- `workflow` / `step` decorators (steps run under our RetryPolicy, DBOS's own retries off:
  one layer owns retries),
- `define_queue`: named queues with concurrency, rate limiters (a vendor's API limit
  shared by every worker) and partitions (one order / one SKU at a time),
- `schedule`: cron-scheduled workflows (reconciliation sweeps),
- `sleep`: durable sleep that survives restarts,
- `Engine`: launch, start / enqueue with deterministic workflow ids (idempotent
  starts and dedup), list, cancel, resume and fork (replay from a step).

DBOS measures ~50-100 two-step workflows/s on one SQLite file (ARCHITECTURE.md and
our own probe), so hot paths do not start a workflow per event: the inbox is drained
in batches by InboxPump and only decisions worth a durable flow become workflows.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from dbos import DBOS, SetEnqueueOptions, SetWorkflowID
from dbos._error import DBOSException

from storeops.engine.retry import DEFAULT_POLICY, RetryPolicy

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class QueueSpec:
    name: str
    worker_concurrency: int | None = None
    global_concurrency: int | None = None
    limit: int | None = None  # at most `limit` starts per `period` seconds, across all workers
    period: float | None = None
    partitioned: bool = False  # one workflow per partition key at a time
    polling_interval_s: float = 0.2  # how often each worker looks for work on this queue


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    cron: str  # six fields, seconds first
    fn: Callable[..., Any]
    context: Any = None


@dataclass
class _Registry:
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    schedules: dict[str, ScheduleSpec] = field(default_factory=dict)


_registry = _Registry()


@dataclass
class _Limits:
    enabled: bool = True


_limits = _Limits()


def set_vendor_limits(enabled: bool) -> None:
    """Keep (default) or lift the vendor queues' rate limits in this process, both the DBOS
    queue limiters (set at launch) and the per-call limits inside outbox batches. Lifting
    them is for `storeops bench orders --limits lifted` only: it measures the engine."""
    _limits.enabled = enabled


def vendor_limits_enabled() -> bool:
    return _limits.enabled


# DBOS statuses of a workflow that has not finished yet.
_UNFINISHED = frozenset({"PENDING", "ENQUEUED", "DELAYED"})


def workflow(name: str | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Mark a durable workflow: it orchestrates steps and is resumed after a crash."""
    return DBOS.workflow(name=name)  # type: ignore[no-any-return]


def step(
    name: str | None = None, policy: RetryPolicy = DEFAULT_POLICY
) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Mark a step: its result is recorded, so a resumed workflow does not repeat it."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(fn)
        def with_policy(*args: P.args, **kwargs: P.kwargs) -> R | None:
            return policy.call(lambda: fn(*args, **kwargs))

        return DBOS.step(name=name or fn.__qualname__, retries_allowed=False)(with_policy)  # type: ignore[no-any-return]

    return decorate


def sleep(seconds: float) -> None:
    """Durable sleep inside a workflow: after a restart only the remaining time is waited."""
    DBOS.sleep(seconds)


def define_queue(spec: QueueSpec) -> QueueSpec:
    _registry.queues[spec.name] = spec
    return spec


def queue_spec(name: str) -> QueueSpec | None:
    return _registry.queues.get(name)


def schedule(name: str, cron: str, context: Any = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Register a workflow to run on a cron schedule; the function takes (scheduled_at, context)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        wrapped = DBOS.workflow(name=f"schedule:{name}")(fn)
        _registry.schedules[name] = ScheduleSpec(name, cron, wrapped, context)
        return wrapped  # type: ignore[no-any-return]

    return decorate


class EngineUnavailable(RuntimeError):
    """No workflow engine runs in this process (a CLI tool draining the inbox, say)."""


def start_workflow(fn: Callable[..., R], *args: Any, workflow_id: str) -> None:
    """Start a registered workflow from anywhere in a process whose Engine is launched (a
    handler, an action); the same id twice is the same run. Raises EngineUnavailable otherwise."""
    try:
        with SetWorkflowID(workflow_id):
            DBOS.start_workflow(fn, *args)
    except DBOSException as exc:
        raise EngineUnavailable(str(exc)) from exc


@dataclass(frozen=True)
class WorkflowInfo:
    workflow_id: str
    name: str
    status: str
    queue: str | None
    created_at: datetime | None
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow_id": self.workflow_id,
            "name": self.name,
            "status": self.status,
            "queue": self.queue,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "error": self.error,
        }


def _info(status: Any) -> WorkflowInfo:
    created = getattr(status, "created_at", None)
    created_at = datetime.fromtimestamp(created / 1000).astimezone() if isinstance(created, int | float) else None
    error = getattr(status, "error", None)
    return WorkflowInfo(
        workflow_id=status.workflow_id,
        name=status.name,
        status=status.status,
        queue=getattr(status, "queue_name", None),
        created_at=created_at,
        error=None if error is None else str(error)[:500],
    )


class Engine:
    """The process's workflow engine (DBOS is one instance per process)."""

    def __init__(self, database_url: str, *, app_name: str = "storeops", executor_id: str | None = None) -> None:
        config: dict[str, Any] = {
            "name": app_name,
            "system_database_url": database_url,
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.1,
            "scheduler_polling_interval_sec": 5.0,
        }
        if executor_id:
            config["executor_id"] = executor_id
        self._dbos = DBOS(config=config)  # type: ignore[arg-type]
        self._on_sqlite = database_url.startswith("sqlite")
        self.launched = False

    def _limiter(self, spec: QueueSpec) -> dict[str, float] | None:
        if not (spec.limit and spec.period) or not _limits.enabled:
            return None
        period = spec.period
        if self._on_sqlite and sys.version_info < (3, 12):
            # DBOS 3.4 stamps a queue start with SQLite's clock in whole seconds on Python
            # < 3.12 (dbos/_sys_db.py `_now_ms_sql`: strftime('%s')), so a start stops counting
            # at the next second boundary and up to 2x `limit` could start within one period
            # (measured: 10 starts in 0.47 s for limit=5/period=1 s). One more second covers
            # every start for at least `period` seconds: the vendor's limit is never exceeded,
            # at the cost of some throughput on SQLite only.
            period += 1.0
        return {"limit": spec.limit, "period": period}

    def launch(self, *, run_queues: bool = True) -> None:
        """Start executing. `run_queues=False` makes a client-only process (web servers)."""
        if not run_queues:
            DBOS.listen_queues([])
        DBOS.launch()
        self.launched = True
        for spec in _registry.queues.values():
            kwargs: dict[str, Any] = {
                "worker_concurrency": spec.worker_concurrency,
                "global_concurrency": spec.global_concurrency,
                "limiter": self._limiter(spec),
                "polling_interval_sec": spec.polling_interval_s,
                "on_conflict": "always_update",
            }
            if spec.partitioned:
                kwargs["partition_concurrency"] = 1
            DBOS.register_queue(spec.name, **kwargs)
        if _registry.schedules:
            DBOS.apply_schedules(
                [
                    {"schedule_name": s.name, "workflow_fn": s.fn, "schedule": s.cron, "context": s.context}
                    for s in _registry.schedules.values()
                ]
            )

    def start(self, fn: Callable[..., R], *args: Any, workflow_id: str) -> Any:
        """Start a workflow now; the same id twice returns the first run (idempotent)."""
        with SetWorkflowID(workflow_id):
            return DBOS.start_workflow(fn, *args)

    def enqueue(
        self,
        queue: str,
        fn: Callable[..., R],
        *args: Any,
        workflow_id: str,
        partition_key: str | None = None,
        delay_s: float | None = None,
    ) -> Any:
        if queue not in _registry.queues:
            raise KeyError(f"queue {queue!r} is not defined")
        with SetWorkflowID(workflow_id), SetEnqueueOptions(queue_partition_key=partition_key, delay_seconds=delay_s):
            return DBOS.retrieve_queue(queue).enqueue(fn, *args)  # type: ignore[union-attr]

    def result(self, workflow_id: str, timeout_s: float | None = None, *, poll_s: float = 0.05) -> Any:
        """Wait for a workflow's return value (its error is re-raised).

        With `timeout_s`, raises TimeoutError if it has not finished by then. DBOS's own
        wait has no timeout, so we poll the status first (outside workflows only: inside
        one, each poll would be recorded as a step).
        """
        if timeout_s is not None:
            deadline = time.monotonic() + timeout_s
            while (found := DBOS.get_workflow_status(workflow_id)) is not None and found.status in _UNFINISHED:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"workflow {workflow_id!r} still {found.status} after {timeout_s}s")
                time.sleep(poll_s)
        # Unknown ids: DBOS raises its own "no such workflow" here.
        return DBOS.retrieve_workflow(workflow_id).get_result()

    def status(self, workflow_id: str) -> WorkflowInfo | None:
        found = DBOS.get_workflow_status(workflow_id)
        return None if found is None else _info(found)

    def list(self, *, status: str | None = None, name: str | None = None, limit: int = 100) -> list[WorkflowInfo]:
        found = DBOS.list_workflows(status=status, name=name, limit=limit, sort_desc=True)
        return [_info(s) for s in found]

    def resume(self, workflow_id: str) -> None:
        DBOS.resume_workflow(workflow_id)

    def cancel(self, workflow_id: str) -> None:
        DBOS.cancel_workflow(workflow_id)

    def fork(self, workflow_id: str, start_step: int = 1) -> str:
        """Replay a workflow from a step: earlier steps' recorded results are reused."""
        return str(DBOS.fork_workflow(workflow_id, start_step).get_workflow_id())

    def shutdown(self) -> None:
        DBOS.destroy(destroy_registry=False)
        self.launched = False
