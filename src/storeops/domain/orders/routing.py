"""Which fulfillment center(s) ship an order: rules first, then the cheapest feasible plan.

`route_order` applies the shop's routing rules (force / exclude / prefer an FC when the
order's country, state, tags or shipping method match), then finds the assignment of lines
to FCs with the lowest cost: carrier charges by zone and weight for each shipment, plus the
cost of splitting (an extra package, and a penalty a merchant tunes for the customer's
experience of two boxes). Stock is a plain {(fc_id, sku): units available}; reserving it
(available-to-promise) is the caller's job, before and after this decision.

The exact search (routing_search) is the main path; CP-SAT (routing_cpsat) takes over when
an order is too big for it (many FCs, many lines or line splits over large quantities).
`closest_fc_with_everything` is the usual rule of thumb, kept as the baseline the
benchmark compares against; its plan is also offered to the optimizer as a starting bound.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from storeops.domain.orders.error_codes import RoutingErrorCode
from storeops.domain.orders.facts import Line, OrderFacts
from storeops.domain.orders.routing_search import (
    Allocation,
    Problem,
    SearchTooLarge,
    evaluate,
    line_options,
    search_size,
    shipment_cents,
    solve_exact,
)
from storeops.domain.orders.shipping_rates import (
    DEFAULT_RATES,
    RateCard,
    from_cents,
    haversine_miles,
    to_cents,
    zone_for_miles,
)
from storeops.domain.orders.zip_data import zip_location

Stock = Mapping[tuple[str, str], int]
EXACT_SEARCH_LIMIT = 20_000  # leaves before pruning; above it the MIP is faster than Python


@dataclass(frozen=True, slots=True)
class FulfillmentCenter:
    id: str
    name: str = ""
    lat: float = 0.0
    lon: float = 0.0
    country: str = "US"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FulfillmentCenter:
        return cls(id=str(data["id"]), name=str(data.get("name", "")), lat=float(data["lat"]),
                   lon=float(data["lon"]), country=str(data.get("country", "US")))


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """`when` fields are ANDed; each lists alternatives (any matches). Empty means "any".

    action: force (only these FCs may ship), exclude (these FCs may not), prefer (a shipment
    from these FCs counts `credit` cheaper, so they win ties and near-ties). The first
    matching force rule wins. A force rule whose FCs cannot ship the order makes the order
    unroutable (a person decides) unless `fallback` lets the optimizer use the other FCs.
    """

    name: str
    action: str
    fc_ids: tuple[str, ...]
    countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    service_levels: tuple[str, ...] = ()
    shipping_methods: tuple[str, ...] = ()  # case-insensitive substrings of the shipping line title
    credit: Decimal = Decimal("1.00")
    fallback: bool = False
    version: str = "1"

    def __post_init__(self) -> None:
        if self.action not in {"force", "exclude", "prefer"}:
            raise ValueError(f"unknown routing rule action {self.action!r}")

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def matches(self, order: OrderFacts) -> bool:
        address = order.shipping_address
        tags = {t.strip().lower() for t in order.tags}
        method = order.shipping_method.lower()
        return (
            (not self.countries or address.country_code.upper() in {c.upper() for c in self.countries})
            and (not self.states or address.province_code.upper() in {s.upper() for s in self.states})
            and (not self.tags or bool(tags & {t.lower() for t in self.tags}))
            and (not self.service_levels or order.service_level in self.service_levels)
            and (not self.shipping_methods or any(m.lower() in method for m in self.shipping_methods))
        )


@dataclass(frozen=True, slots=True)
class Shipment:
    fc_id: str
    lines: tuple[Line, ...]
    zone: int
    grams: int
    cost: Decimal
    service: str = "standard"  # the carrier service it goes by (RateCard.service_for)


@dataclass(frozen=True, slots=True)
class Alternative:
    fc_ids: tuple[str, ...]
    cost: Decimal | None  # None: this plan cannot ship the order
    objective: Decimal | None
    split: bool
    note: str = ""


@dataclass(frozen=True)
class RoutingDecision:
    ok: bool
    assignments: dict[str, list[Line]]
    cost: Decimal  # money: carrier charges + extra packages
    split: bool
    reason: str
    considered: list[Alternative] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    penalty: Decimal = Decimal("0")  # split penalty (not money) included in the objective
    # What was minimized: cost + split penalty + stockout penalties - preference credits.
    objective: Decimal = Decimal("0")
    rules_fired: list[str] = field(default_factory=list)
    solver: str = ""
    rate_card: str = ""  # RateCard.name: which cost model decided (for the decision record)
    error: RoutingErrorCode | None = None
    shortages: dict[str, int] = field(default_factory=dict)

    @property
    def shipment_count(self) -> int:
        return len(self.assignments)


def destination_of(order: OrderFacts) -> tuple[float, float] | None:
    if order.destination is not None:
        return order.destination
    if order.shipping_address.country_code.upper() in {"US", "PR", "GU", "VI", "AS", "MP"}:
        return zip_location(order.shipping_address.zip)
    return None


def _zones(destination: tuple[float, float] | None, fcs: Sequence[FulfillmentCenter]) -> tuple[list[int], list[float]]:
    if destination is None:  # no position: every FC is "far"; stock and splits still decide
        return [8] * len(fcs), [0.0] * len(fcs)
    miles = [haversine_miles((fc.lat, fc.lon), destination) for fc in fcs]
    return [zone_for_miles(m) for m in miles], miles


def build_problem(
    order: OrderFacts, fcs: Sequence[FulfillmentCenter], stock: Stock, rates: RateCard, *,
    credits: Mapping[str, Decimal] | None = None, allow_line_split: bool = False,
    destination: tuple[float, float] | None = None,
) -> tuple[Problem, list[int], list[float]]:
    """The problem in cents, with each FC's zone and distance in miles to the destination.
    Each FC is priced at the cheapest service that keeps the order's delivery promise from there."""
    zones, miles = _zones(destination if destination is not None else destination_of(order), fcs)
    prices = [rates.cents_for(rates.service_for(zone, order.service_level)) for zone in zones]
    skus = list(dict.fromkeys(line.sku for line in order.lines))
    credits = credits or {}
    problem = Problem(
        fc_ids=tuple(fc.id for fc in fcs),
        quantities=tuple(line.quantity for line in order.lines),
        grams=tuple(max(0, line.grams) for line in order.lines),
        line_sku=tuple(skus.index(line.sku) for line in order.lines),
        sku_stock=tuple(tuple(max(0, int(stock.get((fc.id, sku), 0))) for fc in fcs) for sku in skus),
        base=tuple(price[0][z - 1] for price, z in zip(prices, zones, strict=True)),
        per_lb=tuple(price[1][z - 1] for price, z in zip(prices, zones, strict=True)),
        credit=tuple(to_cents(credits.get(fc.id, Decimal("0"))) for fc in fcs),
        split_cost=to_cents(rates.extra_package_cost + rates.split_penalty),
        tare=rates.tare_grams,
        allow_line_split=allow_line_split,
        stockout_cost=to_cents(rates.stockout_penalty),
    )
    return problem, zones, miles


