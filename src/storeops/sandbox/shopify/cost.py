"""Calculated query cost and the per-shop leaky bucket (shopify.dev, "GraphQL Admin API
rate limits"; the bucket numbers are the Standard plan's as captured from a 2026 dev
store: maximumAvailable 2000, restoreRate 100, see shared/vendor-specs/shopify/
webhook-delivery.yaml cost_extension_observed).

Field costs: scalars and enums 0, objects 1, connections 2 + (first or last) x the cost of
one node, each top-level mutation field 10. Abstract selections cost the most expensive
of their type conditions. The requested cost is paid before executing; afterwards the
difference to the actual cost (connections counted by the nodes returned) is refunded.
A single query may not cost more than 1000.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from graphql.type import GraphQLInterfaceType, GraphQLList, GraphQLNonNull, GraphQLUnionType

MAX_AVAILABLE = 2000.0
RESTORE_RATE = 100.0
SINGLE_QUERY_MAX = 1000
MUTATION_COST = 10


class CostBucket:
    """Leaky bucket in points: holds MAX_AVAILABLE, restores RESTORE_RATE per second."""

    def __init__(self, clock: Callable[[], float], capacity: float = MAX_AVAILABLE,
                 restore_rate: float = RESTORE_RATE) -> None:
        self.clock = clock
        self.capacity = capacity
        self.restore_rate = restore_rate
        self.available_points = capacity
        self.updated = clock()

    def _restore(self) -> None:
        now = self.clock()
        self.available_points = min(self.capacity, self.available_points + (now - self.updated) * self.restore_rate)
        self.updated = now

    def available(self) -> float:
        self._restore()
        return self.available_points

    def try_pay(self, cost: int) -> bool:
        self._restore()
        if cost > self.available_points:
            return False
        self.available_points -= cost
        return True

    def refund(self, points: float) -> None:
        self._restore()
        self.available_points = min(self.capacity, self.available_points + max(points, 0))

    def status(self) -> dict[str, float]:
        return {"maximumAvailable": self.capacity, "currentlyAvailable": round(self.available(), 1),
                "restoreRate": self.restore_rate}


class Coster:
    """Walks one operation with the schema to price it (requested) or its result (actual)."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict[str, Any]) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}

    def operation(self, op: OperationDefinitionNode, data: dict[str, Any] | None = None, actual: bool = False) -> int:
        if op.operation == OperationType.MUTATION:
            return MUTATION_COST * len(self._fields(op.selection_set))
        root = self.schema.query_type
        assert root is not None
        return self._selection(root, op.selection_set, data, actual)

    def _fields(self, selection_set: SelectionSetNode) -> list[FieldNode]:
        out: list[FieldNode] = []
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                out.append(sel)
            elif isinstance(sel, InlineFragmentNode):
                out += self._fields(sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value in self.fragments:
                out += self._fields(self.fragments[sel.name.value].selection_set)
        return out

    def _groups(self, parent: Any, selection_set: SelectionSetNode) -> list[tuple[Any, list[FieldNode]]]:
        """Fields per type condition: plain fields count for all; for abstract parents each
        condition is priced separately and the dearest wins."""
        common: list[FieldNode] = []
        conditional: dict[str, list[FieldNode]] = {}
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                common.append(sel)
                continue
            node: FragmentDefinitionNode | InlineFragmentNode | None
            if isinstance(sel, FragmentSpreadNode):
                node = self.fragments.get(sel.name.value)
            elif isinstance(sel, InlineFragmentNode):
                node = sel
            else:
                node = None
            if node is None:
                continue
            cond = node.type_condition.name.value if node.type_condition else parent.name
            if cond == parent.name:
                common += self._fields(node.selection_set)
            else:
                conditional.setdefault(cond, []).extend(self._fields(node.selection_set))
        if not conditional:
            return [(parent, common)]
        return [(self.schema.type_map.get(cond, parent), common + extra) for cond, extra in conditional.items()]

    def _selection(self, parent: Any, selection_set: SelectionSetNode | None, data: Any, actual: bool) -> int:
        if selection_set is None:
            return 0
        best = 0
        for type_, fields in self._groups(parent, selection_set):
            if actual and isinstance(data, dict) and data.get("__typename") not in (None, type_.name) \
                    and type_ is not parent:
                continue
            total = 0
            for node in fields:
                definition = getattr(type_, "fields", {}).get(node.name.value) or getattr(parent, "fields", {}).get(
                    node.name.value)
                if definition is None:
                    continue  # __typename and friends
                key = node.alias.value if node.alias else node.name.value
                value = data.get(key) if isinstance(data, dict) else None
                total += self._field(definition, node, value, actual)
            best = max(best, total)
        return best

    def _arg(self, node: FieldNode, name: str) -> Any:
        for arg in node.arguments:
            if arg.name.value == name:
                return value_from_ast_untyped(arg.value, self.variables)
        return None

    def _field(self, definition: Any, node: FieldNode, value: Any, actual: bool) -> int:
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return 0
        if actual and value is None:
            return 0
        if named.name.endswith("Connection") and isinstance(named, GraphQLObjectType) and "edges" in named.fields:
            return 2 + self._connection(named, node, value, actual)
        if _is_list(definition.type):
            size = self._arg(node, "first") or self._arg(node, "last")
            if not actual:
                return int(size or 1) * (1 + self._selection(named, node.selection_set, None, False))
            items = list(value or [])
            per_item = [1 + self._selection(named, node.selection_set, item, True) for item in items]
            if size is None:  # an unsized list is priced as one object, so it is charged as one
                return max(per_item, default=0)
            return sum(per_item)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            return 1 + self._selection(named, node.selection_set, value, actual)
        return 0

    def _connection(self, conn: GraphQLObjectType, node: FieldNode, value: Any, actual: bool) -> int:
        """Cost of the nodes in a connection: per node 1 + its own selection (the connection's
        own 2 points cover edges, cursors and pageInfo)."""
        node_type = get_named_type(conn.fields["nodes"].type) if "nodes" in conn.fields else None
        per_node: list[tuple[SelectionSetNode | None, str]] = []
        for sel in self._fields(node.selection_set) if node.selection_set else []:
            if sel.name.value == "nodes":
                per_node.append((sel.selection_set, sel.alias.value if sel.alias else "nodes"))
            elif sel.name.value == "edges" and sel.selection_set:
                for inner in self._fields(sel.selection_set):
                    if inner.name.value == "node":
                        per_node.append((inner.selection_set, "edges"))
        if node_type is None or not per_node:
            return 0
        if not actual:
            size = self._arg(node, "first") or self._arg(node, "last") or 0
            one = max(1 + self._selection(node_type, s, None, False) for s, _ in per_node)
            return int(size) * one
        count = 0
        for selection, key in per_node:
            items = (value or {}).get(key) or []
            nodes = [i.get("node") for i in items] if key == "edges" else items
            count = max(count, sum(1 + self._selection(node_type, selection, n, True) for n in nodes))
        return count


def _is_list(type_: Any) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return isinstance(inner, GraphQLList)
