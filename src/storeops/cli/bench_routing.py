"""storeops bench routing: storeops' order router against "closest FC that has everything".

A simulated order stream over the three sandbox fulfillment centers and the sandbox catalog
with its per-FC stock. Both routers see the same orders in the same sequence, each with its
own copy of the stock, which depletes as orders ship and is restocked to its starting level
every `RESTOCK_EVERY` orders (a weekly inbound receipt, roughly), so the run neither stocks
out nor ignores stock. Only storeops' decisions are timed.

The mix (all drawn from one seeded RNG, so a run is reproducible):
- destination: a US state drawn by 2020 Census resident population, then a ZIP drawn
  uniformly among that state's active standard ZIPs with a position in the `zipcodes` data;
- 1-4 lines, of distinct variants drawn by a Zipf-like popularity (a few bestsellers, a long
  tail), only variants with units left somewhere (a storefront does not sell what it lacks);
- quantities mostly 1; service levels 80% standard, 15% express, 5% overnight.
Costs come from `shipping_rates.DEFAULT_RATES` (returned in the result): the saving is
what this rate model says, not a carrier quote.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any

import typer

from storeops.cli.common import emit_json
from storeops.domain.orders import (
    DEFAULT_RATES,
    Address,
    FulfillmentCenter,
    Line,
    OrderFacts,
    closest_fc_with_everything,
    route_order,
)
from storeops.domain.orders.shipping_rates import haversine_miles, zone_for_miles
from storeops.domain.orders.zip_data import zip_location, zip_table
from storeops.sandbox.catalog import fulfillment_centers, products

RESTOCK_EVERY = 500
LINES_MIX = {1: 0.55, 2: 0.25, 3: 0.12, 4: 0.08}
QUANTITY_MIX = {1: 0.85, 2: 0.10, 3: 0.04, 4: 0.01}
SERVICE_MIX = {"standard": 0.80, "express": 0.15, "overnight": 0.05}
ZIPF_EXPONENT = 0.9
# US Census Bureau, 2020 Census resident population (P1), by state and DC.
STATE_POPULATION_2020 = {
    "AL": 5024279, "AK": 733391, "AZ": 7151502, "AR": 3011524, "CA": 39538223, "CO": 5773714, "CT": 3605944,
    "DE": 989948, "DC": 689545, "FL": 21538187, "GA": 10711908, "HI": 1455271, "ID": 1839106, "IL": 12812508,
    "IN": 6785528, "IA": 3190369, "KS": 2937880, "KY": 4505836, "LA": 4657757, "ME": 1362359, "MD": 6177224,
    "MA": 7029917, "MI": 10077331, "MN": 5706494, "MS": 2961279, "MO": 6154913, "MT": 1084225, "NE": 1961504,
    "NV": 3104614, "NH": 1377529, "NJ": 9288994, "NM": 2117522, "NY": 20201249, "NC": 10439388, "ND": 779094,
    "OH": 11799448, "OK": 3959353, "OR": 4237256, "PA": 13002700, "RI": 1097379, "SC": 5118425, "SD": 886667,
    "TN": 6910840, "TX": 29145505, "UT": 3271616, "VT": 643077, "VA": 8631393, "WA": 7705281, "WV": 1793716,
    "WI": 5893718, "WY": 576851,
}


def _pick(rng: random.Random, mix: dict[Any, float]) -> Any:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class _Mix:
    """Draws destinations and baskets; holds the catalog's variants and starting stock."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fcs = [FulfillmentCenter.from_dict(fc) for fc in fulfillment_centers()]
        self.start_stock: dict[tuple[str, str], int] = {}
        self.variants: list[tuple[str, int, Decimal]] = []
        for product in products():
            for variant in product["variants"]:
                units = {str(fc): int(n) for fc, n in variant["stock"].items()}
                if sum(units.values()) <= 0:
                    continue  # never sellable in this catalog
                self.variants.append((variant["sku"], int(variant["weight_grams"]), Decimal(variant["price"])))
                for fc, n in units.items():
                    self.start_stock[(fc, variant["sku"])] = n
        rng.shuffle(self.variants)  # popularity rank is independent of catalog order
        self.popularity = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(self.variants))]
        zips: dict[str, list[tuple[str, str]]] = {}
        for info in zip_table().values():
            if info.kind == "STANDARD" and info.active and info.lat is not None and info.state in STATE_POPULATION_2020:
                zips.setdefault(info.state, []).append((info.zip, info.city))
        self.zips = {state: sorted(rows) for state, rows in zips.items()}
        self.states = sorted(self.zips)
        self.state_weights = [STATE_POPULATION_2020[s] for s in self.states]

    def address(self) -> Address:
        state = self.rng.choices(self.states, weights=self.state_weights)[0]
        zip_code, city = self.rng.choice(self.zips[state])
        return Address(address1="1 Main St", city=city, province_code=state, zip=zip_code, country_code="US")

    def order(self, number: int, stock: dict[tuple[str, str], int]) -> OrderFacts:
        wanted = _pick(self.rng, LINES_MIX)
        lines: list[Line] = []
        seen: set[str] = set()
        for _ in range(wanted * 20):
            if len(lines) == wanted:
                break
            sku, grams, price = self.variants[self.rng.choices(range(len(self.variants)), self.popularity)[0]]
            quantity = _pick(self.rng, QUANTITY_MIX)
            if sku in seen or sum(stock.get((fc.id, sku), 0) for fc in self.fcs) < quantity:
                continue
            seen.add(sku)
            lines.append(Line(sku=sku, quantity=quantity, grams=grams, unit_price=price, line_id=f"{number}-{sku}"))
        total = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
        return OrderFacts(order_id=str(number), lines=tuple(lines), shipping_address=self.address(), total=total,
                          service_level=_pick(self.rng, SERVICE_MIX))


