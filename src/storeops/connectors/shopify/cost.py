"""Estimate a document's calculated query cost before sending it, and the per-shop
limiter that spends those points.

Shopify prices an operation before running it and refuses it (THROTTLED) when the
shop's bucket cannot pay (shopify.dev "GraphQL Admin API rate limits"): objects 1,
scalars and enums 0, connections 2 + first/last x one node's cost, mutations 10. We
have no schema at hand, so we read the document's shape: a field with a selection set
is an object; one with first/last over edges/nodes is a connection; one with first/last
and no edges/nodes is a list of that many objects. That is the rule Shopify applies, so
the estimate equals Shopify's requestedQueryCost for our documents (tests check it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)

from storeops.connectors.http import RateLimiter

RESTORE_RATE = 100.0  # points per second, Standard plan
BUCKET_SIZE = 2000.0  # maximumAvailable, Standard plan (2026 capture, webhook-delivery.yaml)
MUTATION_COST = 10


@lru_cache(maxsize=256)
def _parsed(document: str) -> DocumentNode:
    return parse(document)


def estimate_cost(document: str, variables: Mapping[str, Any] | None = None) -> int:
    doc = _parsed(document)
    fragments = {d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)}
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if not ops:
        return 0
    op = ops[0]
    vars_ = dict(variables or {})

    def fields(selection_set: SelectionSetNode | None) -> list[FieldNode]:
        out: list[FieldNode] = []
        for sel in selection_set.selections if selection_set else ():
            if isinstance(sel, FieldNode):
                out.append(sel)
            elif isinstance(sel, InlineFragmentNode):
                out += fields(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
                out += fields(fragments[sel.name.value].selection_set)
        return out

    def arg(node: FieldNode, name: str) -> int | None:
        for a in node.arguments:
            if a.name.value == name:
                value = value_from_ast_untyped(a.value, vars_)
                return int(value) if isinstance(value, int) else None
        return None

    def selection(selection_set: SelectionSetNode | None) -> int:
        return sum(field(f) for f in fields(selection_set))

    def field(node: FieldNode) -> int:
        if node.selection_set is None or node.name.value.startswith("__"):
            return 0
        size = arg(node, "first") or arg(node, "last")
        children = fields(node.selection_set)
        names = {c.name.value for c in children}
        if size is not None and names & {"edges", "nodes"}:
            per_node = []
            for child in children:
                if child.name.value == "nodes":
                    per_node.append(1 + selection(child.selection_set))
                elif child.name.value == "edges":
                    per_node += [1 + selection(inner.selection_set) for inner in fields(child.selection_set)
                                 if inner.name.value == "node"]
            return 2 + size * max(per_node, default=0)
        if size is not None:
            return size * (1 + selection(node.selection_set))
        return 1 + selection(node.selection_set)

    if op.operation == OperationType.MUTATION:
        return MUTATION_COST * len(fields(op.selection_set))
    return selection(op.selection_set)


class CostLimiter(RateLimiter):
    """The shop's point bucket as we see it: spend the estimate before sending, then
    believe Shopify's throttleStatus (it refunds what a query did not use), minus what
    other threads have in flight and Shopify has not answered yet."""

    def __init__(self, rate_per_s: float = RESTORE_RATE, burst: float = BUCKET_SIZE, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(rate_per_s, burst, clock=clock, sleep=sleep)
        self.in_flight = 0.0
        self._flight_lock = threading.Lock()

    def begin(self, cost: float) -> float:
        waited = self.acquire(cost)
        with self._flight_lock:
            self.in_flight += cost
        return waited

    def end(self, cost: float, throttle_status: Mapping[str, Any] | None) -> None:
        with self._flight_lock:
            self.in_flight = max(0.0, self.in_flight - cost)
            in_flight = self.in_flight
        if not throttle_status:
            return
        with self._lock:
            now = self.clock()
            self._refill(now)
            self.rate = float(throttle_status.get("restoreRate") or self.rate)
            self.burst = float(throttle_status.get("maximumAvailable") or self.burst)
            available = throttle_status.get("currentlyAvailable")
            if available is not None:
                self.tokens = min(self.burst, float(available) - in_flight)


_limiters: dict[str, CostLimiter] = {}
_limiters_lock = threading.Lock()


def shop_limiter(shop_domain: str) -> CostLimiter:
    """The one cost limiter per shop in this process (Shopify's limit is per app and shop)."""
    with _limiters_lock:
        key = shop_domain.lower()
        if key not in _limiters:
            _limiters[key] = CostLimiter()
        return _limiters[key]
