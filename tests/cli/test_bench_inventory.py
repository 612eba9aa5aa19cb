"""`storeops bench inventory` at a small size: it measures, it does not just print numbers."""

from __future__ import annotations

from storeops.cli.bench_inventory import run_inventory


def test_bench_inventory_reaches_every_channel_with_batched_calls() -> None:
    result = run_inventory(skus=2000, time_scale=20.0, timeout_s=240.0, database_url=None, burst_into_sweep=1.0)
    assert result["changes"] == 2000
    # Landed 1 s into a sweep (8 pages, read in well under a second), the burst waits for the
    # next sweep, due 5.3 s (8 pages x 60 s / 90) after that one began.
    assert result["seconds_until_channel_consistent"]["shopify"] >= 3.0, result
    assert result["still_lagging"] == {"shopify": 0, "amazon": 0}
    assert result["seconds_until_all_consistent"] is not None
    calls = result["api_calls"]
    # 2000 SKUs changed at one FC each: 8 inventorySetQuantities calls (250 per call) and one
    # Amazon feed, against 4000 calls for one write per change per channel.
    assert 8 <= calls["shopify"] <= 20, calls
    assert 1 <= calls["amazon"] <= 12, calls
    assert result["api_calls_total"] < result["naive_calls"] / 20
    assert result["calls_per_100_changes"] < 5
