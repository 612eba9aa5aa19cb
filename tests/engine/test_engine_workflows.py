"""The Engine over DBOS, run for real on the test's database.

DBOS is one instance per process and registers workflows, steps and queues when their
module is imported, so everything used here is declared at module level with names
unique to this module. Side effects are counted in module-level dicts keyed by a token
that each test makes up, so tests cannot see each other's counts.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from storeops.core.errors import VendorError
from storeops.core.settings import Settings
from storeops.engine import workflows as engine_workflows
from storeops.engine.errors import Action
from storeops.engine.retry import GaveUp, RetryPolicy
from storeops.engine.workflows import Engine, QueueSpec, define_queue, schedule, sleep, step, workflow

FAST = RetryPolicy(base_delay_s=0.01, max_delay_s=0.02)

_lock = threading.Lock()
calls: dict[str, int] = defaultdict(int)  # "<step>:<token>" -> times its body ran
timeline: dict[str, list[tuple[float, float]]] = defaultdict(list)  # token -> (start, end)
starts: dict[str, list[float]] = defaultdict(list)  # token -> start times
fixed: dict[str, bool] = {}  # token -> the permanent failure has been fixed
ticks: list[datetime] = []  # scheduled_at of each scheduled run


def count(name: str, token: str) -> int:
    with _lock:
        calls[f"{name}:{token}"] += 1
        return calls[f"{name}:{token}"]


def ran(name: str, token: str) -> int:
    return calls.get(f"{name}:{token}", 0)


# --- workflows and steps -----------------------------------------------------------


@step(name="test_engine_wf.double")
def double(token: str, x: int) -> int:
    count("double", token)
    return x * 2


@step(name="test_engine_wf.add_one")
def add_one(token: str, x: int) -> int:
    count("add_one", token)
    return x + 1


@workflow(name="test_engine_wf.double_then_add")
def double_then_add(token: str, x: int) -> int:
    return add_one(token, double(token, x))  # type: ignore[arg-type]


@step(name="test_engine_wf.flaky_call", policy=FAST)
def flaky_call(token: str) -> str:
    if count("flaky", token) <= 2:
        raise VendorError("shopify", "vendor unavailable", status=503)
    return "delivered"


@workflow(name="test_engine_wf.deliver")
def deliver(token: str) -> str | None:
    return flaky_call(token)


@step(name="test_engine_wf.always_503", policy=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02))
def always_503(token: str) -> str:
    count("always_503", token)
    raise VendorError("shopify", "vendor unavailable", status=503)


@workflow(name="test_engine_wf.never_delivers")
def never_delivers(token: str) -> str | None:
    return always_503(token)


@step(name="test_engine_wf.prepare", policy=FAST)
def prepare(token: str) -> dict[str, Any]:
    count("prepare", token)
    return {"order": token, "fc": 2}


@step(name="test_engine_wf.submit", policy=FAST)
def submit(token: str, plan: dict[str, Any]) -> str:
    count("submit", token)
    if not fixed.get(token):
        raise VendorError("shipbob", "fulfillment center id is invalid", status=422)
    return f"routed {plan['order']} to fc {plan['fc']}"


@workflow(name="test_engine_wf.route")
def route(token: str) -> str | None:
    plan = prepare(token)
    assert plan is not None
    return submit(token, plan)


@step(name="test_engine_wf.before_nap")
def before_nap(token: str) -> None:
    count("before_nap", token)


@step(name="test_engine_wf.after_nap")
def after_nap(token: str) -> str:
    count("after_nap", token)
    return "woke"


@workflow(name="test_engine_wf.nap")
def nap(token: str, seconds: float) -> str | None:
    before_nap(token)
    sleep(seconds)
    return after_nap(token)


@step(name="test_engine_wf.hold")
def hold(token: str, seconds: float) -> None:
    begin = time.monotonic()
    time.sleep(seconds)
    with _lock:
        timeline[token].append((begin, time.monotonic()))


@workflow(name="test_engine_wf.hold_partition")
def hold_partition(token: str, seconds: float) -> None:
    hold(token, seconds)


@workflow(name="test_engine_wf.call_vendor")
def call_vendor(token: str) -> None:
    # Recorded in the workflow body: as close as a test can get to DBOS's dequeue time.
    with _lock:
        starts[token].append(time.monotonic())


@schedule("test_engine_wf.every_second", "* * * * * *")
def every_second(scheduled_at: datetime, context: Any) -> None:
    with _lock:
        ticks.append(scheduled_at)


# A schedule fires in every Engine this process launches; keep this one out of the
# registry except while its own test runs, so other tests' engines stay quiet.
_EVERY_SECOND = engine_workflows._registry.schedules.pop("test_engine_wf.every_second")

PER_SKU = define_queue(QueueSpec("test_engine_wf.per_sku", partitioned=True))
VENDOR_API = define_queue(QueueSpec("test_engine_wf.vendor_api", limit=5, period=1.0))


# --- fixtures and helpers ----------------------------------------------------------


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    started = Engine(settings.engine_database_url, executor_id=f"test-{uuid.uuid4().hex[:6]}")
    try:
        started.launch()
        yield started
    finally:
        started.shutdown()


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


# --- tests -------------------------------------------------------------------------


def test_two_step_workflow_runs_and_returns_once_per_id(engine: Engine, token: str) -> None:
    handle = engine.start(double_then_add, token, 20, workflow_id=f"double-{token}")

    assert handle.get_result() == 41
    assert engine.result(f"double-{token}", timeout_s=5) == 41
    info = engine.status(f"double-{token}")
    assert info is not None
    assert info.status == "SUCCESS"
    assert info.name == "test_engine_wf.double_then_add"
    assert info.created_at is not None and info.created_at.tzinfo is not None
    assert (ran("double", token), ran("add_one", token)) == (1, 1)
    assert engine.status(f"no-such-workflow-{token}") is None

    # The same id again, twice at once and once more: the first run's result, no new run.
    first = engine.start(double_then_add, token, 1, workflow_id=f"once-{token}")
    second = engine.start(double_then_add, token, 1, workflow_id=f"once-{token}")
    assert first.get_result() == second.get_result() == 3
    assert engine.start(double_then_add, token, 1, workflow_id=f"once-{token}").get_result() == 3
    assert engine.start(double_then_add, token, 99, workflow_id=f"double-{token}").get_result() == 41
    assert (ran("double", token), ran("add_one", token)) == (2, 2)

    # A different id is a different run: the counter does move.
    assert engine.start(double_then_add, token, 1, workflow_id=f"twice-{token}").get_result() == 3
    assert ran("double", token) == 3


def test_vendor_errors_are_retried_by_our_policy_only(engine: Engine, token: str) -> None:
    handle = engine.start(deliver, token, workflow_id=f"deliver-{token}")

    assert handle.get_result() == "delivered"
    assert ran("flaky", token) == 3  # two 503s, then success, all inside one step

    # A vendor that stays down: the policy's three attempts, none added by DBOS.
    engine.start(never_delivers, token, workflow_id=f"never-{token}")
    with pytest.raises(GaveUp) as raised:
        engine.result(f"never-{token}", timeout_s=10)

    assert raised.value.resolution.action is Action.RETRY
    assert raised.value.attempts == 3
    assert ran("always_503", token) == 3
    info = engine.status(f"never-{token}")
    assert info is not None and info.status == "ERROR"


def test_failed_workflow_is_listed_and_a_fork_replays_it(engine: Engine, token: str) -> None:
    workflow_id = f"route-{token}"
    engine.start(route, token, workflow_id=workflow_id)

    with pytest.raises(GaveUp) as raised:
        engine.result(workflow_id, timeout_s=10)
    assert raised.value.resolution.action is Action.FAIL
    assert isinstance(raised.value.cause, VendorError) and raised.value.cause.status == 422

    failed = {w.workflow_id: w for w in engine.list(status="ERROR")}
    assert workflow_id in failed
    assert failed[workflow_id].name == "test_engine_wf.route"
    assert "fulfillment center id is invalid" in (failed[workflow_id].error or "")
    assert failed[workflow_id].as_dict()["status"] == "ERROR"
    assert (ran("prepare", token), ran("submit", token)) == (1, 1)  # a 422 is not retried

    fixed[token] = True  # someone corrected the fulfillment center
    new_id = engine.fork(workflow_id, start_step=2)

    assert new_id != workflow_id
    assert engine.result(new_id, timeout_s=10) == f"routed {token} to fc 2"
    info = engine.status(new_id)
    assert info is not None and info.status == "SUCCESS"
    # Step 1's recorded result was reused; only the failed step ran again.
    assert (ran("prepare", token), ran("submit", token)) == (1, 2)
    assert workflow_id not in {w.workflow_id for w in engine.list(status="SUCCESS")}

    # Forking from the first step (the default) runs every step again.
    again = engine.fork(workflow_id)
    assert engine.result(again, timeout_s=10) == f"routed {token} to fc 2"
    assert (ran("prepare", token), ran("submit", token)) == (2, 3)


def test_resume_finishes_a_cancelled_workflow(engine: Engine, token: str) -> None:
    workflow_id = f"nap-{token}"
    engine.start(nap, token, 0.6, workflow_id=workflow_id)
    assert wait_until(lambda: ran("before_nap", token) == 1, timeout_s=5)

    engine.cancel(workflow_id)

    info = engine.status(workflow_id)
    assert info is not None and info.status == "CANCELLED"
    time.sleep(0.8)  # past the nap: a cancelled workflow must not go on by itself
    assert ran("after_nap", token) == 0
    assert workflow_id in {w.workflow_id for w in engine.list(status="CANCELLED")}

    engine.resume(workflow_id)

    assert engine.result(workflow_id, timeout_s=10) == "woke"
    info = engine.status(workflow_id)
    assert info is not None and info.status == "SUCCESS"
    assert (ran("before_nap", token), ran("after_nap", token)) == (1, 1)


def test_durable_sleep_waits_and_result_can_time_out(engine: Engine, token: str) -> None:
    began = time.monotonic()
    engine.start(nap, token, 0.8, workflow_id=f"sleep-{token}")

    with pytest.raises(TimeoutError):
        engine.result(f"sleep-{token}", timeout_s=0.2)
    assert time.monotonic() - began < 0.7
    assert ran("after_nap", token) == 0

    # Giving up waiting does not touch the workflow: it wakes and finishes.
    assert engine.result(f"sleep-{token}", timeout_s=5) == "woke"
    assert time.monotonic() - began >= 0.8
    assert (ran("before_nap", token), ran("after_nap", token)) == (1, 1)


def test_partitioned_queue_runs_one_workflow_per_key_at_a_time(engine: Engine, token: str) -> None:
    skus = {"sku-a": f"{token}-a", "sku-b": f"{token}-b"}
    ids = []
    for sku, key in skus.items():
        for n in range(3):
            workflow_id = f"hold-{key}-{n}"
            engine.enqueue(PER_SKU.name, hold_partition, key, 0.15, workflow_id=workflow_id, partition_key=sku)
            ids.append(workflow_id)

    for workflow_id in ids:
        assert engine.result(workflow_id, timeout_s=15) is None

    for key in skus.values():
        spans = sorted(timeline[key])
        assert len(spans) == 3
        for (_, previous_end), (next_start, _) in zip(spans, spans[1:], strict=False):
            assert next_start >= previous_end, f"two workflows of one partition overlapped: {spans}"
    infos = [engine.status(workflow_id) for workflow_id in ids]
    assert all(info is not None and info.queue == PER_SKU.name for info in infos)

    with pytest.raises(KeyError):
        engine.enqueue("test_engine_wf.nowhere", call_vendor, token, workflow_id=f"nowhere-{token}")


def test_rate_limited_queue_starts_at_most_limit_per_period(engine: Engine, token: str) -> None:
    ids = [f"vendor-{token}-{n}" for n in range(8)]
    for workflow_id in ids:
        engine.enqueue(VENDOR_API.name, call_vendor, token, workflow_id=workflow_id)
    for workflow_id in ids:
        engine.result(workflow_id, timeout_s=10)

    times = sorted(starts[token])
    assert len(times) == 8
    # DBOS counts starts at dequeue; we record them a moment later in the workflow body,
    # so allow that much scheduling noise by checking a slightly shorter window.
    window = 1.0 - 0.1
    for first in times:
        in_window = [t for t in times if first <= t < first + window]
        assert len(in_window) <= 5, f"{len(in_window)} starts within {window}s: {times}"
    assert times[-1] - times[0] >= window  # 8 starts need two windows


def test_scheduled_workflow_fires(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(engine_workflows._registry.schedules, "test_engine_wf.every_second", _EVERY_SECOND)
    already = len(ticks)
    started = Engine(settings.engine_database_url, executor_id="test-schedule")
    try:
        started.launch()
        assert wait_until(lambda: len(ticks) > already, timeout_s=3.5)
    finally:
        started.shutdown()
    assert isinstance(ticks[-1], datetime)