def _decision(
    order: OrderFacts, p: Problem, zones: list[int], rates: RateCard, allocation: Allocation, *,
    solver: str, reason: str, rules_fired: list[str], considered: list[Alternative] | None = None,
) -> RoutingDecision:
    by_fc: dict[int, list[Line]] = {}
    for line, pieces in zip(order.lines, allocation, strict=True):
        for fc, qty in pieces:
            by_fc.setdefault(fc, []).append(line if qty == line.quantity else replace(line, quantity=qty))
    shipments = []
    for fc in sorted(by_fc, key=lambda i: p.fc_ids[i]):
        grams = sum(line.quantity * max(0, line.grams) for line in by_fc[fc])
        shipments.append(Shipment(p.fc_ids[fc], tuple(by_fc[fc]), zones[fc], grams,
                                  from_cents(shipment_cents(p, fc, grams)),
                                  rates.service_for(zones[fc], order.service_level)))
    extra = len(shipments) - 1
    cost = sum((s.cost for s in shipments), Decimal("0")) + rates.extra_package_cost * extra
    penalty = rates.split_penalty * extra
    objective = evaluate(p, allocation)
    return RoutingDecision(
        ok=True, assignments={s.fc_id: list(s.lines) for s in shipments}, cost=cost, split=extra > 0,
        reason=reason, considered=considered or [], shipments=shipments, penalty=penalty,
        objective=from_cents(objective) if objective is not None else cost + penalty,
        rules_fired=rules_fired, solver=solver, rate_card=rates.name,
    )