def _unconstrained_cost(order: OrderFacts, fcs: list[FulfillmentCenter]) -> Decimal:
    """Everything in one box from the closest FC, as if it had unlimited stock: no router can do
    better under this rate model (the lowest zone, one base charge, no extra package)."""
    destination = zip_location(order.shipping_address.zip)
    assert destination is not None
    miles = min(haversine_miles((fc.lat, fc.lon), destination) for fc in fcs)
    grams = sum(line.grams * line.quantity for line in order.lines)
    return DEFAULT_RATES.shipment_cost(zone_for_miles(miles), order.service_level, grams)


def _ship(stock: dict[tuple[str, str], int], assignments: dict[str, list[Line]]) -> None:
    for fc_id, lines in assignments.items():
        for line in lines:
            stock[(fc_id, line.sku)] -= line.quantity


def _summary(costs: list[Decimal], splits: int, shipments: int, unroutable: int, orders: int) -> dict[str, Any]:
    total = sum(costs, Decimal("0"))
    return {
        "total_cost": str(total),
        "cost_per_order": str((total / max(1, len(costs))).quantize(Decimal("0.0001"))),
        "split_orders": splits,
        "split_rate": round(splits / max(1, orders), 4),
        "shipments": shipments,
        "shipments_per_order": round(shipments / max(1, orders), 4),
        "unroutable": unroutable,
    }


