"""How GraphQL fields find their values: a registry of resolvers per (type, field),
falling back to the record attribute of the same name in snake_case; plus Relay
connections with Shopify's cursor pagination rules."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from graphql import GraphQLAbstractType, GraphQLError, GraphQLResolveInfo

from storeops.sandbox.shopify.ids import decode_cursor, encode_cursor
from storeops.sandbox.shopify.records import Record

if TYPE_CHECKING:
    from storeops.sandbox.shopify.store import Store

T = TypeVar("T")
Resolver = Callable[..., Any]
RESOLVERS: dict[str, dict[str, Resolver]] = {}
MAX_PAGE = 250  # shopify.dev "API limits": arrays and pages hold at most 250 items


@dataclass
class Context:
    store: Store
    idempotency: dict[tuple[str, str], Any] = field(default_factory=dict)


def resolves(type_name: str, *fields: str) -> Callable[[Resolver], Resolver]:
    def register(fn: Resolver) -> Resolver:
        for name in fields:
            RESOLVERS.setdefault(type_name, {})[name] = fn
        return fn

    return register


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def store_of(info: GraphQLResolveInfo) -> Store:
    return info.context.store  # type: ignore[no-any-return]


def field_resolver(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    custom = RESOLVERS.get(info.parent_type.name, {}).get(info.field_name)
    if custom is not None:
        return custom(source, info, **args)
    name = info.field_name
    if isinstance(source, dict):
        return source.get(name)
    if isinstance(source, Record):
        if name == "id":
            return source.gid
        if name == "legacyResourceId":
            return source.id
    return getattr(source, _snake(name), None)


def type_resolver(value: Any, info: GraphQLResolveInfo, abstract_type: GraphQLAbstractType) -> str | None:
    if isinstance(value, dict):
        return value.get("__typename")
    return getattr(value, "TYPENAME", None)


def connection(items: Sequence[T], args: dict[str, Any], key: Callable[[T], list[Any]]) -> dict[str, Any]:
    """A Relay connection over `items` (already filtered), ordered by `key` (the last key
    element is the unique id). Shopify requires `first` or `last` (at most 250)."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    for name, value in (("first", first), ("last", last)):
        if value is not None and (value < 0 or value > MAX_PAGE):
            raise GraphQLError(f"The {name} argument must be between 0 and {MAX_PAGE}",
                               extensions={"code": "BAD_REQUEST"})
    ordered = sorted(((key(item), item) for item in items), key=lambda pair: pair[0],
                     reverse=bool(args.get("reverse")))
    keys = [k for k, _ in ordered]
    start, end = 0, len(ordered)
    descending = bool(args.get("reverse"))

    def after(k: list[Any], cursor: list[Any]) -> bool:
        try:
            return k < cursor if descending else k > cursor
        except TypeError:  # a cursor made under another sortKey
            raise GraphQLError("Invalid cursor for current pagination sort.",
                               extensions={"code": "BAD_REQUEST"}) from None

    if args.get("after"):
        cursor = _cursor(args["after"])
        start = next((i for i, k in enumerate(keys) if after(k, cursor)), len(keys))
    if args.get("before"):
        cursor = _cursor(args["before"])
        end = next((i for i, k in enumerate(keys) if not after(cursor, k)), len(keys))
        end = max(end, start)
    window = ordered[start:end]
    has_next = has_previous = False
    if first is not None and len(window) > first:
        window, has_next = window[:first], True
    if last is not None and len(window) > last:
        window, has_previous = window[-last:], True
    has_previous = has_previous or start > 0
    has_next = has_next or end < len(ordered)
    edges = [{"cursor": encode_cursor(k), "node": node} for k, node in window]
    return {
        "edges": edges,
        "nodes": [node for _, node in window],
        "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_previous,
                     "startCursor": edges[0]["cursor"] if edges else None,
                     "endCursor": edges[-1]["cursor"] if edges else None},
    }


def _cursor(value: str) -> list[Any]:
    decoded = decode_cursor(value)
    if decoded is None:
        raise GraphQLError("Invalid cursor for current pagination sort.", extensions={"code": "BAD_REQUEST"})
    return decoded


def by_id(record: Record) -> list[Any]:
    return [record.id, record.id]


def sort_key(sort: str | None, table: dict[str, Callable[[Any], Any]]) -> Callable[[Any], list[Any]]:
    """Key function for a sortKey enum value; unknown values sort by id like Shopify's default."""
    pick = table.get(sort or "ID")
    if pick is None:
        return by_id
    return lambda r: [_sortable(pick(r)), r.id]


def _sortable(value: Any) -> Any:
    return "" if value is None else value


def limit_list(items: list[T], first: int | None) -> list[T]:
    return items if first is None else items[: max(first, 0)]


def user_error(message: str, field_path: list[str] | None = None, code: str | None = None,
               typename: str = "UserError") -> dict[str, Any]:
    return {"__typename": typename, "message": message, "field": field_path, "code": code}
