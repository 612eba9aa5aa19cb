"""storeops bench triage: message-triage throughput on one core.

The messages are the examples shipped beside the model (Bitext utterances and CLINC150
out-of-scope queries), drawn with a fixed seed. The process is pinned to one CPU and its
BLAS/OpenMP pools to one thread, so the number is what one core does; the CLI classifies
in batches of 2,000 the same way. Single-message latency (batch of one, as a webhook
handler would call it) is measured separately. Model loading is timed apart.

Ticket-to-reply latency (`run_ticket_latency`, after the throughput part, not pinned):
the Gorgias, Shopify and ShipBob sandboxes and storeops (web app + worker, SQLite) run in
this process on loopback. Each customer first checks out in the Shopify sandbox and the
order is routed to ShipBob and shipped (tracking comes back by webhook); then each writes
"where is my order" to the Gorgias sandbox, and the clock runs from that message to
storeops' public reply being in the Gorgias sandbox's state (webhook -> inbox -> triage ->
customer 360 -> plan -> outbox -> Gorgias API). Tickets arrive one at a time, `interval_s`
apart: each costs storeops about 5 Gorgias calls and Gorgias allows 2 per second per API
key once the 40-call burst is spent, so faster arrivals would measure queueing behind
Gorgias's rate limit, not storeops.
"""

from __future__ import annotations

import os
import platform
import random
import time
from typing import Annotated, Any

import typer

from storeops.cli.common import emit_json, fail