def run_routing_bench(orders: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    mix = _Mix(rng)
    ours_stock, base_stock, plain_stock = dict(mix.start_stock), dict(mix.start_stock), dict(mix.start_stock)
    # storeops' router again with every order shipped by the service it was bought with: what
    # the optimizer alone saves, apart from keeping delivery promises with cheaper services.
    plain_rates = replace(DEFAULT_RATES, promise_aware=False)
    plain_costs: list[Decimal] = []
    plain_split = 0
    services: Counter[str] = Counter()
    # Warm-up outside the timings: the ZIP index and first-call costs are paid once per process.
    started = time.perf_counter()
    warm = mix.order(0, ours_stock)
    route_order(warm, mix.fcs, ours_stock, allow_line_split=True)
    cold_ms = (time.perf_counter() - started) * 1000
    ours_costs: list[Decimal] = []
    base_costs: list[Decimal] = []
    ours_split = base_split = ours_shipments = base_shipments = ours_failed = base_failed = 0
    differ = 0
    timings: list[float] = []
    cpu_timings: list[float] = []
    floor = Decimal("0")
    solvers: Counter[str] = Counter()
    by_level: dict[str, list[Decimal]] = {level: [Decimal("0"), Decimal("0")] for level in SERVICE_MIX}
    # (ours, baseline) cost on the orders the baseline had to split vs could ship whole.
    by_baseline_shape: dict[str, list[Decimal]] = {"split": [Decimal("0"), Decimal("0")],
                                                   "whole": [Decimal("0"), Decimal("0")]}
    for number in range(1, orders + 1):
        if number % RESTOCK_EVERY == 0:
            ours_stock, base_stock, plain_stock = dict(mix.start_stock), dict(mix.start_stock), dict(mix.start_stock)
        order = mix.order(number, ours_stock)
        if not order.lines:
            continue
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        ours = route_order(order, mix.fcs, ours_stock, allow_line_split=True)
        timings.append((time.perf_counter_ns() - t0) / 1e6)
        cpu_timings.append((time.thread_time_ns() - c0) / 1e6)
        floor += _unconstrained_cost(order, mix.fcs)
        base = closest_fc_with_everything(order, mix.fcs, base_stock)
        plain = route_order(order, mix.fcs, plain_stock, plain_rates, allow_line_split=True)
        plain_split += plain.ok and plain.split
        services.update(f"{order.service_level}->{s.service}" for s in ours.shipments)
        for decision, stock, costs in ((ours, ours_stock, ours_costs), (base, base_stock, base_costs),
                                       (plain, plain_stock, plain_costs)):
            if decision.ok:
                _ship(stock, decision.assignments)
                costs.append(decision.cost)
        ours_failed += not ours.ok
        base_failed += not base.ok
        if ours.ok:
            ours_split += ours.split
            ours_shipments += ours.shipment_count
            solvers[ours.solver] += 1
            by_level[order.service_level][0] += ours.cost
        if base.ok:
            base_split += base.split
            base_shipments += base.shipment_count
            by_level[order.service_level][1] += base.cost
        differ += ours.ok and base.ok and ours.assignments != base.assignments
        if ours.ok and base.ok:
            shape = by_baseline_shape["split" if base.split else "whole"]
            shape[0] += ours.cost
            shape[1] += base.cost
    ours_summary = _summary(ours_costs, ours_split, ours_shipments, ours_failed, orders)
    base_summary = _summary(base_costs, base_split, base_shipments, base_failed, orders)
    ours_total, base_total = sum(ours_costs, Decimal("0")), sum(base_costs, Decimal("0"))
    plain_total = sum(plain_costs, Decimal("0"))
    reduction = float((base_total - ours_total) / base_total * 100) if base_total else 0.0
    p99 = _percentile(timings, 0.99)
    cpu_p99 = _percentile(cpu_timings, 0.99)

    def pct(saved: Decimal, of: Decimal) -> float:
        return round(float(saved / of * 100), 2) if of else 0.0

    split_ours, split_base = by_baseline_shape["split"]
    whole_ours, whole_base = by_baseline_shape["whole"]
    analysis = {
        "baseline_split_orders_share_of_baseline_cost_pct": pct(split_base, base_total),
        "cost_reduction_pct_on_orders_baseline_split": pct(split_base - split_ours, split_base),
        "cost_reduction_pct_on_orders_baseline_shipped_whole": pct(whole_base - whole_ours, whole_base),
        "cost_reduction_pct_optimizer_only": pct(base_total - plain_total, base_total),
        "split_orders_optimizer_only": plain_split,
        "shipments_by_service_sold_and_used": dict(sorted(services.items())),
        "why": (
            "Carrier price here depends only on zone, weight and service, the same from every FC, so the"
            " closest FC that has everything is already the cheapest one-box plan at the service sold:"
            " the optimizer alone saves on orders no FC can ship whole (fewer, nearer boxes) and, through"
            " the stockout penalty, keeps stock spread so later orders split less. The rest comes from"
            " keeping each order's delivery promise with the cheapest service that meets it from the FC"
            " chosen (an express order 100 miles from its FC arrives next day by ground). Most of the gap"
            " to the floor is where the stock is (a third of the SKUs sit in one FC only), which no"
            " per-order routing can change; a bid-price (expected future value of stock) variant was"
            " tried and cost more, with more splits, on this mix."
        ),
    }
    met_cost, met_splits = reduction >= 10, ours_split <= base_split
    ours_summary["decision_ms"] = {
        "p50": round(_percentile(timings, 0.50), 3), "p99": round(p99, 3), "max": round(max(timings, default=0), 3),
        "mean": round(statistics.fmean(timings), 3) if timings else 0.0, "cold_first_call": round(cold_ms, 1),
        # CPU time of the deciding thread: the decision's own cost, without time lost to other
        # processes on a shared machine (wall time above includes that).
        "cpu_p50": round(_percentile(cpu_timings, 0.50), 3), "cpu_p99": round(cpu_p99, 3),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    ours_summary["solvers"] = dict(solvers)
    return {
        "bench": "routing",
        "orders": orders,
        "seed": seed,
        "fulfillment_centers": [f"{fc.id}: {fc.name}" for fc in mix.fcs],
        "storeops": ours_summary,
        "baseline_closest_fc_with_everything": base_summary,
        "cost_reduction_pct": round(reduction, 2),
        "orders_routed_differently": differ,
        # Every order whole from its closest FC as if that FC stocked everything: a floor no router
        # can reach, since the gap to it comes from where the stock is, not from routing.
        "floor_cost_if_closest_fc_had_everything": str(floor),
        "reduction_pct_if_closest_fc_had_everything": round(float((base_total - floor) / base_total * 100), 2)
        if base_total else 0.0,
        "cost_reduction_pct_by_service_level": {
            level: round(float((b - o) / b * 100), 2) if b else 0.0 for level, (o, b) in by_level.items()
        },
        "analysis": analysis,
        "goal": {
            "cost_reduction_pct_at_least": 10, "met_cost": met_cost,
            "split_orders_at_most_baseline": True, "met_splits": met_splits,
            "p99_ms_at_most": 5, "met_p99_wall": p99 <= 5, "met_p99_cpu": cpu_p99 <= 5,
            "met": met_cost and met_splits and p99 <= 5,
        },
        "assumptions": {
            "cost": "carrier charge per shipment + extra_package_cost per extra shipment (money);"
                    " split_penalty and stockout_penalty steer storeops' choice but are not counted in cost",
            "rates": DEFAULT_RATES.as_dict(),
            "baseline_service": "the service each order was bought with (no promise-aware choice)",
            "line_splits": "allowed for both (the baseline fills a line from the closest FCs when none has it all)",
            "restock_every_orders": RESTOCK_EVERY,
            "lines_mix": LINES_MIX, "quantity_mix": QUANTITY_MIX, "service_mix": SERVICE_MIX,
            "popularity": f"Zipf-like, weight 1/rank^{ZIPF_EXPONENT} over {len(mix.variants)} sellable variants",
            "destinations": "state by 2020 Census population, then a uniform active standard ZIP in the state",
            "timing": "wall time of route_order only, one process, after one warm-up call",
        },
    }


def routing(
    count: Annotated[int, typer.Option(help="orders to simulate")] = 10_000,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same orders)")] = 1,
    json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = True,
) -> None:
    """Shipping cost, split rate and decision time of storeops' routing vs closest-FC-with-everything."""
    result = run_routing_bench(count, seed)
    if json:
        emit_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
