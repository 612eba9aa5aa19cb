"""ATP, allocation, coalescing and compare-and-set decisions: the pure functions."""

from __future__ import annotations

import pytest

from storeops.domain.inventory import (
    Policy,
    StockChange,
    atp,
    atp_by_channel,
    batches,
    channel_targets,
    coalesce,
    resolve_conflict,
)
from storeops.domain.inventory.atp import low_stock, oversold


def test_atp_is_on_hand_minus_reserved_minus_buffer_never_negative() -> None:
    assert atp(10, 3) == 7
    assert atp(10, 3, Policy(safety_buffer=2)) == 5
    assert atp(3, 5) == 0  # more promised than on hand: nothing to offer
    assert atp(2, 0, Policy(safety_buffer=5)) == 0


def test_floor_hides_the_last_units() -> None:
    policy = Policy(floor=3)
    assert atp(3, 0, policy) == 3
    assert atp(2, 0, policy) == 0  # below the floor the channel shows none
    assert atp(5, 3, policy) == 0


def test_allocation_share_rounds_down_and_buffer_applies_after_it() -> None:
    assert atp(10, 0, Policy(share_pct=50)) == 5
    assert atp(9, 0, Policy(share_pct=50)) == 4  # never offer half a unit
    assert atp(10, 0, Policy(share_pct=50, safety_buffer=1)) == 4
    assert atp(10, 0, Policy(share_pct=0)) == 0


@pytest.mark.parametrize("kwargs", [{"safety_buffer": -1}, {"floor": -2}, {"share_pct": 101}, {"share_pct": -5}])
def test_bad_policies_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Policy(**kwargs)


def test_atp_by_channel_applies_each_channels_policy() -> None:
    result = atp_by_channel(20, 4, {"shopify": Policy(safety_buffer=1), "amazon": Policy(share_pct=50, floor=10)})
    assert result == {"shopify": 15, "amazon": 0}


def test_channel_targets_shopify_per_location_amazon_one_total() -> None:
    targets = channel_targets({"1": 10, "2": 4, "3": 0}, {"1": 2, "3": 1},
                              {"shopify": Policy(), "amazon": Policy(safety_buffer=1)})
    assert targets == {("shopify", "1"): 8, ("shopify", "2"): 4, ("shopify", "3"): 0,
                       ("amazon", ""): 7 + 3 + 0}


def test_coalesce_keeps_the_latest_change_per_sku_and_location() -> None:
    burst = [StockChange("A", "1", 5, "2026-11-27T10:00:00+00:00"),
             StockChange("A", "1", 9, "2026-11-27T10:00:02+00:00"),
             StockChange("A", "1", 7, "2026-11-27T10:00:01+00:00"),  # late, older: loses
             StockChange("A", "2", 1, "2026-11-27T10:00:00+00:00"),
             StockChange("B", "1", 3, "2026-11-27T10:00:00+00:00"),
             StockChange("B", "1", 4, "2026-11-27T10:00:00+00:00")]  # same stamp: the later one
    latest = coalesce(burst)
    assert {k: c.on_hand for k, c in latest.items()} == {("A", "1"): 9, ("A", "2"): 1, ("B", "1"): 4}


def test_batches_split_at_the_vendor_limit() -> None:
    items = list(range(501))
    assert [len(b) for b in batches(items, 250)] == [250, 250, 1]
    assert list(batches([], 250)) == []
    with pytest.raises(ValueError):
        list(batches(items, 0))


def test_compare_and_set_conflicts_are_decided_not_overwritten() -> None:
    # The channel already shows what we want: write nothing.
    assert resolve_conflict(5, 8, 5).quantity is None
    # The channel sold units we have not reserved yet: never raise it above what it shows.
    lower = resolve_conflict(10, 8, 6)
    assert (lower.quantity, lower.compare, lower.reason) == (None, 6, "channel_lower_kept")
    capped = resolve_conflict(4, 8, 6)
    assert (capped.quantity, capped.compare, capped.reason) == (4, 6, "channel_lower_capped")
    # Someone added units on the channel the truth does not have: the truth wins.
    higher = resolve_conflict(5, 8, 12)
    assert (higher.quantity, higher.compare, higher.reason) == (5, 12, "truth_wins")
    # Never seen before: the truth wins, compared against what is there now.
    assert resolve_conflict(5, None, 2).quantity == 5


def test_low_stock_and_oversold() -> None:
    assert low_stock(2, 3) and low_stock(3, 3) and not low_stock(4, 3)
    assert not low_stock(0, 0)  # no threshold set: no alert
    assert oversold(5, 7) == 2 and oversold(7, 5) == 0
