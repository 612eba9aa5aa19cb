"""Demand forecasting and replenishment math on small synthetic data (fast).

The accuracy on real data is measured by `storeops bench forecast` (and smoke-tested in
test_forecast_eval.py), not here."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from storeops.ai.forecast import (
    SupplierTerms,
    classify_demand,
    daily_demand,
    draft_purchase_orders,
    forecast_demand,
    read_sales,
    suggest_reorder,
)
from storeops.ai.forecast import evaluate as ev
from storeops.ai.forecast.replenishment import Z_P90
from storeops.cli.ai_forecast_cmd import forecast as forecast_command
from storeops.core.errors import InvalidInput

START = date(2024, 1, 1)  # a Monday


def sales_csv(rows: Sequence[tuple[str, str, float]], extra: bool = False) -> io.StringIO:
    out = io.StringIO()
    out.write("date,sku,quantity" + (",price,country\n" if extra else "\n"))
    for day, sku, qty in rows:
        out.write(f"{day},{sku},{qty}" + (",1.25,United Kingdom\n" if extra else "\n"))
    out.seek(0)
    return out


def constant_rows(sku: str, rate: float, days: int) -> list[tuple[str, str, float]]:
    return [((START + timedelta(days=t)).isoformat(), sku, rate) for t in range(days)]


# --- data: cleaning and returns ------------------------------------------------------------


def test_returns_reduce_demand_and_a_net_negative_day_is_zero() -> None:
    rows = [
        ("2024-01-01 09:00:00", "A", 10), ("2024-01-01 15:30:00", "A", -4),  # same-day return: 6
        ("2024-01-02", "A", -5),  # returns only: floored at 0, not -5
        ("2024-01-04T10:00:00", "A", 3),  # no sales on the 3rd: filled with 0
        ("2024-01-04", "B", 2),
    ]
    demand = daily_demand(read_sales(sales_csv(rows)))
    assert demand.skus == ["A", "B"]
    assert demand.start == date(2024, 1, 1) and demand.last_day == date(2024, 1, 4)
    assert demand.values[0].tolist() == [6, 0, 0, 3]
    assert demand.values[1].tolist() == [0, 0, 0, 2]
    assert demand.first_sale.tolist() == [0, 3]


def test_timestamps_with_offsets_keep_their_own_day() -> None:
    rows = [("2024-01-01T23:30:00+01:00", "A", 1), ("2024-01-02T00:30:00-05:00", "A", 2)]
    demand = daily_demand(read_sales(sales_csv(rows)))
    assert demand.start == date(2024, 1, 1)
    assert demand.values[0].tolist() == [1, 2]


@pytest.mark.parametrize(("text", "message"), [
    ("day,sku,quantity\n2024-01-01,A,1\n", "missing column(s) date"),
    ("date,sku\n2024-01-01,A\n", "missing column(s) quantity"),
    ("date,sku,quantity\n2024-01-01,A,1\nnot-a-date,A,2\n", "cannot parse date on data row(s) 3"),
    ("date,sku,quantity\n2024-01-01,A,lots\n", "quantity is not a number on data row(s) 2"),
    ("date,sku,quantity\n", "no rows"),
    ("", "cannot read"),
])
def test_bad_sales_files_are_refused_with_a_clear_reason(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=None) as info:
        read_sales(io.StringIO(text))
    assert message in str(info.value)


# --- models -------------------------------------------------------------------------------


def test_a_constant_rate_forecasts_that_rate() -> None:
    demand = daily_demand(read_sales(sales_csv(constant_rows("A", 5, 120))))
    [result] = forecast_demand(demand, 14)
    assert result.days[0] == demand.last_day + timedelta(days=1) and len(result.days) == 14
    assert result.demand_class == "smooth"
    np.testing.assert_allclose(result.mean, 5.0, rtol=0.02)
    assert np.all(result.p10 <= result.mean) and np.all(result.mean <= result.p90)


def test_a_shop_closed_on_saturdays_gets_no_saturday_forecast() -> None:
    rows = []
    for i in range(12):  # enough SKUs for a pooled weekday profile
        rows += [r for r in constant_rows(f"S{i}", 4, 84) if date.fromisoformat(r[0]).weekday() != 5]
    results = forecast_demand(daily_demand(read_sales(sales_csv(rows))), 14)
    for result in results:
        for day, mean, p90 in zip(result.days, result.mean, result.p90, strict=True):
            if day.weekday() == 5:
                assert mean == 0 and p90 == 0
            else:
                assert mean == pytest.approx(4, rel=0.02)  # Saturdays are not read as zero-demand days


def test_intermittent_demand_uses_an_intermittent_model_with_ordered_bands() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for t in range(200):
        if rng.random() < 0.15:
            rows.append(((START + timedelta(days=t)).isoformat(), "SPARSE", int(rng.integers(1, 30))))
    demand = daily_demand(read_sales(sales_csv(rows)))
    [result] = forecast_demand(demand, 21)
    assert result.demand_class in {"intermittent", "lumpy"}
    assert "CrostonSBA" in result.method or "IMAPA" in result.method
    assert np.all(result.p10 >= 0)
    assert np.all(result.p10 <= result.mean) and np.all(result.mean <= result.p90)
    assert 0 < result.mean.mean() < 30


def test_classification_follows_adi_and_cv2() -> None:
    assert classify_demand(np.full(50, 3.0)) == "smooth"
    assert classify_demand(np.tile([1.0, 40.0], 25)) == "erratic"
    assert classify_demand(np.tile([0, 0, 0, 5.0], 20)) == "intermittent"
    assert classify_demand(np.tile([0, 0, 0, 1.0, 0, 0, 0, 50.0], 10)) == "lumpy"


def test_a_one_off_wholesale_line_is_capped_for_the_level_but_not_in_the_actuals() -> None:
    rng = np.random.default_rng(3)
    rows = [((START + timedelta(days=t)).isoformat(), "MUG", float(rng.integers(1, 4))) for t in range(120)]
    rows.append(((START + timedelta(days=100)).isoformat(), "MUG", 2000.0))  # one wholesale order
    demand = daily_demand(read_sales(sales_csv(rows)))
    assert demand.values[0, 100] > 2000  # the demand itself is untouched
    assert demand.robust is not None and demand.robust[0, 100] <= 12 * 2 + 3  # 12 x the median line (2)
    [capped] = forecast_demand(demand, 7)
    uncapped_demand = daily_demand(read_sales(sales_csv(rows)), bulk_line_factor=float("inf"))
    assert uncapped_demand.robust is not None and uncapped_demand.robust[0, 100] > 2000
    [uncapped] = forecast_demand(uncapped_demand, 7)
    assert 1.5 < capped.mean.mean() < 3.0  # ordinary days sell 1-3 mugs
    assert uncapped.mean.mean() > 1.3 * capped.mean.mean()  # the day cap alone lets the bulk order through
    assert capped.p90.max() >= capped.mean.max()


def test_a_same_day_cancelled_bulk_order_adds_nothing_to_either_series() -> None:
    rows = constant_rows("A", 2, 30) + [("2024-01-10 09:00:00", "A", 500), ("2024-01-10 09:05:00", "A", -500)]
    demand = daily_demand(read_sales(sales_csv(rows)))
    assert demand.values[0, 9] == 2
    assert demand.robust is not None and demand.robust[0, 9] == 0  # capped sale minus full return: floored


def test_history_calendar_can_end_on_a_closed_day_and_slices_keep_the_robust_series() -> None:
    sales = read_sales(sales_csv(constant_rows("A", 2, 10)))
    demand = daily_demand(sales, last_day=START + timedelta(days=12))
    assert demand.n_days == 13 and demand.values[0, -3:].tolist() == [0, 0, 0]
    assert demand.until(START + timedelta(days=4)).robust_values().shape == (1, 5)
    assert demand.select(["A"]).robust_values().shape == (1, 13)
    with pytest.raises(InvalidInput, match="sales after last_day"):
        daily_demand(sales, last_day=START + timedelta(days=3))


def test_a_sku_with_only_returns_forecasts_zero() -> None:
    rows = constant_rows("A", 2, 30) + [("2024-01-10", "GONE", -3)]
    results = {r.sku: r for r in forecast_demand(daily_demand(read_sales(sales_csv(rows))), 3)}
    assert results["GONE"].demand_class == "no-demand"
    assert results["GONE"].mean.tolist() == [0, 0, 0]


# --- evaluation -----------------------------------------------------------------------------


def test_metrics_on_hand_computed_cases() -> None:
    actual = np.array([[2.0, 0, 4], [1, 1, 0]])
    forecast = np.array([[1.0, 1, 4], [1, 0, 0]])
    assert ev.wape(actual, forecast) == pytest.approx(3 / 8)
    assert ev.bias(actual, forecast) == pytest.approx(7 / 8)
    history = np.array([1.0, 2, 3, 4, 5, 6, 7, 3, 2, 3])  # seasonal-naive errors 2, 0, 0 -> scale 2/3
    assert ev.mase(np.array([1.0, 1]), np.array([2.0, 3]), history) == pytest.approx(1.5 / (2 / 3))
    assert ev.seasonal_naive(np.arange(1.0, 11), 9).tolist() == [4, 5, 6, 7, 8, 9, 10, 4, 5]


# --- the CLI command ------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(forecast_command)
    return app


def test_cli_writes_one_row_per_sku_per_day_after_the_history(tmp_path: Path) -> None:
    history = tmp_path / "sales.csv"
    rows = constant_rows("A", 3, 60) + [
        ("2024-02-20 10:15:00", "B", 5), ("2024-02-25 16:00:00", "B", 2), ("2024-02-26", "B", -1)]
    history.write_text(sales_csv(rows, extra=True).getvalue())
    out = tmp_path / "forecast.csv"
    result = CliRunner().invoke(cli(), ["--history", str(history), "--horizon", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        reader = csv.reader(handle)
        header = next(reader)
        lines = list(reader)
    assert header == ["sku", "date", "forecast", "p10", "p90"]
    last = START + timedelta(days=59)  # 2024-02-29, the last date of the whole history
    expected = [(sku, (last + timedelta(days=k)).isoformat()) for sku in ("A", "B") for k in range(1, 8)]
    assert [(line[0], line[1]) for line in lines] == expected
    for _, _, mean, p10, p90 in lines:
        assert 0 <= float(p10) <= float(mean) <= float(p90)
    assert float(lines[0][2]) == pytest.approx(3, rel=0.02)


@pytest.mark.parametrize(("content", "horizon", "message"), [
    ("date,sku\n2024-01-01,A\n", "7", "missing column(s) quantity"),
    ("date,sku,quantity\nyesterday,A,1\n", "7", "cannot parse date"),
    ("date,sku,quantity\n2024-01-01,A,1\n", "0", "--horizon must be a positive number"),
    ("date,sku,quantity\n2024-01-01,A,1\n", "-3", "--horizon must be a positive number"),
])
def test_cli_bad_input_is_an_error_and_writes_nothing(
    tmp_path: Path, content: str, horizon: str, message: str,
) -> None:
    history = tmp_path / "sales.csv"
    history.write_text(content)
    out = tmp_path / "forecast.csv"
    result = CliRunner().invoke(cli(), ["--history", str(history), "--horizon", horizon, "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [history]


def test_cli_missing_history_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli(), ["--history", str(tmp_path / "nope.csv"), "--horizon", "3", "--out", str(tmp_path / "f.csv")])
    assert result.exit_code == 2 and "no such file" in result.output


# --- replenishment ----------------------------------------------------------------------------


def bands(mean: float, sigma: float, days: int) -> tuple[list[float], list[float], list[float]]:
    half = Z_P90 * sigma
    return [mean] * days, [mean - half] * days, [mean + half] * days


def test_reorder_point_safety_stock_and_moq_by_hand() -> None:
    forecast, p10, p90 = bands(10, 2, 30)  # 10 units/day, daily sigma 2
    terms = SupplierTerms("Acme", lead_time_days=4, moq=100, case_pack=12)
    s = suggest_reorder("MUG", forecast, p10, p90, terms=terms, on_hand=30, on_order=10,
                        service_level=0.95, cover_days=7)
    z = 1.6448536
    assert s.demand_over_lead_time == pytest.approx(40)
    assert s.sigma_over_lead_time == pytest.approx(4)  # sqrt(4 days x 2^2)
    assert s.safety_stock == pytest.approx(z * 4, rel=1e-6)
    assert s.reorder_point == pytest.approx(40 + z * 4, rel=1e-6)
    assert s.inventory_position == 40 and s.reorder
    # order up to 46.58 + 70 = 116.58 -> 76.58 needed -> 77 -> MOQ 100 -> 9 cases of 12 = 108
    assert s.order_up_to == pytest.approx(116.58, abs=0.01)
    assert s.order_quantity == 108
    text = "\n".join(s.reasoning)
    assert "Expected demand over the 4-day lead time from Acme: 40.0 units" in text
    assert "Safety stock = z(95%) 1.645 x 4.0 = 6.6 units." in text
    assert "Reorder point = 40.0 + 6.6 = 46.6 units." in text
    assert "Inventory position 40 (on hand 30 + on order 10) is at or below the reorder point 46.6" in text
    assert "minimum order quantity of 100 units" in text
    assert "Rounded up from 100 to 108 units: whole cases of 12." in text
    assert s.reasoning[-1] == "Suggested order: 108 units of MUG from Acme."


def test_no_reorder_above_the_reorder_point_and_no_moq_when_above_it() -> None:
    forecast, p10, p90 = bands(10, 2, 30)
    terms = SupplierTerms("Acme", lead_time_days=4, moq=10, case_pack=1)
    calm = suggest_reorder("MUG", forecast, p10, p90, terms=terms, on_hand=60)
    assert not calm.reorder and calm.order_quantity == 0
    assert "above the reorder point 46.6: no order now" in calm.reasoning[-1]
    low = suggest_reorder("MUG", forecast, p10, p90, terms=terms, on_hand=5, backordered=2, cover_days=10)
    # position 3; order up to 46.58 + 100 -> 143.58 needed -> 144 (above the MOQ, no rounding note)
    assert low.order_quantity == 144
    assert not any("minimum order" in line or "cases" in line for line in low.reasoning)


def test_higher_service_level_means_more_safety_stock_and_a_short_forecast_is_extended() -> None:
    forecast, p10, p90 = bands(5, 1, 7)
    terms = SupplierTerms("Acme", lead_time_days=10)
    s90 = suggest_reorder("X", forecast, p10, p90, terms=terms, on_hand=0, service_level=0.90)
    s99 = suggest_reorder("X", forecast, p10, p90, terms=terms, on_hand=0, service_level=0.99)
    assert s99.safety_stock > s90.safety_stock
    assert s90.demand_over_lead_time == pytest.approx(50)
    assert s90.sigma_over_lead_time == pytest.approx(math.sqrt(10))
    assert any("later days repeat" in line for line in s90.reasoning)


def test_bad_replenishment_inputs_are_refused() -> None:
    with pytest.raises(InvalidInput):
        SupplierTerms("Acme", lead_time_days=-1)
    with pytest.raises(InvalidInput):
        SupplierTerms("Acme", lead_time_days=3, moq=0)
    with pytest.raises(InvalidInput):
        suggest_reorder("X", [1.0], [0.0], [2.0], terms=SupplierTerms("Acme", 3), on_hand=0, service_level=1.0)
    with pytest.raises(InvalidInput):
        suggest_reorder("X", [1.0, 2.0], [0.0], [2.0], terms=SupplierTerms("Acme", 3), on_hand=0)


def test_draft_purchase_orders_group_lines_by_supplier() -> None:
    forecast, p10, p90 = bands(10, 2, 30)
    acme, zed = SupplierTerms("Acme", 4), SupplierTerms("Zed", 2)
    suggestions = [
        suggest_reorder("B", forecast, p10, p90, terms=acme, on_hand=0),
        suggest_reorder("A", forecast, p10, p90, terms=acme, on_hand=0),
        suggest_reorder("C", forecast, p10, p90, terms=zed, on_hand=1000),  # no order
    ]
    drafts = draft_purchase_orders(suggestions)
    assert [d.supplier for d in drafts] == ["Acme"]
    assert [line.sku for line in drafts[0].lines] == ["A", "B"]
    assert drafts[0].status == "draft"
    assert drafts[0].total_units == sum(s.order_quantity for s in suggestions[:2])
