"""Sales lines in, one clean daily demand series per SKU out.

Input is any table with columns `date,sku,quantity` (other columns are ignored): `date`
is an ISO 8601 day or timestamp, `quantity` a signed number where negative lines are
returns / cancellations.

How returns are treated. Per SKU and calendar day we take the *net* quantity (sales minus
returns booked that day) and floor it at 0:
- Subtracting: in order data like the UCI Online Retail set most cancellations are booked
  the same day as the order they cancel (a 74,215-unit order of SKU 23166 on 2011-01-18
  and its cancellation are minutes apart); counting only the sale would invent demand
  that never consumed stock.
- Flooring at 0: a day whose returns exceed its sales means goods came back, not that
  customers "bought minus units". Returned stock is a receipt for the stock ledger, not a
  demand signal we can forecast, and negative values would break the intermittent-demand
  models (Croston-type models need sizes > 0) and pull mean forecasts below real demand.

Every day from the first to the last date of the whole file is present for every SKU
(missing days are 0 demand): the history is one calendar, so "the N days after the last
date in the history" is the same N days for every SKU.

Bulk orders. Beside the net demand, `daily_demand` keeps a *robust* copy for the models to
learn the level from: each sales line is capped at BULK_LINE_FACTOR times the SKU's median
line size before lines are summed per day. A one-off wholesale line (hundreds of a gift
item that usually sells in ones and twelves) then counts as a large order, not as weeks of
demand, while the number of ordinary orders per day is kept. Capping lines rather than
days was chosen by backtests on May-August 2011 of the UCI data (see models.py); the
actual demand (`values`) is never capped: accuracy is always measured against it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from storeops.core.errors import InvalidInput

REQUIRED_COLUMNS = ("date", "sku", "quantity")

# Lines of the UCI Online Retail data that are charges, fees or manual entries, not stock
# items (postage, "DOTCOM POSTAGE", "Manual", carriage, discount, samples, bank charges,
# Amazon fee, charity, "PADS TO MATCH ALL CUSHIONS", gift vouchers).
NON_PRODUCT_CODES = frozenset({
    "POST", "DOT", "M", "C2", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS",
})
NON_PRODUCT_PREFIXES = ("gift_",)
# A sales line above this many times its SKU's median line size is a bulk order; its
# excess is left out of the robust series the models learn from (12 was best of 3..15
# on the May-August 2011 backtests; see models.py).
BULK_LINE_FACTOR = 12.0


def is_product(sku: str) -> bool:
    """False for fee / postage / manual-adjustment codes, which have no stock to reorder."""
    return sku.upper() not in NON_PRODUCT_CODES and not sku.lower().startswith(NON_PRODUCT_PREFIXES)


@dataclass(frozen=True)
class DailyDemand:
    """Daily demand of every SKU on one shared calendar.

    `values[i, t]` is the demand of `skus[i]` on day `start + t` (>= 0). `first_sale[i]`
    is the index of that SKU's first day with a sale: days before it are "not listed yet"
    rather than zero demand, and models skip them. `robust[i, t]` is the same demand with
    bulk order lines capped (see the module docstring); None means "same as values".
    """

    skus: list[str]
    start: date
    values: np.ndarray  # shape (n_skus, n_days), float64
    first_sale: np.ndarray  # shape (n_skus,), int
    robust: np.ndarray | None = None  # shape (n_skus, n_days), float64, <= values

    def robust_values(self) -> np.ndarray:
        return self.values if self.robust is None else self.robust

    @property
    def n_days(self) -> int:
        return int(self.values.shape[1])

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=self.n_days - 1)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=t) for t in range(self.n_days)]

    def series(self, i: int) -> np.ndarray:
        """SKU i's demand from its first sale to the last day of the history."""
        return self.values[i, self.first_sale[i]:]

    def index_of(self, sku: str) -> int:
        return self.skus.index(sku)

    def select(self, skus: Iterable[str]) -> DailyDemand:
        rows = {s: i for i, s in enumerate(self.skus)}
        keep = [rows[s] for s in skus]
        robust = None if self.robust is None else self.robust[keep]
        return DailyDemand([self.skus[i] for i in keep], self.start, self.values[keep], self.first_sale[keep], robust)

    def until(self, last: date) -> DailyDemand:
        """The history up to and including `last` (the training part of a backtest)."""
        n = (last - self.start).days + 1
        if n <= 0:
            raise InvalidInput(f"no history on or before {last}")
        values = self.values[:, :n]
        first = np.minimum(self.first_sale, n - 1)
        robust = None if self.robust is None else self.robust[:, :n]
        return DailyDemand(self.skus, self.start, values, first, robust)

    def window(self, first: date, last: date) -> np.ndarray:
        """Demand on days first..last inclusive, shape (n_skus, days)."""
        a = (first - self.start).days
        b = (last - self.start).days + 1
        if a < 0 or b > self.n_days:
            raise InvalidInput(f"{first}..{last} is outside the history {self.start}..{self.last_day}")
        return self.values[:, a:b]


