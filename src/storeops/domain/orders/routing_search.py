"""The routing problem in integer cents, its objective, and the exact search that solves it.

A `Problem` is one order's lines, the candidate fulfillment centers (already filtered by
rules) and, per FC, what a shipment from there costs to this destination at this service
level. An `Allocation` gives, for every line, the (FC index, quantity) pieces it ships in.

The exact search is a depth-first branch and bound over lines: each line goes whole to one
FC that still has the units (stock is shared between lines of the same SKU, so it is taken
as the search goes down and given back on the way up), or, when splitting a line is
allowed, in every distribution of its quantity over two or more FCs. The partial cost only
grows as lines are added (minus any preference credit not yet earned), so a branch whose
partial cost is not below the best complete answer is cut. With three FCs and a handful of
lines this visits a few dozen nodes; `SearchTooLarge` hands bigger problems to CP-SAT.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from storeops.domain.orders.shipping_rates import billable_pounds

Piece = tuple[int, int]  # (fc index, quantity)
Allocation = tuple[tuple[Piece, ...], ...]  # per line, in Problem.line order


class SearchTooLarge(Exception):
    """The exact search would visit more nodes than its budget: use the MIP solver."""


@dataclass(frozen=True, slots=True)
class Problem:
    fc_ids: tuple[str, ...]
    quantities: tuple[int, ...]  # per line
    grams: tuple[int, ...]  # per unit, per line
    line_sku: tuple[int, ...]  # per line: index into sku_stock
    sku_stock: tuple[tuple[int, ...], ...]  # [sku][fc] units available
    base: tuple[int, ...]  # per FC: cents for a shipment, before weight
    per_lb: tuple[int, ...]  # per FC: cents per billable pound
    credit: tuple[int, ...]  # per FC: cents taken off the objective if the FC ships (prefer rules)
    split_cost: int  # cents per shipment beyond the first: extra package + split penalty
    tare: int  # grams of packaging per shipment
    allow_line_split: bool = False
    stockout_cost: int = 0  # cents per (SKU, FC) this order would leave with no units

    @property
    def line_count(self) -> int:
        return len(self.quantities)


def shipment_cents(p: Problem, fc: int, grams: int) -> int:
    return p.base[fc] + p.per_lb[fc] * billable_pounds(grams + p.tare)


def evaluate(p: Problem, allocation: Allocation) -> int | None:
    """Objective of a complete allocation in cents, or None if it breaks stock or quantities."""
    weight: dict[int, int] = {}
    taken: dict[tuple[int, int], int] = {}
    for line, pieces in enumerate(allocation):
        if sum(q for _, q in pieces) != p.quantities[line] or any(q <= 0 for _, q in pieces):
            return None
        if len(pieces) > 1 and not p.allow_line_split:
            return None
        for fc, qty in pieces:
            key = (p.line_sku[line], fc)
            taken[key] = taken.get(key, 0) + qty
            weight[fc] = weight.get(fc, 0) + qty * p.grams[line]
    if any(qty > p.sku_stock[sku][fc] for (sku, fc), qty in taken.items()):
        return None
    total = sum(shipment_cents(p, fc, grams) - p.credit[fc] for fc, grams in weight.items())
    total += p.stockout_cost * sum(1 for (sku, fc), qty in taken.items() if qty == p.sku_stock[sku][fc])
    return total + p.split_cost * (len(weight) - 1)


def _distributions(quantity: int, caps: Sequence[int], start: int = 0) -> Iterator[tuple[Piece, ...]]:
    """Every way to take `quantity` units from FCs start.. with at most caps[fc] from each."""
    if quantity == 0:
        yield ()
        return
    if start == len(caps):
        return
    for take in range(min(quantity, caps[start]), -1, -1):
        for rest in _distributions(quantity - take, caps, start + 1):
            yield (((start, take), *rest) if take else rest)


def line_options(p: Problem, line: int) -> list[tuple[Piece, ...]]:
    """The ways one line can ship, judged on starting stock: whole from one FC, or split."""
    quantity, stock = p.quantities[line], p.sku_stock[p.line_sku[line]]
    whole: list[tuple[Piece, ...]] = [((fc, quantity),) for fc in range(len(p.fc_ids)) if stock[fc] >= quantity]
    # Cheapest FC first, so the first complete answer is already good and cuts most branches.
    whole.sort(key=lambda pieces: p.base[pieces[0][0]] + p.per_lb[pieces[0][0]] - p.credit[pieces[0][0]])
    if not p.allow_line_split or quantity < 2:
        return whole
    split = [pieces for pieces in _distributions(quantity, stock) if len(pieces) > 1]
    return whole + split


def search_size(options: Sequence[Sequence[object]]) -> int:
    return math.prod(len(o) for o in options)


@dataclass(slots=True)
class _State:
    best: float
    best_allocation: list[tuple[Piece, ...]] | None
    nodes: int = 0


def solve_exact(
    p: Problem, *, upper_bound: tuple[int, Allocation] | None = None, node_budget: int = 50_000
) -> tuple[int, Allocation] | None:
    """The optimal (objective, allocation), or None when no allocation fits the stock."""
    options = [line_options(p, line) for line in range(p.line_count)]
    if any(not o for o in options):
        return None
    # Most constrained line first (fewest options), heavier first among equals.
    order = sorted(range(p.line_count), key=lambda i: (len(options[i]), -p.grams[i] * p.quantities[i]))
    fcs = len(p.fc_ids)
    remaining = [list(row) for row in p.sku_stock]
    weight = [0] * fcs
    users = [0] * fcs  # lines (pieces) currently shipping from each FC
    chosen: list[tuple[Piece, ...]] = [()] * p.line_count
    state = _State(best=math.inf if upper_bound is None else upper_bound[0] + 1, best_allocation=None)
    unearned_credit = sum(p.credit)

    def descend(depth: int, cost: int, shipments: int, credit_left: int) -> None:
        state.nodes += 1
        if state.nodes > node_budget:
            raise SearchTooLarge(f"more than {node_budget} nodes")
        if cost - credit_left >= state.best:
            return
        if depth == len(order):
            if cost < state.best:  # the bound above subtracts credits no longer reachable here
                state.best, state.best_allocation = cost, list(chosen)
            return
        line = order[depth]
        sku, unit_grams = p.line_sku[line], p.grams[line]
        for pieces in options[line]:
            if any(remaining[sku][fc] < qty for fc, qty in pieces):
                continue
            new_cost, new_shipments, new_credit_left = cost, shipments, credit_left
            for fc, qty in pieces:
                remaining[sku][fc] -= qty
                if remaining[sku][fc] == 0:
                    new_cost += p.stockout_cost
                old = weight[fc]
                weight[fc] = old + qty * unit_grams
                if users[fc] == 0:
                    new_cost += shipment_cents(p, fc, weight[fc]) - p.credit[fc]
                    new_cost += p.split_cost if new_shipments else 0
                    new_shipments += 1
                    new_credit_left -= p.credit[fc]
                else:
                    new_cost += p.per_lb[fc] * (billable_pounds(weight[fc] + p.tare) - billable_pounds(old + p.tare))
                users[fc] += 1
            chosen[line] = pieces
            descend(depth + 1, new_cost, new_shipments, new_credit_left)
            for fc, qty in pieces:
                remaining[sku][fc] += qty
                weight[fc] -= qty * unit_grams
                users[fc] -= 1

    descend(0, 0, 0, unearned_credit)
    if state.best_allocation is None:
        if upper_bound is not None:
            return upper_bound
        return None
    return int(state.best), tuple(state.best_allocation)
