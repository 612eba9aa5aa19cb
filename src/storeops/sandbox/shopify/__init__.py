"""Shopify sandbox: Admin GraphQL API 2026-07 with real schema validation, cost-based
throttling, signed webhooks with retries, and a simulated storefront.

    app.py              the sandbox (routes, auth, GraphQL execution, state dump)
    schema.py           the pruned real schema (data/) and Shopify's error shape
    surface.py          which types and fields the sandbox implements (feeds the pruner)
    cost.py             calculated query cost and the leaky bucket
    graph.py            resolver registry, Relay connections
    resolvers_*.py      query fields; mutations*.py the mutations
    store.py, records.py, orders.py   the store's state and rules
    payloads.py, webhooks.py          REST-shaped webhook payloads and their delivery
    storefront.py       shoppers: checkouts, abandoned carts, orders
"""

from storeops.sandbox.shopify.app import ShopifySandbox
from storeops.sandbox.shopify.schema import API_VERSION

__all__ = ["API_VERSION", "ShopifySandbox"]
