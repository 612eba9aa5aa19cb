"""storeops bench triage: message-triage throughput on one core.

The messages are the examples shipped beside the model (Bitext utterances and CLINC150
out-of-scope queries), drawn with a fixed seed. The process is pinned to one CPU and its
BLAS/OpenMP pools to one thread, so the number is what one core does; the CLI classifies
in batches of 2,000 the same way. Single-message latency (batch of one, as a webhook
handler would call it) is measured separately. Model loading is timed apart.

Ticket-to-reply latency (Gorgias ticket in -> reply sent) is not measured: it needs the
Gorgias reply flow, which does not exist yet.
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
        "ticket_to_reply_latency": {"measured": False,
                                    "reason": "needs the Gorgias reply flow, which does not exist yet"},
        "python": platform.python_version(),
    }


def triage(
    count: Annotated[int, typer.Option(help="messages to classify")] = 20000,
    json: Annotated[bool, typer.Option("--json/--no-json", help="print the result as JSON")] = True,
) -> None:
    """Triage throughput on one core (goal: 1,000 messages/s) and single-message latency."""
    try:
        result = run_triage_bench(count)
    except (FileNotFoundError, ValueError) as exc:
        raise fail(exc) from None
    if json:
        emit_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
