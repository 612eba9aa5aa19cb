"""Shared plumbing for mutation resolvers: the @idempotent directive and userErrors.

From 2026-04 the inventory mutations and refundCreate require `@idempotent(key: ...)`
(their descriptions in the 2026-07 schema: "As of 2026-04, the idempotency key is
required"). A repeated key with the same arguments returns the first result without
applying the change again; with different arguments it is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo, get_directive_values

from storeops.sandbox.shopify.graph import resolves, store_of

Resolver = Callable[..., dict[str, Any]]


def idempotency_key(info: GraphQLResolveInfo) -> str | None:
    directive = info.schema.get_directive("idempotent")
    if directive is None:
        return None
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return None if values is None else str(values["key"])


def mutation(name: str, *, idempotent: bool = False,
             error_type: str = "UserError", errors_field: str = "userErrors") -> Callable[[Resolver], Resolver]:
    """Register a Mutation field resolver; with `idempotent`, enforce and honour the key."""

    def wrap(fn: Resolver) -> Resolver:
        def resolve(root: Any, info: GraphQLResolveInfo, **args: Any) -> dict[str, Any]:
            key = idempotency_key(info)
            if key is not None and not key.strip():
                raise GraphQLError("The idempotency key cannot be an empty string or whitespace only.",
                                   extensions={"code": "BAD_REQUEST"})
            if idempotent and key is None:
                raise GraphQLError(f"The @idempotent directive is required for {name}.",
                                   extensions={"code": "BAD_REQUEST"})
            if key is None:
                return fn(root, info, **args)
            store = store_of(info)
            fingerprint = json.dumps(args, sort_keys=True, default=str)
            seen = store.idempotency.get((name, key))
            if seen is not None:
                if seen[0] != fingerprint:
                    return {errors_field: [{"__typename": error_type, "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                                            "field": None, "message": "The same idempotency key was used with "
                                            "different parameters."}]}
                return seen[1]  # type: ignore[no-any-return]
            payload = fn(root, info, **args)
            if not payload.get(errors_field):  # a failed attempt may be retried with the same key
                store.idempotency[(name, key)] = (fingerprint, payload)
            return payload

        resolves("Mutation", name)(resolve)
        return fn

    return wrap


def err(message: str, field: list[str] | None, code: str | None = None, typename: str = "UserError") -> dict[str, Any]:
    return {"__typename": typename, "message": message, "field": field, "code": code}