def _failure(code: RoutingErrorCode, reason: str, rules_fired: list[str], shortages: dict[str, int] | None = None,
             considered: list[Alternative] | None = None) -> RoutingDecision:
    return RoutingDecision(ok=False, assignments={}, cost=Decimal("0"), split=False, reason=reason,
                           considered=considered or [], rules_fired=rules_fired, solver="none", error=code,
                           shortages=shortages or {})


def _shortages(order: OrderFacts, fcs: Sequence[FulfillmentCenter], stock: Stock) -> dict[str, int]:
    wanted: dict[str, int] = {}
    for line in order.lines:
        wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
    have = {sku: sum(max(0, int(stock.get((fc.id, sku), 0))) for fc in fcs) for sku in wanted}
    return {sku: qty - have[sku] for sku, qty in wanted.items() if qty > have[sku]}


def _single_fc_alternatives(p: Problem, order: OrderFacts) -> list[Alternative]:
    out = []
    for fc, fc_id in enumerate(p.fc_ids):
        allocation = tuple(((fc, q),) for q in p.quantities)
        objective = evaluate(p, allocation)
        if objective is None:
            missing = sorted({order.lines[i].sku for i in range(p.line_count)
                              if p.sku_stock[p.line_sku[i]][fc] < p.quantities[i]})
            out.append(Alternative((fc_id,), None, None, False, f"lacks {', '.join(missing)}"))
        else:
            grams = sum(q * g for q, g in zip(p.quantities, p.grams, strict=True))
            out.append(Alternative((fc_id,), from_cents(shipment_cents(p, fc, grams)),
                                   from_cents(objective), False))
    return out


def _baseline_allocation(order: OrderFacts, p: Problem, miles: list[float]) -> Allocation | None:
    """Closest FC with every line in full; else each line from the closest FC that has it in
    full (else filled from the closest FCs in turn)."""
    by_distance = sorted(range(len(p.fc_ids)), key=lambda fc: (miles[fc], p.fc_ids[fc]))
    for fc in by_distance:
        single = tuple(((fc, q),) for q in p.quantities)
        if evaluate(p, single) is not None:
            return single
    remaining = [list(row) for row in p.sku_stock]
    allocation: list[tuple[tuple[int, int], ...]] = []
    for line, quantity in enumerate(p.quantities):
        row = remaining[p.line_sku[line]]
        whole = next((fc for fc in by_distance if row[fc] >= quantity), None)
        if whole is not None:
            row[whole] -= quantity
            allocation.append(((whole, quantity),))
            continue
        pieces, needed = [], quantity
        for fc in by_distance:
            take = min(needed, row[fc])
            if take:
                row[fc] -= take
                pieces.append((fc, take))
                needed -= take
        if needed:
            return None
        allocation.append(tuple(pieces))
    return tuple(allocation)


