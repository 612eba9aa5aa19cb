"""The Shopify sandbox: Admin GraphQL API 2026-07 on POST /admin/api/2026-07/graphql.json.

- Auth: X-Shopify-Access-Token must be the app's token, else 401 with Shopify's body.
- Every operation is validated and executed by graphql-core against the pruned real
  schema (schema.py); invalid documents get Shopify's error shape with HTTP 200.
- Cost: each operation is priced before it runs and paid from the shop's leaky bucket
  (cost.py); a bucket that cannot pay answers HTTP 200 with a THROTTLED error. Every
  GraphQL answer carries extensions.cost.
- Webhooks to subscribed URLs (webhooks.py), a storefront that places orders
  (storefront.py, POST /_sandbox/checkouts), and the shared control routes.
- POST /_sandbox/orders/{id}/payment {"outcome": "paid" | "voided" | "expired"}: a pending
  payment settles outside the Admin API (orders.settle_payment).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from storeops.sandbox.common import VendorSandbox

# Importing the resolver modules registers their resolvers.
from storeops.sandbox.shopify import (  # noqa: F401  # noqa: F401
    mutations_inventory,
    mutations_orders,
    resolvers_admin,
    resolvers_catalog,
    resolvers_fulfillment,
    resolvers_orders,
)
from storeops.sandbox.shopify.cost import SINGLE_QUERY_MAX, CostBucket, Coster
from storeops.sandbox.shopify.graph import Context, field_resolver, type_resolver
from storeops.sandbox.shopify.ids import iso_z
from storeops.sandbox.shopify.schema import API_VERSION, load_schema, shopify_error
from storeops.sandbox.shopify.store import Store
from storeops.sandbox.shopify.storefront import CheckoutRefused, Storefront
from storeops.sandbox.shopify.webhooks import WebhookEmitter

log = logging.getLogger(__name__)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
DOCS = "https://shopify.dev/api/usage/rate-limits"


class ShopifySandbox(VendorSandbox):
    name = "shopify"

    def __init__(self, *, seed: int = 0, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic,
                 shop_domain: str = "demo.myshopify.com", access_token: str | None = None,
                 api_secret: str | None = None, product_limit: int | None = None, seed_orders: int = 12) -> None:
        digest = hashlib.sha256(f"storeops-shopify-sandbox:{seed}".encode()).hexdigest()
        self.shop_domain = shop_domain
        # Shopify's formats: Admin API tokens start shpat_, app client secrets shpss_.
        self.access_token = access_token or f"shpat_{digest[:32]}"
        self.api_secret = api_secret or f"shpss_{digest[32:64]}"
        self.product_limit = product_limit
        self.seed_orders = seed_orders
        self.store: Store
        self.bucket = CostBucket(clock)
        self.emitter = WebhookEmitter(self)
        super().__init__(seed=seed, time_scale=time_scale, clock=clock)

    # --- VendorSandbox hooks ----------------------------------------------------------------
    def seed_state(self) -> None:
        self.store = Store(shop_domain=self.shop_domain, product_limit=self.product_limit)
        self.bucket = CostBucket(self.clock)
        self.emitter.sender.queue.clear()
        self.emitter.sent.clear()
        if self.seed_orders:
            Storefront(self.store).run({"count": self.seed_orders, "abandon_rate": 0.0},
                                       random.Random(self.seed))
        self.store.emit = self.emitter.emit

    def credentials(self) -> dict[str, str]:
        return {"access_token": self.access_token, "api_secret": self.api_secret}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "shop": self.shop_domain, "api_version": API_VERSION}

    def error_body(self, status: int) -> dict[str, Any]:
        # Shopify's non-GraphQL error bodies are {"errors": "<text>"}.
        texts = {401: INVALID_TOKEN, 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
                 423: "Locked", 429: "Exceeded 2 calls per second for api client. Reduce request rates to resume "
                 "uninterrupted service.", 500: "Internal Server Error", 502: "Bad Gateway",
                 503: "Service Unavailable", 504: "Gateway Timeout"}
        return {"errors": texts.get(status, "Error")}

    async def on_startup(self) -> None:
        await self.emitter.sender.start()

    async def on_shutdown(self) -> None:
        await self.emitter.sender.stop()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/admin/api/{version}/graphql.json", self.graphql_endpoint, methods=["POST"]),
            Route("/_sandbox/checkouts", self.checkouts_endpoint, methods=["POST"]),
            Route("/_sandbox/returns/request", self.return_request_endpoint, methods=["POST"]),
            Route("/_sandbox/orders/{order_id:int}/payment", self.payment_endpoint, methods=["POST"]),
        ]

    # --- the Admin GraphQL endpoint ---------------------------------------------------------
    async def graphql_endpoint(self, request: Request) -> Response:
        if request.headers.get("x-shopify-access-token") != self.access_token:
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        version = request.path_params["version"]
        if version != API_VERSION:
            # The sandbox serves one version; Shopify answers unknown versions with 404.
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        try:
            if request.headers.get("content-type", "").startswith("application/graphql"):
                body: dict[str, Any] = {"query": (await request.body()).decode()}
            else:
                body = await request.json()
        except ValueError:
            body = {}
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str) or not query.strip():
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, status_code=400)
        variables = body.get("variables") or {}
        status, answer = self.run_graphql(query, variables if isinstance(variables, dict) else {},
                                          body.get("operationName"))
        return JSONResponse(answer, status_code=status, headers={"X-Shopify-API-Version": API_VERSION})

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": self.bucket.status()}}

    def run_graphql(self, query: str, variables: dict[str, Any], operation_name: str | None) -> tuple[int, Any]:
        schema = load_schema()
        try:
            document = parse(query)
        except GraphQLError as exc:
            error = shopify_error(exc)
            error["extensions"]["code"] = "GRAPHQL_PARSE_FAILED"
            return 200, {"errors": [error], "extensions": self._cost(0, 0)}
        errors = validate(schema, document)
        if errors:
            return 200, {"errors": [shopify_error(e, operation_path=_ast_path(document, e)) for e in errors],
                         "extensions": self._cost(0, 0)}
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            message = (f"No operation named '{operation_name}'" if operation_name
                       else "An operation name is required")
            return 200, {"errors": [{"message": message, "extensions": {"code": "OPERATION_NOT_FOUND"}}],
                         "extensions": self._cost(0, 0)}
        coster = Coster(schema, document, variables)
        requested = coster.operation(operation)
        if requested > SINGLE_QUERY_MAX:
            return 200, {"errors": [{
                "message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                           f"({SINGLE_QUERY_MAX}).\n\nSee {DOCS} for more information on how the cost of a query "
                           "is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations "
                           "should be used instead.",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": SINGLE_QUERY_MAX}}],
                "extensions": self._cost(requested, None)}
        if not self.bucket.try_pay(requested):
            self.stats.throttled += 1
            return 200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
                                                                             "documentation": DOCS}}],
                         "extensions": self._cost(requested, None)}
        result = execute_sync(schema, document, context_value=Context(self.store), variable_values=variables,
                         operation_name=operation_name, field_resolver=field_resolver, type_resolver=type_resolver)
        if result.data is None:  # variables did not coerce: nothing ran
            self.bucket.refund(requested)
            actual = 0
        else:
            actual = min(requested, coster.operation(operation, result.data, actual=True))
            self.bucket.refund(requested - actual)
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [self._execution_error(e) for e in result.errors]
        answer["data"] = result.data
        answer["extensions"] = self._cost(requested, actual)
        return 200, answer

    def _execution_error(self, error: GraphQLError) -> dict[str, Any]:
        if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
            log.exception("shopify sandbox resolver failed", exc_info=error.original_error)
            body: dict[str, Any] = {"message": "Internal error. Looks like something went wrong on our end."}
            if error.path:
                body["path"] = list(error.path)
            body["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
            return body
        return shopify_error(error)

    # --- storefront -------------------------------------------------------------------------
    async def checkouts_endpoint(self, request: Request) -> Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise CheckoutRefused("body must be a JSON object")
            return JSONResponse(Storefront(self.store).run(body, self.rng))
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)

    async def payment_endpoint(self, request: Request) -> Response:
        """POST /_sandbox/orders/{id}/payment {"outcome": "paid" | "voided" | "expired"}: a
        pending payment settles (orders.settle_payment)."""
        from storeops.sandbox.shopify.orders import OrderRefused, settle_payment

        order = self.store.orders.get(request.path_params["order_id"])
        if order is None:
            return JSONResponse({"error": "no such order"}, status_code=404)
        try:
            body = await request.json()
            outcome = str((body or {}).get("outcome", "paid"))
        except (ValueError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        if outcome not in ("paid", "voided", "expired"):
            return JSONResponse({"error": "outcome must be paid, voided or expired"}, status_code=422)
        try:
            settle_payment(self.store, order, outcome)
        except OrderRefused as refused:
            return JSONResponse({"error": refused.message}, status_code=409)
        return JSONResponse({"id": order.id, "financial_status": order.financial_status})

    async def return_request_endpoint(self, request: Request) -> Response:
        """POST /_sandbox/returns/request: a buyer asks for a return (customer_returns.py)."""
        from storeops.sandbox.shopify.customer_returns import request_return
        from storeops.sandbox.shopify.orders import OrderRefused

        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            return JSONResponse(request_return(self.store, body), status_code=201)
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        except OrderRefused as refused:
            return JSONResponse({"error": refused.message}, status_code=409)

    # --- state ------------------------------------------------------------------------------
    def dump_state(self) -> dict[str, Any]:
        from storeops.sandbox.shopify.orders import fulfillment_status, total

        store = self.store
        inventory: dict[str, dict[str, dict[str, int]]] = {}
        for (item_id, loc_id), level in store.levels.items():
            sku = store.items[item_id].sku or str(item_id)
            inventory.setdefault(sku, {})[str(loc_id)] = {k: level.quantities[k]
                                                           for k in ("available", "committed", "on_hand")}
        return {
            "shop": {"domain": store.shop_domain, "id": store.shop_id, "api_version": API_VERSION},
            "throttle_status": self.bucket.status(),
            "locations": [{"id": loc.id, "gid": loc.gid, "name": loc.name, "fc_id": loc.fc_id}
                          for loc in store.locations.values()],
            "products": len(store.products), "variants": len(store.variants),
            "customers": [{"id": c.id, "email": c.email, "orders": len(c.order_ids)} for c in store.customers.values()],
            "orders": [{"id": o.id, "gid": o.gid, "name": o.name, "email": o.email, "total": str(total(o)),
                        "financial_status": o.financial_status, "fulfillment_status": fulfillment_status(o),
                        "tags": o.tags, "cancelled_at": iso_z(o.cancelled_at), "cancel_reason": o.cancel_reason,
                        "updated_at": iso_z(o.updated_at)}
                       for o in store.orders.values()],
            "checkouts": [{"id": c.id, "token": c.token, "status": c.status, "order_id": c.order_id}
                          for c in store.checkouts.values()],
            "webhook_subscriptions": [{"id": s.id, "topic": s.topic, "uri": s.uri}
                                      for s in store.subscriptions.values()],
            "webhooks": {"sent": self.emitter.sent[-500:], "deliveries": self.emitter.sender.log[-500:],
                         "queued": len(self.emitter.sender.queue)},
            "inventory": inventory,
            "refunds": [{"id": r.id, "order_id": r.order_id, "amount": str(r.total), "note": r.note,
                         "shipping": str(r.shipping_amount),
                         "lines": [{"line_item_id": li.line_item_id, "quantity": li.quantity,
                                    "restock_type": li.restock_type} for li in r.line_items]}
                        for r in store.refunds.values()],
        }


def _ast_path(document: DocumentNode, error: GraphQLError) -> list[str] | None:
    """graphql-ruby's error path: the operation ("query Name"), then field names down to the node."""
    if not error.nodes:
        return None
    target = error.nodes[0]

    def walk(selection_set: Any, trail: list[str]) -> list[str] | None:
        for sel in getattr(selection_set, "selections", []) or []:
            here = [*trail, sel.name.value] if isinstance(sel, FieldNode) else trail
            if sel is target:
                return here
            if getattr(sel, "selection_set", None) is not None:
                found = walk(sel.selection_set, here)
                if found is not None:
                    return found
        return None

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            label = definition.operation.value + (f" {definition.name.value}" if definition.name else "")
            found = walk(definition.selection_set, [label])
            if found is not None:
                return found
    return None
