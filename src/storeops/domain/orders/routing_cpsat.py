"""The same routing problem as a CP-SAT model, for orders too big for the exact search.

Variables, per line l and FC f: x[l,f] units shipped (whole lines: x = quantity * b[l,f]
with exactly one b[l,f] set); per FC: used[f] and the billable pounds lbs[f], which must
cover the shipment's grams plus tare (45,359,237 x lbs >= 100,000 x grams is "lbs >= grams /
453.59237" in integers). Minimizing drives lbs[f] down to the rounded-up weight, so the
objective equals `routing_search.evaluate` of the answer; tests check the two agree.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from storeops.domain.orders.routing_search import Allocation, Problem


def solve_cpsat(p: Problem, *, time_limit_s: float = 5.0) -> tuple[int, Allocation, bool] | None:
    """(objective, allocation, proven optimal), or None when nothing fits the stock."""
    model = cp_model.CpModel()
    fcs, lines = range(len(p.fc_ids)), range(p.line_count)
    x = {(line, fc): model.new_int_var(0, min(p.quantities[line], p.sku_stock[p.line_sku[line]][fc]),
                                       f"x_{line}_{fc}") for line in lines for fc in fcs}
    used = {fc: model.new_bool_var(f"used_{fc}") for fc in fcs}
    for line in lines:
        if p.allow_line_split:
            model.add(sum(x[line, fc] for fc in fcs) == p.quantities[line])
        else:
            whole = {fc: model.new_bool_var(f"whole_{line}_{fc}") for fc in fcs}
            model.add_exactly_one(whole.values())
            for fc in fcs:
                model.add(x[line, fc] == p.quantities[line] * whole[fc])
    emptied = []
    for sku, stock in enumerate(p.sku_stock):
        same_sku = [line for line in lines if p.line_sku[line] == sku]
        for fc in fcs:
            taken = sum(x[line, fc] for line in same_sku)
            model.add(taken <= stock[fc])
            if p.stockout_cost and stock[fc] > 0:
                empty = model.new_bool_var(f"empty_{sku}_{fc}")
                model.add(taken <= stock[fc] - 1 + empty)  # taking the last unit sets `empty`
                emptied.append(empty)
    max_grams = sum(q * g for q, g in zip(p.quantities, p.grams, strict=True)) + p.tare
    max_lbs = max_grams * 100_000 // 45_359_237 + 2
    objective = []
    for fc in fcs:
        shipped = sum(x[line, fc] for line in lines)
        model.add(shipped >= 1).only_enforce_if(used[fc])
        model.add(shipped == 0).only_enforce_if(~used[fc])
        lbs = model.new_int_var(0, max_lbs, f"lbs_{fc}")
        grams = sum(p.grams[line] * x[line, fc] for line in lines) + p.tare * used[fc]
        model.add(45_359_237 * lbs >= 100_000 * grams)
        model.add(lbs >= used[fc])
        objective.append((p.base[fc] - p.credit[fc] + p.split_cost) * used[fc] + p.per_lb[fc] * lbs)
    model.minimize(sum(objective) + p.stockout_cost * sum(emptied) - p.split_cost)

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1  # deterministic, and a decision must not take the whole machine
    solver.parameters.max_time_in_seconds = time_limit_s
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    allocation = tuple(
        tuple((fc, int(solver.value(x[line, fc]))) for fc in fcs if solver.value(x[line, fc]) > 0) for line in lines
    )
    return int(round(solver.objective_value)), allocation, status == cp_model.OPTIMAL