def closest_fc_with_everything(
    order: OrderFacts, fcs: Sequence[FulfillmentCenter], stock: Stock, rates: RateCard = DEFAULT_RATES
) -> RoutingDecision:
    """The rule of thumb storeops is measured against (see `storeops bench routing`): it also
    ships every order by the service it was bought with, as a hand-written integration does."""
    rates = replace(rates, promise_aware=False)
    p, zones, miles = build_problem(order, fcs, stock, rates, allow_line_split=True)
    allocation = _baseline_allocation(order, p, miles)
    if allocation is None:
        return _failure(RoutingErrorCode.INSUFFICIENT_STOCK, "not enough stock in all FCs together", [],
                        _shortages(order, fcs, stock))
    return _decision(order, p, zones, rates, allocation, solver="baseline",
                     reason="closest FC with everything, else closest FC per line", rules_fired=[])


def _apply_rules(
    order: OrderFacts, fcs: Sequence[FulfillmentCenter], rules: Sequence[RoutingRule]
) -> tuple[list[FulfillmentCenter], list[FulfillmentCenter] | None, dict[str, Decimal], list[str], RoutingRule | None]:
    """(candidates, fallback candidates or None, credits, rules fired, the force rule that applied)."""
    candidates, fallback = list(fcs), None
    credits: dict[str, Decimal] = {}
    fired: list[str] = []
    forced: RoutingRule | None = None
    for rule in rules:
        if not rule.matches(order):
            continue
        if rule.action == "force":
            if forced is not None:
                continue
            forced = rule
            fallback = [fc for fc in candidates if fc.id not in rule.fc_ids] if rule.fallback else None
            candidates = [fc for fc in candidates if fc.id in rule.fc_ids]
        elif rule.action == "exclude":
            candidates = [fc for fc in candidates if fc.id not in rule.fc_ids]
            fallback = [fc for fc in fallback if fc.id not in rule.fc_ids] if fallback is not None else None
        else:
            for fc_id in rule.fc_ids:
                credits[fc_id] = credits.get(fc_id, Decimal("0")) + rule.credit
        fired.append(rule.label)
    if fallback is not None:
        fallback = candidates + fallback
    return candidates, fallback, credits, fired, forced


def _solve(p: Problem) -> tuple[int, Allocation, str] | None:
    options = [line_options(p, line) for line in range(p.line_count)]
    if any(not o for o in options):
        return None
    if search_size(options) <= EXACT_SEARCH_LIMIT:
        try:
            found = solve_exact(p)
        except SearchTooLarge:
            found = None
        else:
            return None if found is None else (found[0], found[1], "exact")
    # Imported here: OR-Tools (with pandas) takes over a second to import, and most orders never need it.
    from storeops.domain.orders.routing_cpsat import solve_cpsat

    mip = solve_cpsat(p)
    if mip is None:
        return None
    return mip[0], mip[1], "cp-sat" if mip[2] else "cp-sat (time limit, best found)"


def _emptied(p: Problem, order: OrderFacts, fc: int) -> list[str]:
    """SKUs an FC would have none left of after shipping this whole order."""
    wanted: dict[int, int] = {}
    for line, qty in enumerate(p.quantities):
        wanted[p.line_sku[line]] = wanted.get(p.line_sku[line], 0) + qty
    skus = {p.line_sku[line]: order.lines[line].sku for line in range(p.line_count)}
    return sorted(skus[sku] for sku, qty in wanted.items() if p.sku_stock[sku][fc] == qty)


