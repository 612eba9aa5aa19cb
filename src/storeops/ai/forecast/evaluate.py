"""Forecast accuracy: WAPE, MASE (7-day seasonal-naive scale), bias, interval coverage,
and the seasonal-naive baseline itself.

On lumpy daily retail demand WAPE rewards forecasting too little: a forecast of 0 every
day scores WAPE = 1.0, better than any mean forecast on the UCI data. So a report shows
bias (total forecast / total actual) and the WAPE of per-SKU horizon totals (what a
reorder actually depends on) next to the daily WAPE, and the all-zero reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEASON = 7


def seasonal_naive(history: np.ndarray, horizon: int, season: int = SEASON) -> np.ndarray:
    """Repeat the last `season` days. history: (n_days,) or (n_series, n_days)."""
    history = np.asarray(history, dtype=float)
    if history.shape[-1] < season:
        raise ValueError(f"seasonal naive needs at least {season} days of history")
    last = history[..., -season:]
    reps = -(-horizon // season)
    return np.tile(last, reps)[..., :horizon]


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Sum of absolute errors over the sum of actuals, pooled over every SKU and day."""
    actual = np.asarray(actual, dtype=float)
    total = actual.sum()
    if total <= 0:
        return float("nan")
    return float(np.abs(actual - np.asarray(forecast, dtype=float)).sum() / total)


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Total forecast over total actual: 1.0 is unbiased, < 1 forecasts too little."""
    total = float(np.asarray(actual, dtype=float).sum())
    return float(np.asarray(forecast, dtype=float).sum() / total) if total > 0 else float("nan")


def total_wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """WAPE of each series' horizon total (n_series, n_days) -> one number."""
    actual = np.asarray(actual, dtype=float)
    return wape(actual.sum(axis=-1), np.asarray(forecast, dtype=float).sum(axis=-1))


def mase_scale(history: np.ndarray, season: int = SEASON) -> float:
    """In-sample mean absolute error of the seasonal-naive forecast (NaN if undefined)."""
    history = np.asarray(history, dtype=float)
    if len(history) <= season:
        return float("nan")
    return float(np.mean(np.abs(history[season:] - history[:-season])))


def mase(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray, season: int = SEASON) -> float:
    """MASE of one series: its forecast MAE over its in-sample seasonal-naive MAE."""
    scale = mase_scale(history, season)
    if not scale > 0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(actual, dtype=float) - np.asarray(forecast, dtype=float))) / scale)


def mean_mase(
    actual: np.ndarray, forecast: np.ndarray, histories: Sequence[np.ndarray], season: int = SEASON,
) -> float:
    """Mean of the per-SKU MASEs; SKUs whose scale is 0 or undefined are left out."""
    values = [mase(a, f, h, season) for a, f, h in zip(actual, forecast, histories, strict=True)]
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    """Share of actuals below p10, above p90, and inside [p10, p90] (ideal 0.1 / 0.1 / 0.8,
    though with integer demand and many zero days "below p10 = 0" is impossible)."""
    actual = np.asarray(actual, dtype=float)
    below = float(np.mean(actual < lower))
    above = float(np.mean(actual > upper))
    return {"below_p10": below, "above_p90": above, "inside": 1.0 - below - above}


def pinball(actual: np.ndarray, quantile_forecast: np.ndarray, q: float) -> float:
    """Mean quantile (pinball) loss of a `q` quantile forecast."""
    diff = np.asarray(actual, dtype=float) - np.asarray(quantile_forecast, dtype=float)
    return float(np.mean(np.maximum(q * diff, (q - 1) * diff)))
