"""Contract tests: the Shopify connector and sandbox against Shopify's own descriptions
in ../shared/vendor-specs/shopify (skipped when that folder is absent).

- every document in all_documents() validates against the FULL Admin 2026-07 schema;
- every request the connector actually sends (document + variables) validates and its
  variables coerce against the full schema, and all documents are sent and answered by
  the sandbox without errors (the sandbox executes them with graphql-core against its
  pruned schema, so its answers have the schema's shape);
- the pruned schema shipped with the sandbox is a subset of the full one;
- the sandbox's webhook payloads validate against the topic payload schemas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    build_schema,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode

from storeops.connectors.shopify.client import ShopifyClient
from storeops.connectors.shopify.cost import CostLimiter
from storeops.connectors.shopify.documents import DOCUMENTS, all_documents
from storeops.sandbox.shopify import ShopifySandbox
from storeops.sandbox.shopify.schema import load_schema
from storeops.sandbox.shopify.surface import LEAF, SURFACE

from sandbox_runtime import running

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "vendor-specs" / "shopify"
FULL_SDL = SPECS / "admin-2026-07.graphql"
PAYLOAD_SCHEMAS = SPECS / "webhooks-2026-07" / "payload-schemas"
pytestmark = pytest.mark.skipif(not FULL_SDL.exists(), reason="../shared/vendor-specs/shopify is not here")


@pytest.fixture(scope="module")
def full_schema() -> GraphQLSchema:
    # ~7 s: graphql-core parses the 3.8 MB SDL once for this module.
    return build_schema(FULL_SDL.read_text(encoding="utf-8"), assume_valid_sdl=True)


def test_every_document_validates_against_the_full_schema(full_schema: GraphQLSchema) -> None:
    documents = all_documents()
    assert {d["name"] for d in documents} == set(DOCUMENTS)
    for doc in documents:
        errors = validate(full_schema, parse(doc["document"]))
        assert errors == [], f"{doc['name']}: {[e.message for e in errors]}"


def test_the_pruned_schema_is_a_subset_of_the_full_one(full_schema: GraphQLSchema) -> None:
    pruned = load_schema()
    assert pruned.query_type and pruned.query_type.name == "QueryRoot"
    assert pruned.mutation_type and pruned.mutation_type.name == "Mutation"
    for name, kept in pruned.type_map.items():
        if name.startswith("__"):
            continue
        real = full_schema.type_map.get(name)
        assert real is not None and type(real) is type(kept), name
        if isinstance(kept, GraphQLObjectType | GraphQLInterfaceType):
            assert {i.name for i in kept.interfaces} <= {i.name for i in real.interfaces}, name  # type: ignore[union-attr]
            for field_name, field in kept.fields.items():
                full_field = real.fields.get(field_name)  # type: ignore[union-attr]
                assert full_field is not None, f"{name}.{field_name}"
                assert str(field.type) == str(full_field.type), f"{name}.{field_name}"
                assert {a: str(v.type) for a, v in field.args.items()} == {
                    a: str(v.type) for a, v in full_field.args.items()}, f"{name}.{field_name} arguments"
        elif isinstance(kept, GraphQLInputObjectType):
            assert {k: str(v.type) for k, v in kept.fields.items()} == {
                k: str(v.type) for k, v in real.fields.items()}, name  # type: ignore[union-attr]
        elif isinstance(kept, GraphQLEnumType):
            assert set(kept.values) == set(real.values), name  # type: ignore[union-attr]
        elif isinstance(kept, GraphQLUnionType):
            assert {t.name for t in kept.types} <= {t.name for t in real.types}, name  # type: ignore[union-attr]
    idempotent = pruned.get_directive("idempotent")
    assert idempotent is not None and full_schema.get_directive("idempotent") is not None


def test_the_pruned_schema_holds_the_whole_surface() -> None:
    pruned = load_schema()
    for type_name, fields in SURFACE.items():
        kept = pruned.type_map[type_name]
        for field_name in fields:
            if field_name != LEAF:
                assert field_name in kept.fields, f"{type_name}.{field_name}"  # type: ignore[attr-defined]


# --- what the connector sends, and what the sandbox answers ------------------------------------
class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> None:
        self.sent.append(json.loads(request.content))


@pytest.fixture(scope="module")
def exercised() -> Iterator[tuple[ShopifySandbox, list[dict[str, Any]]]]:
    """Drive every connector method against a sandbox and record each request sent."""
    # Few products: reading everything stays within one bucket (no real waiting in tests).
    with running(ShopifySandbox(seed=31, product_limit=5, seed_orders=4)) as sb:
        recorder = Recorder()
        client = ShopifyClient(sb.shop_domain, sb.access_token, base_url=sb.base_url, limiter=CostLimiter())
        client.http.event_hooks["request"].append(recorder)
        client.check()
        client.ensure_subscriptions("http://127.0.0.1:9/webhooks/shopify")
        client.list_locations()
        client.list_customers()
        client.list_inventory()
        products = client.list_products()
        orders = client.list_orders()
        first, second = orders[0], orders[1]
        variant = products[0].variants[0]
        level = next(lvl for lvl in sb.store.levels_of_item(int(variant.inventory_item_id.rsplit("/", 1)[1])))
        location = f"gid://shopify/Location/{level.location_id}"
        client.set_inventory([(variant.inventory_item_id, location, 40, level.quantities["available"])])
        client.adjust_inventory([(variant.inventory_item_id, location, -1, 40)])
        client.create_fulfillment(first.id, tracking_company="UPS", tracking_number="1Z1",
                                  tracking_url="https://www.ups.com/track?tracknum=1Z1")
        client.add_tags(first.id, ["returned"])
        client.remove_tags(first.id, ["returned"])
        line = first.line_items[0]
        client.create_refund(first.id, [(line.id, 1, "RETURN")], amount=line.unit_price, note="damaged")
        shipped = sb.store.fulfillments[sb.store.orders[first.legacy_id].fulfillment_ids[0]].line_items[0]
        client.create_return(first.id, [(f"gid://shopify/FulfillmentLineItem/{shipped.id}", 1, "too small")])
        assert [r["notes"] for r in client.returnables(first.id)["returns"]] == [["too small"]]
        client.cancel_order(second.id, reason="CUSTOMER")
        client.set_metafields([{"ownerId": products[0].id, "namespace": "storeops", "key": "source",
                                "type": "single_line_text_field", "value": "catalog"}])
        # Lines and variants past the first page are read with their own documents.
        client.execute(DOCUMENTS["ORDER_LINE_ITEMS"], {"id": first.id, "first": 50})
        client.execute(DOCUMENTS["PRODUCT_VARIANTS"], {"id": products[0].id, "first": 100})
        subscription = next(iter(sb.store.subscriptions.values()))
        client.delete_subscription(subscription.gid)
        client.close()
        yield sb, recorder.sent


def test_every_document_is_sent_and_answered_without_errors(
        exercised: tuple[ShopifySandbox, list[dict[str, Any]]]) -> None:
    _, sent = exercised
    by_text = {d["document"]: d["name"] for d in all_documents()}
    used = {by_text.get(body["query"].strip(), "?") for body in sent}
    assert "?" not in used  # nothing outside documents.py
    assert used == set(DOCUMENTS)  # ... and all of it is exercised (each call above raised on any error)


def test_every_request_sent_validates_against_the_full_schema(
        full_schema: GraphQLSchema, exercised: tuple[ShopifySandbox, list[dict[str, Any]]]) -> None:
    _, sent = exercised
    for body in sent:
        document = parse(body["query"])
        assert validate(full_schema, document) == []
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        coerced = get_variable_values(full_schema, operation.variable_definitions or [], body["variables"])
        assert not isinstance(coerced, list), f"{operation.name.value if operation.name else '?'}: {coerced}"


# --- webhook payloads ------------------------------------------------------------------------
# The payload schemas were inferred from examples (README: "Treat the schemas as advisory, or
# allow null where needed"). Allowed here, and only here:
# - null for these fields, which Shopify sends as null when empty: addresses' address2 and
#   company, customer.note, refund.user_id (no staff member for app refunds), product.image
#   and category (no media), checkout.total_duties (no duties);
# - items in arrays the examples happened to have empty ("items": false), e.g. an order's
#   refunds after a refund.
NULLABLE = {"address2", "company", "note", "user_id", "image", "category", "total_duties"}


def relax(schema: Any) -> Any:
    if isinstance(schema, list):
        return [relax(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: relax(v) for k, v in schema.items()}
    if out.get("items") is False:
        out["items"] = {}
    for name, sub in (out.get("properties") or {}).items():
        if name in NULLABLE:
            out["properties"][name] = {"anyOf": [sub, {"type": "null"}]}
    return out


TOPICS = ["orders/create", "orders/paid", "orders/updated", "orders/cancelled", "fulfillments/create",
          "refunds/create", "inventory_levels/update", "products/update", "customers/create", "customers/update",
          "checkouts/create", "checkouts/update"]


def test_webhook_payloads_validate_against_shopifys_payload_schemas() -> None:
    if not PAYLOAD_SCHEMAS.exists():
        pytest.skip("payload schemas are not here")
    sb = ShopifySandbox(seed=41, product_limit=30, seed_orders=0)  # not served: deliveries stay queued
    for topic in TOPICS:
        status, answer = sb.run_graphql(
            "mutation($t: WebhookSubscriptionTopic!) { webhookSubscriptionCreate(topic: $t, webhookSubscription: "
            "{uri: \"http://127.0.0.1:9/h\"}) { userErrors { message } } }", {"t": topic.replace("/", "_").upper()},
            None)
        assert answer["data"]["webhookSubscriptionCreate"]["userErrors"] == []
    from storeops.sandbox.shopify.storefront import Storefront

    Storefront(sb.store).run({"count": 6, "seed": 2, "overrides": [{"abandon": True}, {}, {}, {}]}, sb.rng)
    first, second = list(sb.store.orders.values())[:2]

    def run(query: str) -> None:
        status, answer = sb.run_graphql(query, {}, None)
        assert "errors" not in answer, answer

    fo = sb.store.fulfillment_orders[first.fulfillment_order_ids[0]]
    tracking = '{company: "UPS", number: "1Z1", url: "https://www.ups.com/track?tracknum=1Z1"}'
    run(f'mutation {{ fulfillmentCreate(fulfillment: {{lineItemsByFulfillmentOrder: '
        f'[{{fulfillmentOrderId: "{fo.gid}"}}], trackingInfo: {tracking}}}) {{ userErrors {{ message }} }} }}')
    line = next(li for li in first.line_items if li.fulfilled_quantity)
    run(f'mutation {{ refundCreate(input: {{orderId: "{first.gid}", note: "damaged", refundLineItems: '
        f'[{{lineItemId: "{line.gid}", quantity: 1, restockType: RETURN}}], transactions: [{{orderId: "{first.gid}", '
        f'amount: "{line.price}", kind: REFUND, gateway: "{first.gateway}"}}]}}) @idempotent(key: "r1") '
        '{ userErrors { message } } }')
    run(f'mutation {{ orderCancel(orderId: "{second.gid}", reason: CUSTOMER, restock: true, refundMethod: '
        '{originalPaymentMethodsRefund: true}) { orderCancelUserErrors { message } } }')
    product = next(iter(sb.store.products.values()))
    customer = next(iter(sb.store.customers.values()))
    run(f'mutation {{ a: tagsAdd(id: "{product.gid}", tags: ["x"]) {{ userErrors {{ message }} }} '
        f'b: tagsAdd(id: "{customer.gid}", tags: ["vip"]) {{ userErrors {{ message }} }} }}')

    bodies: dict[str, list[dict[str, Any]]] = {}
    for delivery in sb.emitter.sender.queue:
        bodies.setdefault(delivery.headers["X-Shopify-Topic"], []).append(json.loads(delivery.body))
    assert set(bodies) == set(TOPICS)
    for topic, payloads in bodies.items():
        schema = relax(json.loads((PAYLOAD_SCHEMAS / f"{topic}.json").read_text(encoding="utf-8")))
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        for payload in payloads:
            problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(payload)]
            assert problems == [], f"{topic}: {problems[:5]}"