def _explain(decision: RoutingDecision, singles: list[Alternative], destination_known: bool, p: Problem,
             order: OrderFacts) -> str:
    shipments = decision.shipments
    where = "; ".join(f"FC {s.fc_id} zone {s.zone} {s.service} ${s.cost}" for s in shipments)
    feasible = [a for a in singles if a.cost is not None]
    if not decision.split:
        text = f"one shipment from {where}"
        if len(feasible) > 1:
            text += f", best of {len(feasible)} FCs that have everything"
        cheapest = min(feasible, key=lambda a: a.cost or Decimal("0"), default=None)
        if cheapest is not None and cheapest.cost is not None and cheapest.cost < decision.cost:
            fc = p.fc_ids.index(cheapest.fc_ids[0])
            last = _emptied(p, order, fc)
            why = f"would ship its last {', '.join(last)}" if last else "a routing rule prefers the chosen FC"
            text += f"; FC {cheapest.fc_ids[0]} is ${decision.cost - cheapest.cost} cheaper but {why}"
    elif not feasible:
        text = f"split into {len(shipments)} shipments ({where}): no single FC has everything"
    else:
        best = min(feasible, key=lambda a: a.objective or Decimal("0"))
        saving = (best.objective or Decimal("0")) - decision.objective
        text = (f"split into {len(shipments)} shipments ({where}): ${saving} cheaper than all from"
                f" FC {best.fc_ids[0]}, penalties included")
    upgraded = sorted({s.service for s in shipments if s.service != order.service_level})
    if upgraded:
        text += f"; {order.service_level} promise kept by {', '.join(upgraded)} from the chosen FC"
    if not destination_known:
        text += " (destination position unknown: every FC treated as zone 8)"
    return text


def route_order(
    order: OrderFacts,
    fcs: Sequence[FulfillmentCenter],
    stock: Stock,
    rates: RateCard = DEFAULT_RATES,
    rules: Sequence[RoutingRule] = (),
    *,
    allow_line_split: bool = False,
) -> RoutingDecision:
    """The cheapest plan that ships the whole order, after the shop's routing rules."""
    if not order.lines or any(line.quantity <= 0 for line in order.lines):
        return _failure(RoutingErrorCode.INVALID_ORDER, "an order needs lines with positive quantities", [])
    candidates, fallback, credits, fired, forced = _apply_rules(order, fcs, rules)
    if not candidates:
        return _failure(RoutingErrorCode.NO_ELIGIBLE_FC, "routing rules leave no FC to ship from", fired)
    pools = [candidates] + ([fallback] if fallback else [])
    destination = destination_of(order)
    for pool in pools:
        p, zones, miles = build_problem(order, pool, stock, rates, credits=credits, allow_line_split=allow_line_split,
                                        destination=destination)
        solved = _solve(p)
        if solved is None:
            continue
        objective, allocation, solver = solved
        baseline = _baseline_allocation(order, p, miles)
        # The rule of thumb's plan is a valid answer too; never return anything worse than it.
        if baseline is not None and (value := evaluate(p, baseline)) is not None and value < objective:
            allocation, solver = baseline, f"{solver}+baseline"
        singles = _single_fc_alternatives(p, order)
        decision = _decision(order, p, zones, rates, allocation, solver=solver, reason="", rules_fired=fired,
                             considered=singles)
        considered = singles + ([Alternative(tuple(decision.assignments), decision.cost, decision.objective, True,
                                             "chosen")] if decision.split else [])
        reason = _explain(decision, singles, destination is not None, p, order)
        if pool is not candidates:
            reason += f" (forced FCs {', '.join(forced.fc_ids) if forced else ''} lacked stock; fallback used)"
        return replace(decision, reason=reason, considered=considered)
    if forced is not None and not forced.fallback and not _shortages(order, fcs, stock):
        return _failure(RoutingErrorCode.FORCED_FC_LACKS_STOCK,
                        f"rule {forced.label} forces FC {', '.join(forced.fc_ids)}, which cannot ship the order",
                        fired, _shortages(order, candidates, stock))
    shortages = _shortages(order, pools[-1], stock)
    reason = ("not enough stock in the eligible FCs" if shortages
              else "no FC holds a whole line and line splits are not allowed")
    return _failure(RoutingErrorCode.INSUFFICIENT_STOCK, reason, fired, shortages)
