"""Reorder math: from a daily forecast with p10/p90 to a reorder suggestion with reasons.

    demand over lead time   mu_L   = sum of the daily forecasts over the lead time
    its uncertainty         sigma_L = sqrt(sum sigma_d^2),  sigma_d = (p90 - p10) / (2 * 1.2816)
    safety stock            SS     = z(service level) * sigma_L
    reorder point           ROP    = mu_L + SS
    inventory position      IP     = on hand + on order - backordered
    reorder when            IP <= ROP
    order up to             S      = ROP + forecast demand over the target cover after the lead time
    order quantity          S - IP, raised to the MOQ, rounded up to whole case packs

sigma_d reads each day's p10..p90 band as a normal distribution's (the 10 % and 90 %
quantiles are 1.2816 sigma from the mean) and days as independent; lumpy daily demand is
not normal, but a sum over a lead time of a week or more is much closer to it. The service
level is the cycle service level (chance of no stock-out during one lead time).

Nothing here orders anything: a suggestion is a draft for a person to approve, and its
`reasoning` says in words how each number came about.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

from storeops.core.errors import InvalidInput

Z_P90 = NormalDist().inv_cdf(0.9)  # 1.2816: p10 and p90 are this many sigmas from the mean


@dataclass(frozen=True)
class SupplierTerms:
    supplier: str
    lead_time_days: int
    moq: int = 1  # minimum order quantity, in units
    case_pack: int = 1  # units per case: orders are whole cases

    def __post_init__(self) -> None:
        if self.lead_time_days < 0:
            raise InvalidInput("lead time cannot be negative", field="lead_time_days")
        if self.moq < 1:
            raise InvalidInput("MOQ must be at least 1 unit", field="moq")
        if self.case_pack < 1:
            raise InvalidInput("case pack must be at least 1 unit", field="case_pack")


@dataclass(frozen=True)
class ReorderSuggestion:
    sku: str
    supplier: str
    reorder: bool
    order_quantity: int  # units; 0 when no reorder is due
    inventory_position: float
    demand_over_lead_time: float
    sigma_over_lead_time: float
    safety_stock: float
    reorder_point: float
    order_up_to: float
    service_level: float
    lead_time_days: int
    reasoning: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DraftPurchaseOrder:
    """One supplier's suggested lines, awaiting a person's approval."""

    supplier: str
    lines: list[ReorderSuggestion]
    status: str = "draft"

    @property
    def total_units(self) -> int:
        return sum(line.order_quantity for line in self.lines)


def _extend(values: Sequence[float], days: int) -> list[float]:
    """The first `days` values; past the forecast's end, its last 7 days' average repeats."""
    out = [max(float(v), 0.0) for v in values[:days]]
    if len(out) < days:
        tail = [max(float(v), 0.0) for v in values[-7:]] or [0.0]
        out.extend([sum(tail) / len(tail)] * (days - len(out)))
    return out


def demand_over(forecast: Sequence[float], p10: Sequence[float], p90: Sequence[float],
                start: int, days: int) -> tuple[float, float, int]:
    """(mean, sigma, days beyond the forecast) of total demand on days start..start+days-1."""
    mean = _extend(forecast, start + days)
    low = _extend(p10, start + days)
    high = _extend(p90, start + days)
    window = range(start, start + days)
    mu = sum(mean[t] for t in window)
    sigma = math.sqrt(sum(((high[t] - low[t]) / (2 * Z_P90)) ** 2 for t in window))
    beyond = max(0, start + days - max(start, len(forecast)))
    return mu, sigma, beyond


def _round_order(needed: float, terms: SupplierTerms) -> tuple[int, list[str]]:
    notes: list[str] = []
    quantity = math.ceil(needed - 1e-9)
    if quantity < terms.moq:
        notes.append(f"Raised to the supplier's minimum order quantity of {terms.moq} units.")
        quantity = terms.moq
    if terms.case_pack > 1 and quantity % terms.case_pack:
        rounded = math.ceil(quantity / terms.case_pack) * terms.case_pack
        notes.append(f"Rounded up from {quantity} to {rounded} units: whole cases of {terms.case_pack}.")
        quantity = rounded
    return quantity, notes


def suggest_reorder(
    sku: str,
    forecast: Sequence[float],
    p10: Sequence[float],
    p90: Sequence[float],
    *,
    terms: SupplierTerms,
    on_hand: float,
    on_order: float = 0.0,
    backordered: float = 0.0,
    service_level: float = 0.95,
    cover_days: int = 28,
) -> ReorderSuggestion:
    """Reorder point, safety stock and order quantity for one SKU from its daily forecast
    (day 0 = tomorrow) and p10/p90 bands."""
    if not 0.5 <= service_level < 1:
        raise InvalidInput("service level must be at least 0.5 and below 1 (e.g. 0.95)", field="service_level")
    if cover_days < 0:
        raise InvalidInput("cover days cannot be negative", field="cover_days")
    if not (len(forecast) == len(p10) == len(p90)) or len(forecast) == 0:
        raise InvalidInput("forecast, p10 and p90 must be non-empty and of equal length", field="forecast")

    lead = terms.lead_time_days
    z = NormalDist().inv_cdf(service_level)
    mu_l, sigma_l, beyond_l = demand_over(forecast, p10, p90, 0, lead)
    cover, _, beyond_c = demand_over(forecast, p10, p90, lead, cover_days)
    safety = z * sigma_l
    rop = mu_l + safety
    position = on_hand + on_order - backordered
    order_up_to = rop + cover
    reorder = position <= rop

    why = [
        f"Expected demand over the {lead}-day lead time from {terms.supplier}: {mu_l:.1f} units "
        f"(sum of the daily forecasts).",
        f"Uncertainty of that demand: sigma {sigma_l:.1f} units, from the daily p10-p90 forecast bands "
        "(read as normal, days independent).",
        f"Safety stock = z({service_level:.0%}) {z:.3f} x {sigma_l:.1f} = {safety:.1f} units.",
        f"Reorder point = {mu_l:.1f} + {safety:.1f} = {rop:.1f} units.",
    ]
    if beyond_l or beyond_c:
        why.append(f"The forecast covers {len(forecast)} days; later days repeat its last week's average.")
    stock = f"on hand {on_hand:g}" + (f" + on order {on_order:g}" if on_order else "") + (
        f" - backordered {backordered:g}" if backordered else "")
    if not reorder:
        why.append(f"Inventory position {position:g} ({stock}) is above the reorder point {rop:.1f}: no order now.")
        return ReorderSuggestion(sku, terms.supplier, False, 0, position, mu_l, sigma_l, safety, rop, order_up_to,
                                 service_level, lead, why)

    needed = order_up_to - position
    why.append(f"Inventory position {position:g} ({stock}) is at or below the reorder point {rop:.1f}: reorder.")
    why.append(f"Order up to {rop:.1f} + {cover:.1f} (forecast demand over {cover_days} days of cover after "
               f"arrival) = {order_up_to:.1f} units, so {needed:.1f} units are needed.")
    quantity, notes = _round_order(needed, terms)
    why.extend(notes)
    why.append(f"Suggested order: {quantity} units of {sku} from {terms.supplier}.")
    return ReorderSuggestion(sku, terms.supplier, True, quantity, position, mu_l, sigma_l, safety, rop, order_up_to,
                             service_level, lead, why)


def draft_purchase_orders(suggestions: Sequence[ReorderSuggestion]) -> list[DraftPurchaseOrder]:
    """Group the suggestions that call for an order into one draft per supplier."""
    by_supplier: dict[str, list[ReorderSuggestion]] = {}
    for suggestion in suggestions:
        if suggestion.reorder and suggestion.order_quantity > 0:
            by_supplier.setdefault(suggestion.supplier, []).append(suggestion)
    return [DraftPurchaseOrder(supplier, sorted(lines, key=lambda s: s.sku))
            for supplier, lines in sorted(by_supplier.items())]