def read_sales(source: str | Path | IO[str]) -> pd.DataFrame:
    """Read a sales CSV (optionally .gz) and return columns date (day), sku (str), quantity (float).

    Raises InvalidInput for a missing file, missing columns, unparseable dates or
    non-numeric quantities, naming the first offending rows.
    """
    try:
        header = pd.read_csv(source, nrows=0)
    except FileNotFoundError as exc:
        raise InvalidInput(f"sales history file not found: {source}", field="history") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the sales history as CSV: {exc}", field="history") from exc
    columns = {str(c).strip().lower(): c for c in header.columns}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise InvalidInput(
            f"sales history is missing column(s) {', '.join(missing)}; "
            f"need {', '.join(REQUIRED_COLUMNS)} (found: {', '.join(map(str, header.columns)) or 'none'})",
            field="history",
        )
    if hasattr(source, "seek"):
        source.seek(0)
    frame = pd.read_csv(
        source, usecols=[columns[c] for c in REQUIRED_COLUMNS],
        dtype={columns["sku"]: str, columns["date"]: str, columns["quantity"]: str},
        keep_default_na=False,
    )
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    return clean_sales(frame)


def clean_sales(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate and normalise an in-memory sales table (same rules as `read_sales`)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"sales history is missing column(s) {', '.join(missing)}", field="history")
    if frame.empty:
        raise InvalidInput("sales history has no rows", field="history")
    sku = frame["sku"].astype(str).str.strip()
    blank = sku.eq("") | sku.str.lower().isin(["nan", "none"])
    if blank.any():
        raise InvalidInput(f"sales history has an empty sku on data row(s) {_rows(blank)}", field="sku")
    quantity = pd.to_numeric(frame["quantity"].astype(str).str.strip(), errors="coerce")
    bad_qty = quantity.isna() | ~np.isfinite(quantity)
    if bad_qty.any():
        raise InvalidInput(
            f"quantity is not a number on data row(s) {_rows(bad_qty)} "
            f"(e.g. {frame['quantity'][bad_qty].iloc[0]!r})", field="quantity")
    day = parse_days(frame["date"])
    return pd.DataFrame({"date": day, "sku": sku, "quantity": quantity.astype(float)})


def parse_days(values: pd.Series) -> pd.Series:
    """ISO 8601 days or timestamps (with or without offset) -> the calendar day they name.

    A timestamp with an offset keeps its own wall-clock date (a sale at 23:30+01:00 belongs
    to that shop's day, not to UTC's next one)."""
    text = values.astype(str).str.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns about mixed offsets; we handle them below
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if parsed.isna().any():
            # Not ISO (e.g. "12/1/2010 8:26" as in the original UCI spreadsheet): let dateutil try.
            retry = pd.to_datetime(text[parsed.isna()], format="mixed", errors="coerce")
            parsed = parsed.astype(object).where(parsed.notna(), retry)
    bad = pd.isna(parsed)
    if bad.any():
        raise InvalidInput(
            f"cannot parse date on data row(s) {_rows(bad)} (e.g. {values[bad].iloc[0]!r}); "
            "use ISO 8601 days or timestamps such as 2011-09-30 or 2011-09-30 08:26:00", field="date")
    days = [pd.Timestamp(x).replace(tzinfo=None).normalize() for x in parsed] if parsed.dtype == object else None
    if days is not None:
        return pd.Series(pd.DatetimeIndex(days), index=values.index)
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed.dt.normalize()


def _rows(mask: pd.Series, limit: int = 5) -> str:
    # +2: 1-based and the header line, so the number matches what an editor shows.
    rows = [str(int(i) + 2) for i in np.flatnonzero(mask.to_numpy())[:limit]]
    more = int(mask.sum()) - len(rows)
    return ", ".join(rows) + (f" and {more} more" if more > 0 else "")


def daily_demand(
    sales: pd.DataFrame, *, last_day: date | None = None, bulk_line_factor: float = BULK_LINE_FACTOR,
) -> DailyDemand:
    """Net quantity per SKU per day, floored at 0, on one calendar with missing days as 0;
    plus the robust copy with sales lines capped at `bulk_line_factor` x the SKU's median
    sales line (computed from these lines only: pass only the history, never the test).
    The calendar runs to the last sale, or to `last_day` if given (a history that ends on
    a day the shop was closed)."""
    if sales.empty:
        raise InvalidInput("sales history has no rows", field="history")
    start = sales["date"].min()
    end = sales["date"].max()
    if last_day is not None:
        if pd.Timestamp(last_day) < end:
            raise InvalidInput(f"sales after last_day {last_day} (up to {end.date()})", field="history")
        end = pd.Timestamp(last_day)
    n_days = int((end - start).days) + 1
    codes, skus = pd.factorize(sales["sku"], sort=True)
    offsets = ((sales["date"] - start).dt.days).to_numpy()
    quantity = sales["quantity"].to_numpy(dtype=float)
    net = np.zeros((len(skus), n_days))
    np.add.at(net, (codes, offsets), quantity)
    values = np.maximum(net, 0.0)
    sold = values > 0
    first = np.where(sold.any(axis=1), sold.argmax(axis=1), n_days - 1)

    sale = quantity > 0
    median_line = np.full(len(skus), np.inf)
    if sale.any():
        medians = pd.Series(quantity[sale]).groupby(codes[sale]).median()
        median_line[medians.index.to_numpy()] = medians.to_numpy()
    capped = np.where(sale, np.minimum(quantity, bulk_line_factor * median_line[codes]), quantity)
    robust_net = np.zeros_like(net)
    np.add.at(robust_net, (codes, offsets), capped)
    robust = np.minimum(np.maximum(robust_net, 0.0), values)
    return DailyDemand([str(s) for s in skus], start.date(), values, first.astype(int), robust)


def load_daily_demand(source: str | Path | IO[str]) -> DailyDemand:
    return daily_demand(read_sales(source))