GOAL_PER_SECOND = 1000
GOAL_REPLY_P99_S = 2.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def _one_core() -> tuple[str, Any]:
    """Pin this process to one CPU and its thread pools to one thread; returns a note and
    what to restore."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"  # effective if numpy is not loaded yet (a fresh `storeops bench` process)
    limiter = None
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=1)  # effective even if numpy is already loaded
    except ImportError:
        pass
    previous = None
    if hasattr(os, "sched_getaffinity"):
        previous = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(previous)})
        return f"pinned to cpu {min(previous)}", (previous, limiter)
    return "not pinned (no sched_setaffinity here)", (previous, limiter)


def _restore(state: Any) -> None:
    previous, limiter = state
    if previous is not None:
        os.sched_setaffinity(0, previous)
    if limiter is not None:
        limiter.restore_original_limits()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def run_triage_bench(count: int = 20000, batch_size: int = 2000, single: int = 1000, seed: int = 0) -> dict[str, Any]:
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    pinned, state = _one_core()
    try:
        from storeops.ai.triage.model import DEFAULT_MODEL_DIR, Triage
        from storeops.ai.triage.training import load_base_examples

        started = time.perf_counter()
        triage = Triage.load(DEFAULT_MODEL_DIR)
        load_seconds = time.perf_counter() - started
        pool = [e.text for e in load_base_examples(DEFAULT_MODEL_DIR)]
        rng = random.Random(seed)
        messages = [rng.choice(pool) for _ in range(count)]
        triage.classify_many(messages[:200])  # warm-up: first-call allocations

        started = time.perf_counter()
        intents = 0
        for start in range(0, count, batch_size):
            intents += len(triage.classify_many(messages[start:start + batch_size]))
        seconds = time.perf_counter() - started

        latencies = []
        for text in messages[:single]:
            t0 = time.perf_counter()
            triage.classify(text)
            latencies.append(time.perf_counter() - t0)
    finally:
        _restore(state)
    throughput = intents / seconds if seconds else 0.0
    return {
        "bench": "triage",
        "messages": intents,
        "batch_size": batch_size,
        "cpu": pinned,
        "threads": 1,
        "seconds": round(seconds, 3),
        "throughput_per_s": round(throughput, 1),
        "goal_per_s": GOAL_PER_SECOND,
        "meets_goal": throughput >= GOAL_PER_SECOND,
        "single_message_latency_ms": {
            "count": len(latencies),
            "p50": round(_percentile(latencies, 0.5) * 1000, 3),
            "p99": round(_percentile(latencies, 0.99) * 1000, 3),
        },
        "model_load_seconds": round(load_seconds, 3),
        "model_version": triage.version,
        "python": platform.python_version(),
    }


def _wait(probe: Any, what: str, timeout_s: float = 60.0, poll_s: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll_s)


def run_ticket_latency(tickets: int = 20, interval_s: float = 2.5) -> dict[str, Any]:
    """Gorgias ticket created -> storeops' reply visible in the Gorgias sandbox, per ticket."""
    import asyncio
    import tempfile
    import threading
    from pathlib import Path

    import httpx
    import uvicorn

    from storeops.cli.bench import free_port
    from storeops.core.logging import configure_logging
    from storeops.core.secrets import SecretBox, load_or_create_key
    from storeops.core.settings import Settings
    from storeops.db.migrate import upgrade
    from storeops.db.session import Database
    from storeops.flows import support
    from storeops.flows.demo import connect_demo_shop
    from storeops.flows.runtime import Worker
    from storeops.sandbox.runner import SandboxCluster
    from storeops.web.app import create_app

    if tickets <= 0:
        raise ValueError(f"tickets must be positive, got {tickets}")
    configure_logging("error", json=True)  # stdout carries the JSON result only
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, name="sandboxes", daemon=True)
    loop_thread.start()
    cluster = SandboxCluster(["shopify", "shipbob", "gorgias"])
    asyncio.run_coroutine_threadsafe(cluster.start(), loop).result(timeout=60)
    latencies: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="storeops-bench-") as tmp:
            settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{Path(tmp) / 'storeops.db'}",
                                admin_token="bench-admin-token", log_json=True, log_level="error")
            db = Database(settings.resolved_database_url)
            upgrade(db)
            box = SecretBox(load_or_create_key(settings.ensure_data_dir(), settings.secret_key))
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(create_app(settings, db), host="127.0.0.1", port=port,
                                                   log_level="error", access_log=False, lifespan="on"))
            server_thread = threading.Thread(target=server.run, daemon=True)
            server_thread.start()
            _wait(lambda: server.started, "the web app")
            sandboxes = cluster.describe()
            worker = None
            try:
                connection = connect_demo_shop(db, box, sandboxes, f"http://127.0.0.1:{port}")
                if not connection.ok:
                    raise RuntimeError(f"could not connect the sandboxes: {connection.as_dict()}")
                worker = Worker(settings, db)
                support.load_model()
                worker.start()
                shopify, gorgias = sandboxes["shopify"]["url"], sandboxes["gorgias"]["url"]
                # One more customer than measured: the first ticket warms the path (DBOS
                # queues, connection pools, the team directory) and is reported apart.
                emails = [f"bench{i}@example.com" for i in range(tickets + 1)]
                placed = httpx.post(f"{shopify}/_sandbox/checkouts", timeout=30, json={
                    "count": tickets + 1, "seed": 11, "overrides": [
                        {"customer": {"email": e, "first_name": "Bench"}, "payment": "paid",
                         "lines": [{"sku": "MH01-XS-Orange", "quantity": 1}]} for e in emails]}).json()
                names = [c["order_name"] for c in placed["checkouts"] if c["status"] == "completed"]
                if len(names) != tickets + 1:
                    raise RuntimeError(f"only {len(names)} of {tickets + 1} checkouts completed")
                tracked = _tracked_orders(db, connection.shop_id)
                _wait(lambda: len(tracked()) > tickets, "orders at ShipBob", 120, 0.2)
                for _ in range(3):
                    httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/advance", timeout=30).raise_for_status()
                _wait(lambda: sum(1 for t in tracked().values() if t) > tickets, "tracking numbers", 120, 0.2)
                for email, name in zip(emails, names, strict=True):
                    started = time.perf_counter()
                    created = httpx.post(f"{gorgias}/_sandbox/customer-message", timeout=30, json={
                        "customer": {"email": email, "name": "Bench"}, "subject": "Where is my order?",
                        "body": f"Hi, where is my order {name}? It has not arrived yet."}).json()
                    _wait(lambda tid=created["ticket_id"]: _replied(gorgias, tid), "the reply", 60)
                    latencies.append(time.perf_counter() - started)
                    time.sleep(max(0.0, interval_s - latencies[-1]))
            finally:
                if worker is not None:
                    worker.stop()
                server.should_exit = True
                server_thread.join(timeout=15)
                db.dispose()
    finally:
        asyncio.run_coroutine_threadsafe(cluster.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(timeout=10)
    warmup, latencies = latencies[0], latencies[1:]
    p99 = _percentile(latencies, 0.99)
    return {"measured": True, "tickets": len(latencies), "interval_s": interval_s,
            "warmup_ticket_s": round(warmup, 3), "latencies_s": [round(v, 3) for v in latencies],
            "p50_s": round(_percentile(latencies, 0.5), 3), "p99_s": round(p99, 3),
            "max_s": round(max(latencies), 3), "goal_p99_s": GOAL_REPLY_P99_S, "meets_goal": p99 <= GOAL_REPLY_P99_S,
            "path": "gorgias sandbox ticket -> HTTP integration -> storeops inbox -> triage + 360 -> outbox -> "
                    "gorgias sandbox reply", "database": "sqlite"}


def _tracked_orders(db: Any, shop_id: str) -> Any:
    from sqlalchemy import select

    from storeops.domain.orders.models import Order

    def read() -> dict[str, str | None]:
        with db.session(shop_id) as session:
            return {o.external_id: o.tracking_number for o in session.scalars(select(Order))
                    if o.shipbob_order_id}

    return read


def _replied(gorgias_url: str, ticket_id: int) -> bool:
    import httpx

    ticket = httpx.get(f"{gorgias_url}/_sandbox/tickets/{ticket_id}", timeout=30).json()
    return any(m["from_agent"] and m["public"] for m in ticket.get("messages") or [])


def triage(
    count: Annotated[int, typer.Option(help="messages to classify")] = 20000,
    tickets: Annotated[int, typer.Option(help="tickets for the ticket-to-reply latency (0: skip it)")] = 20,
    interval: Annotated[float, typer.Option(help="seconds between tickets (Gorgias: 2 API calls/s)")] = 2.5,
    json: Annotated[bool, typer.Option("--json/--no-json", help="print the result as JSON")] = True,
) -> None:
    """Triage throughput on one core (goal: 1,000 messages/s), single-message latency, and
    ticket-to-reply latency through the Gorgias, Shopify and ShipBob sandboxes (goal: p99 <= 2 s)."""
    try:
        result = run_triage_bench(count)
        result["ticket_to_reply_latency"] = (run_ticket_latency(tickets, interval) if tickets > 0
                                             else {"measured": False, "reason": "--tickets 0"})
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        raise fail(exc) from None
    if json:
        emit_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
