"""The executable schema: the pruned 2026-07 SDL shipped in data/, built once per process.

Errors are rewritten into the shape Shopify's GraphQL server (graphql-ruby) answers with,
e.g. {"message": "Field 'nope' doesn't exist on type 'Order'", "locations": [...],
"path": ["query", "order", "nope"], "extensions": {"code": "undefinedField", ...}}.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, GraphQLSchema, build_schema

from storeops.sandbox.shopify.ids import decimal_str, iso_z, money_str

API_VERSION = "2026-07"
SCHEMA_FILE = f"data/admin-{API_VERSION}.pruned.graphql"


def _datetime(value: Any) -> Any:
    return iso_z(value) if isinstance(value, datetime) else value


def _decimal(value: Any) -> Any:
    return decimal_str(value) if isinstance(value, Decimal) else value


def _money(value: Any) -> Any:
    return money_str(value) if isinstance(value, Decimal) else value


def _string(value: Any) -> Any:
    return str(value) if isinstance(value, int | Decimal) else value


SERIALIZERS = {"DateTime": _datetime, "Decimal": _decimal, "Money": _money, "UnsignedInt64": _string}


@lru_cache(maxsize=1)
def load_schema() -> GraphQLSchema:
    """Parse once per process (the pruned file takes ~0.3 s; the full one takes seconds)."""
    sdl = resources.files("storeops.sandbox.shopify").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema = build_schema(sdl)
    for name, serialize in SERIALIZERS.items():
        scalar = schema.type_map.get(name)
        if isinstance(scalar, GraphQLScalarType):
            scalar.serialize = serialize  # type: ignore[method-assign]
    return schema


def sdl_text() -> str:
    return resources.files("storeops.sandbox.shopify").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


# graphql-core message -> (graphql-ruby message, extensions) for the common validation errors.
_RULES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"Cannot query field '(\w+)' on type '(\w+)'\..*"),
     lambda m: (f"Field '{m[1]}' doesn't exist on type '{m[2]}'",
                {"code": "undefinedField", "typeName": m[2], "fieldName": m[1]})),
    (re.compile(r"Unknown argument '(\w+)' on field '(\w+)\.(\w+)'\..*"),
     lambda m: (f"Field '{m[3]}' doesn't accept argument '{m[1]}'",
                {"code": "argumentNotAccepted", "name": m[3], "typeName": "Field", "argumentName": m[1]})),
    (re.compile(r"Field '(\w+)' argument '(\w+)' of type '(.+)' is required, but it was not provided\."),
     lambda m: (f"Field '{m[1]}' is missing required arguments: {m[2]}",
                {"code": "missingRequiredArguments", "className": "Field", "name": m[1], "arguments": m[2]})),
    (re.compile(r"Field '(\w+)' of type '(.+)' must have a selection of subfields.*"),
     lambda m: (f"Field must have selections (field '{m[1]}' returns {m[2].strip('[]!')} but has no selections."
                " Did you mean '" + m[1] + " { ... }'?)",
                {"code": "selectionMismatch", "nodeName": f"field '{m[1]}'", "typeName": m[2].strip("[]!")})),
    (re.compile(r"Variable '\$(\w+)' of required type '(.+)' was not provided\."),
     lambda m: (f"Variable ${m[1]} of type {m[2]} was provided invalid value",
                {"code": "variableMismatch", "value": None,
                 "problems": [{"path": [], "explanation": "Expected value to not be null"}]})),
    (re.compile(r"Unknown type '(\w+)'\..*"),
     lambda m: (f"No such type {m[1]}, so it can't be a fragment condition",
                {"code": "undefinedType", "typeName": m[1]})),
]


def shopify_error(error: GraphQLError, *, operation_path: list[str] | None = None) -> dict[str, Any]:
    """One error in Shopify's shape; unknown rules keep graphql-core's message."""
    message = error.message
    extensions: dict[str, Any] = dict(error.extensions or {})
    for pattern, rewrite in _RULES:
        match = pattern.match(message)
        if match:
            message, extra = rewrite(match)
            extensions = {**extra, **extensions}
            break
    extensions.setdefault("code", "GRAPHQL_VALIDATION_FAILED")
    body: dict[str, Any] = {"message": message}
    if error.locations:
        body["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        body["path"] = list(error.path)
    elif operation_path:
        body["path"] = operation_path
    body["extensions"] = extensions
    return body
