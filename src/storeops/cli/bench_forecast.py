"""storeops bench forecast: demand-forecast accuracy and speed on the UCI Online Retail data.

Issue #5's must-show: train on the history up to 2011-08-31, forecast every day of
September 2011 for the 500 product SKUs with the largest (net) volume in the training
part, and compare with a 7-day seasonal-naive forecast. The pipeline is the one
`storeops ai forecast` runs: the same loader (net daily quantity floored at 0, so
returns and cancellations reduce demand; bulk order lines capped for the models), the
same models; actuals are cleaned the same way but never capped. The history is built from
the training lines alone, so the bulk-order cap never sees a test-period line.
`--train-end/--test-end` give the earlier backtest months the method was chosen on
(2011-04-30 / 2011-05-31 ... 2011-07-31 / 2011-08-31); September was not used to choose
anything: it was run once, after the choice, for the report.
"""

from __future__ import annotations

import os
import platform
import time
from collections import Counter
from datetime import date, timedelta
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer

from storeops.cli.common import emit_json, fail
from storeops.core.errors import InvalidInput

UCI_FILE = Path("datasets/retail/online_retail_sales_until_2011-09-30.csv.gz")
GOAL_WAPE_RATIO = 0.85


def find_uci_dataset() -> Path:
    """The shared UCI file: $STOREOPS_SHARED_DIR, else a `shared/` folder beside the
    checkout (or beside any parent of the working directory)."""
    candidates: list[Path] = []
    if env := os.environ.get("STOREOPS_SHARED_DIR"):
        candidates.append(Path(env) / UCI_FILE)
    for base in [Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents]:
        candidates.append(base / "shared" / UCI_FILE)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"the UCI Online Retail file ({UCI_FILE}) was not found in $STOREOPS_SHARED_DIR or in a shared/ "
        "folder beside the checkout; pass --data PATH")


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def run_forecast_bench(
    skus: int = 500,
    *,
    data: Path | None = None,
    train_end: date = date(2011, 8, 31),
    test_end: date = date(2011, 9, 30),
) -> dict[str, Any]:
    """Forecast accuracy (WAPE, MASE, bias, intervals) of ours vs the 7-day seasonal naive."""
    import numpy as np
    import pandas as pd

    from storeops.ai.forecast import evaluate as ev
    from storeops.ai.forecast.data import daily_demand, is_product, read_sales
    from storeops.ai.forecast.models import forecast_demand

    if skus <= 0:
        raise ValueError("skus must be positive")
    if test_end <= train_end:
        raise ValueError("test_end must be after train_end")
    path = data or find_uci_dataset()
    started = time.perf_counter()
    sales = read_sales(path)
    demand = daily_demand(sales)
    # The history is built from the training lines only: the bulk-order cap (a multiple of
    # each SKU's median sales line) must not see a single test-period line.
    history = daily_demand(sales[sales["date"] <= pd.Timestamp(train_end)], last_day=train_end)
    loaded = time.perf_counter()
    if test_end > demand.last_day:
        raise ValueError(f"the data end on {demand.last_day}, before test_end {test_end}")
    if history.start != demand.start:
        raise ValueError(f"no sales on or before {train_end}")

    products = [i for i, s in enumerate(history.skus) if is_product(s)]
    volume = history.values[products].sum(axis=1)
    top = [products[j] for j in np.argsort(-volume, kind="stable")[:skus]]
    chosen = [history.skus[i] for i in top]
    actual_all = demand.select(chosen).window(train_end + timedelta(days=1), test_end)
    horizon = actual_all.shape[1]

    import_start = time.perf_counter()
    from storeops.ai.forecast.models import _model_sets

    _model_sets()  # the statsforecast import, timed on its own
    import_s = time.perf_counter() - import_start

    first_sku_start = time.perf_counter()
    forecast_demand(history, horizon, skus=chosen[:1])
    first_sku_ms = (time.perf_counter() - first_sku_start) * 1000

    fit_start = time.perf_counter()
    forecasts = forecast_demand(history, horizon, skus=chosen)
    fit_s = time.perf_counter() - fit_start

    actual = actual_all
    ours = np.vstack([f.mean for f in forecasts])
    p10 = np.vstack([f.p10 for f in forecasts])
    p90 = np.vstack([f.p90 for f in forecasts])
    naive = ev.seasonal_naive(history.values[top], horizon)
    zero = np.zeros_like(actual)
    histories = [history.series(i) for i in top]

    def scores(forecast: np.ndarray) -> dict[str, float]:
        return {
            "wape": _r(ev.wape(actual, forecast)),
            "mase": _r(ev.mean_mase(actual, forecast, histories)),
            "bias": _r(ev.bias(actual, forecast)),
            "horizon_total_wape": _r(ev.total_wape(actual, forecast)),
        }

    ours_scores = scores(ours)
    naive_scores = scores(naive)
    ratio = ours_scores["wape"] / naive_scores["wape"]
    cover = ev.coverage(actual, p10, p90)
    return {
        "benchmark": "forecast",
        "dataset": str(path),
        "train_end": train_end.isoformat(),
        "test_start": (train_end + timedelta(days=1)).isoformat(),
        "test_end": test_end.isoformat(),
        "horizon_days": horizon,
        "skus": len(top),
        "sku_selection": "product SKUs with the largest net demand up to train_end",
        "ours": {
            **ours_scores,
            "interval_p10_p90": {k: _r(v) for k, v in cover.items()},
            "pinball_p10": _r(ev.pinball(actual, p10, 0.1)),
            "pinball_p90": _r(ev.pinball(actual, p90, 0.9)),
        },
        "seasonal_naive_7": naive_scores,
        "zero_forecast": scores(zero),
        "wape_ratio_ours_to_seasonal_naive": _r(ratio),
        "goal_wape_ratio": GOAL_WAPE_RATIO,
        "goal_met": bool(ratio <= GOAL_WAPE_RATIO),
        "method_mix": dict(Counter(f.demand_class for f in forecasts).most_common()),
        "runtime": {
            "load_and_clean_s": _r(loaded - started, 3),
            "statsforecast_import_s": _r(import_s, 3),
            "first_sku_ms": _r(first_sku_ms, 2),
            "per_sku_ms": _r(fit_s / len(top) * 1000, 3),
            "forecast_total_s": _r(fit_s, 3),
            "total_s": _r(time.perf_counter() - started, 3),
        },
        "environment": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            **{name: metadata.version(name) for name in ("statsforecast", "numpy", "pandas")},
        },
    }


def _parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} must be a day like 2011-08-31, got {value!r}") from None


def forecast(
    skus: Annotated[int, typer.Option(help="how many top-volume SKUs to forecast")] = 500,
    data: Annotated[Path | None, typer.Option(help="UCI sales CSV(.gz); default: shared/datasets/retail/")] = None,
    train_end: Annotated[str, typer.Option(help="last day of the training history")] = "2011-08-31",
    test_end: Annotated[str, typer.Option(help="last day of the test period")] = "2011-09-30",
    json_out: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = True,
) -> None:
    """Forecast accuracy (WAPE, MASE vs 7-day seasonal naive) and per-SKU runtime on UCI data."""
    try:
        result = run_forecast_bench(
            skus, data=data, train_end=_parse_day(train_end, "--train-end"),
            test_end=_parse_day(test_end, "--test-end"))
    except (FileNotFoundError, ValueError, InvalidInput) as exc:
        raise fail(exc) from None
    if json_out:
        emit_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
