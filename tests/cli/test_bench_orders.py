"""`storeops bench orders`: its sandboxes' limits really are lifted (or not), and a small
run measures real orders end to end from the sandboxes' records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from storeops.cli.bench_orders import HAND_WRITTEN, percentile, start_sandboxes

from conftest import on_postgres


def _shipbob_statuses(sandboxes: dict[str, dict[str, object]], calls: int) -> dict[int, int]:
    entry = sandboxes["shipbob"]
    token = dict(entry["credentials"])["token"]  # type: ignore[call-overload]
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=str(entry["url"]), headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        for _ in range(calls):
            status = c.get("/2026-01/fulfillment-center").status_code
            statuses[status] = statuses.get(status, 0) + 1
    return statuses


@pytest.mark.parametrize("lifted", [True, False])
def test_the_bench_sandboxes_keep_or_lift_shipbobs_limit(tmp_path: Path, lifted: bool) -> None:
    process, sandboxes = start_sandboxes(tmp_path, lifted=lifted, seed=3)
    try:
        statuses = _shipbob_statuses(sandboxes, 170)  # ShipBob allows 150 per minute
    finally:
        process.terminate()
        process.wait(timeout=15)
    if lifted:
        assert statuses == {200: 170}
    else:
        assert statuses.get(200) == 150 and statuses.get(429) == 20


def test_percentile_and_the_documented_baseline() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 0.99) == 99.0
    assert HAND_WRITTEN == {"shipbob": 1.0, "shopify": 3.0, "klaviyo": 2.0}


@pytest.mark.slow
@pytest.mark.skipif(on_postgres(), reason="the bench's default is embedded SQLite; one backend is enough here")
def test_a_small_run_measures_orders_from_the_sandboxes_records(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "storeops.cli.main", "bench", "orders", "--limits", "lifted", "--orders", "12",
         "--rate", "6", "--json"], capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    [run] = result["runs"]
    assert run["limits"] == "lifted" and run["outbox"] == "batched"
    assert run["orders_placed"] >= 10
    assert run["in_shipbob"] + run["held_by_checks"] == run["orders_placed"]
    assert run["missing"] == 0
    assert run["orders_per_s"] > 0
    latency = run["order_to_3pl_latency_s"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    # Counted by the sandboxes: one ShipBob create per order reaching ShipBob at least.
    shipbob = run["api_calls"]["shipbob"]
    assert shipbob["by_endpoint"].get("POST /2026-01/order", 0) >= run["in_shipbob"]
    assert run["fulfilled_in_shopify"] == run["in_shipbob"]
