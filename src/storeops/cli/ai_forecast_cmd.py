"""storeops ai forecast --history SALES.csv --horizon N --out FORECAST.csv

SALES has columns date,sku,quantity (ISO days or timestamps; other columns ignored;
negative quantities are returns). FORECAST gets sku,date,forecast,p10,p90: one row per
SKU of the history per day, for the N days after the last date in the history.

numpy, pandas and statsforecast are imported inside the command: importing them when the
`storeops` CLI starts would slow every other command down by seconds.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from storeops.cli.common import console, fail
from storeops.core.errors import InvalidInput

if TYPE_CHECKING:
    from storeops.ai.forecast.models import SkuForecast

MAX_HORIZON_DAYS = 731
OUTPUT_COLUMNS = ("sku", "date", "forecast", "p10", "p90")


def forecast(
    history: Annotated[Path, typer.Option(help="sales CSV(.gz) with columns date,sku,quantity")],
    horizon: Annotated[int, typer.Option(help="days to forecast after the last date in the history")],
    out: Annotated[Path, typer.Option(help="output CSV: sku,date,forecast,p10,p90")],
) -> None:
    """Daily demand forecast per SKU with p10/p90, for the N days after the history ends."""
    if horizon <= 0:
        raise fail(f"--horizon must be a positive number of days, got {horizon}")
    if horizon > MAX_HORIZON_DAYS:
        raise fail(f"--horizon {horizon} is more than {MAX_HORIZON_DAYS} days; daily forecasts that far out "
                   "are not meaningful")
    if not history.is_file():
        raise fail(f"--history {history}: no such file")
    if out.exists() and out.is_dir():
        raise fail(f"--out {out} is a directory; give a file name")
    if not out.parent.exists():
        raise fail(f"--out {out}: folder {out.parent} does not exist")

    from storeops.ai.forecast.data import load_daily_demand
    from storeops.ai.forecast.models import forecast_demand

    try:
        with console.status(f"reading {history}"):
            demand = load_daily_demand(history)
    except InvalidInput as exc:
        raise fail(f"--history {history}: {exc}") from None

    with Progress(
        TextColumn("forecasting"), BarColumn(), MofNCompleteColumn(), TextColumn("SKUs"), TimeElapsedColumn(),
        console=console, transient=False,
    ) as progress:
        task = progress.add_task("skus", total=len(demand.skus))
        results = forecast_demand(demand, horizon, on_progress=lambda done: progress.update(task, completed=done))

    rows = _write(out, results)
    classes: dict[str, int] = {}
    for result in results:
        classes[result.demand_class] = classes.get(result.demand_class, 0) + 1
    mix = ", ".join(f"{name} {count}" for name, count in sorted(classes.items(), key=lambda kv: -kv[1]))
    console.print(
        f"wrote {rows} rows ({len(results)} SKUs x {horizon} days, {results[0].days[0]} to {results[0].days[-1]}) "
        f"to {out}; demand classes: {mix}")


def _write(out: Path, results: list[SkuForecast]) -> int:
    """Write atomically: a failed run leaves no half-written forecast behind."""
    import numpy as np
    import pandas as pd

    horizon = len(results[0].days)
    frame = pd.DataFrame({
        "sku": np.repeat([r.sku for r in results], horizon),
        "date": [d.isoformat() for r in results for d in r.days],
        "forecast": np.concatenate([r.mean for r in results]).round(3),
        "p10": np.concatenate([r.p10 for r in results]).round(3),
        "p90": np.concatenate([r.p90 for r in results]).round(3),
    }, columns=list(OUTPUT_COLUMNS))
    handle, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(handle)
    try:
        compression = "gzip" if out.suffix == ".gz" else None
        frame.to_csv(tmp, index=False, compression=compression)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(frame)
