"""The forecast bench on the shared UCI data (top 100 SKUs, September 2011): ours must beat
the 7-day seasonal naive on WAPE. Speed is reported by `storeops bench forecast`, not
asserted here."""

from __future__ import annotations

import json

import pytest

from storeops.cli.bench_forecast import UCI_FILE, run_forecast_bench

from conftest import SHARED

pytestmark = pytest.mark.slow

DATA = SHARED / UCI_FILE


@pytest.mark.skipif(not DATA.is_file(), reason=f"shared data not found: {DATA}")
def test_forecast_beats_seasonal_naive_on_uci_top_100() -> None:
    result = run_forecast_bench(100, data=DATA)
    json.dumps(result)  # what `storeops bench forecast --json` prints
    assert result["skus"] == 100 and result["horizon_days"] == 30
    assert result["test_start"] == "2011-09-01" and result["test_end"] == "2011-09-30"
    ours, naive = result["ours"], result["seasonal_naive_7"]
    assert ours["wape"] < naive["wape"]
    assert ours["horizon_total_wape"] < naive["horizon_total_wape"]
    assert 0.5 < ours["bias"] < 1.5  # not "winning" WAPE by forecasting nothing
    assert sum(result["method_mix"].values()) == 100
