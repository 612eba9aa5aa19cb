"""Nodes, tags, metafields and webhook subscriptions (queries, fields and mutations)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from graphql import GraphQLResolveInfo

from storeops.sandbox.shopify import search
from storeops.sandbox.shopify.graph import connection, resolves, sort_key, store_of
from storeops.sandbox.shopify.ids import gid_kind, iso_z, now, parse_gid
from storeops.sandbox.shopify.mutations import err, mutation
from storeops.sandbox.shopify.orders import touch_order
from storeops.sandbox.shopify.records import Customer, Metafield, Order, Product, WebhookSubscription

Info = GraphQLResolveInfo
API_VERSION = "2026-07"


@resolves("QueryRoot", "node")
def node(_: Any, info: Info, id: str) -> Any:
    return store_of(info).find(id)


@resolves("QueryRoot", "nodes")
def nodes(_: Any, info: Info, ids: list[str]) -> list[Any]:
    store = store_of(info)
    return [store.find(i) for i in ids]


# --- tags ------------------------------------------------------------------------------------
def _tag(info: Info, id: str, tags: list[str], add: bool) -> dict[str, Any]:
    store = store_of(info)
    target = store.find(id)
    if not isinstance(target, Order | Product | Customer):
        return {"node": None, "userErrors": [err("Node not found or does not support tags.", ["id"])]}
    clean = [t.strip() for tag in tags for t in tag.split(",") if t.strip()]
    current = {t.lower(): t for t in target.tags}
    for t in clean:
        if add:
            current.setdefault(t.lower(), t)
        else:
            current.pop(t.lower(), None)
    target.tags = sorted(current.values(), key=str.lower)
    if isinstance(target, Order):
        touch_order(store, target)
    elif isinstance(target, Product):
        store.touch_product(target)
    else:
        from storeops.sandbox.shopify.payloads import customer_payload

        target.updated_at = now()
        customer = target
        store.emit("customers/update", lambda: customer_payload(customer))
    return {"node": target, "userErrors": []}


@mutation("tagsAdd")
def tags_add(_: Any, info: Info, id: str, tags: list[str]) -> dict[str, Any]:
    return _tag(info, id, tags, True)


@mutation("tagsRemove")
def tags_remove(_: Any, info: Info, id: str, tags: list[str]) -> dict[str, Any]:
    return _tag(info, id, tags, False)


# --- metafields ------------------------------------------------------------------------------
def digest(m: Metafield) -> str:
    return hashlib.sha256(f"{m.id}:{m.value}:{iso_z(m.updated_at)}".encode()).hexdigest()


@resolves("Metafield", "compareDigest")
def metafield_digest(m: Metafield, info: Info) -> str:
    return digest(m)


@resolves("Metafield", "jsonValue")
def metafield_json(m: Metafield, info: Info) -> Any:
    try:
        return json.loads(m.value)
    except ValueError:
        return m.value


@resolves("Metafield", "ownerType")
def metafield_owner_type(m: Metafield, info: Info) -> str:
    return {"ProductVariant": "PRODUCTVARIANT"}.get(gid_kind(m.owner_gid) or "", (gid_kind(m.owner_gid) or "").upper())


@mutation("metafieldsSet", error_type="MetafieldsSetUserError")
def metafields_set(_: Any, info: Info, metafields: list[dict[str, Any]]) -> dict[str, Any]:
    store = store_of(info)
    typename = "MetafieldsSetUserError"
    if len(metafields) > 25:  # metafieldsSet takes at most 25 metafields per call
        return {"metafields": None, "userErrors": [err("Exceeded the maximum metafields input limit of 25.",
                                                       ["metafields"], "LESS_THAN_OR_EQUAL_TO", typename)]}
    plan: list[tuple[dict[str, Any], Metafield | None]] = []
    errors = []
    for index, m in enumerate(metafields):
        path = ["metafields", str(index)]
        if store.find(m["ownerId"]) is None and parse_gid(m["ownerId"], "Shop") != store.shop_id:
            errors.append(err("Owner does not exist.", [*path, "ownerId"], "INVALID_VALUE", typename))
            continue
        namespace = m.get("namespace") or "$app"
        existing = next((x for x in store.metafields.values() if x.owner_gid == m["ownerId"]
                         and x.namespace == namespace and x.key == m["key"]), None)
        if existing is None and not m.get("type"):
            errors.append(err("Type can't be blank.", [*path, "type"], "BLANK", typename))
            continue
        if m.get("compareDigest") is not None and (existing is None or digest(existing) != m["compareDigest"]):
            errors.append(err("The resource has been updated since it was loaded. Try again with an updated "
                              "`compareDigest` value.", [*path, "compareDigest"], "STALE_OBJECT", typename))
            continue
        plan.append(({**m, "namespace": namespace}, existing))
    if errors:
        return {"metafields": None, "userErrors": errors}
    out = []
    for m, existing in plan:
        stamp = now()
        if existing is None:
            existing = Metafield(id=store.ids.next(), owner_gid=m["ownerId"], namespace=m["namespace"], key=m["key"],
                                 value=m["value"], type=m["type"], created_at=stamp, updated_at=stamp)
            store.metafields[existing.id] = existing
        else:
            existing.value, existing.updated_at = m["value"], stamp
            existing.type = m.get("type") or existing.type
        out.append(existing)
    return {"metafields": out, "userErrors": []}


# --- webhook subscriptions -------------------------------------------------------------------
def topic_enum(topic: str) -> str:
    return topic.replace("/", "_").upper()


def topic_rest(enum_value: str) -> str:
    resource, _, action = enum_value.lower().rpartition("_")
    return f"{resource}/{action}"


@resolves("WebhookSubscription", "topic")
def subscription_topic(s: WebhookSubscription, info: Info) -> str:
    return topic_enum(s.topic)


@resolves("WebhookSubscription", "callbackUrl")
def subscription_callback(s: WebhookSubscription, info: Info) -> str:
    return s.uri


@resolves("WebhookSubscription", "apiVersion")
def subscription_version(s: WebhookSubscription, info: Info) -> dict[str, Any]:
    return {"displayName": API_VERSION, "handle": API_VERSION, "supported": True}


@resolves("QueryRoot", "webhookSubscriptions")
def webhook_subscriptions(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    items = list(store_of(info).subscriptions.values())
    if args.get("topics"):
        wanted = {topic_rest(t) for t in args["topics"]}
        items = [s for s in items if s.topic in wanted]
    uri = args.get("uri") or args.get("callbackUrl")
    if uri:
        items = [s for s in items if s.uri == uri]
    if args.get("format"):
        items = [s for s in items if s.format == args["format"]]
    fields = {"id": lambda s: s.id, "topic": lambda s: s.topic, "created_at": lambda s: s.created_at,
              "updated_at": lambda s: s.updated_at}
    items = search.apply(items, args.get("query"), fields, lambda s: s.uri)
    return connection(items, args, sort_key(args.get("sortKey") or "CREATED_AT", {
        "ID": lambda s: s.id, "CREATED_AT": lambda s: iso_z(s.created_at)}))


@resolves("QueryRoot", "webhookSubscription")
def webhook_subscription(_: Any, info: Info, id: str) -> WebhookSubscription | None:
    return store_of(info).subscriptions.get(parse_gid(id, "WebhookSubscription") or 0)


@mutation("webhookSubscriptionCreate")
def webhook_subscription_create(_: Any, info: Info, topic: str, webhookSubscription: dict[str, Any]) -> dict[str, Any]:
    store = store_of(info)
    spec = webhookSubscription
    uri = spec.get("uri") or spec.get("callbackUrl")
    if not uri or not str(uri).startswith(("https://", "http://")):
        # Real Shopify wants https (or pubsub:// / arn:); the sandbox also takes http for loopback receivers.
        return {"webhookSubscription": None, "userErrors": [err("Address is invalid", ["webhookSubscription",
                                                                                        "callbackUrl"])]}
    rest = topic_rest(topic)
    if any(s.topic == rest and s.uri == uri for s in store.subscriptions.values()):
        return {"webhookSubscription": None, "userErrors": [
            err("Address for this topic has already been taken", ["webhookSubscription", "callbackUrl"])]}
    stamp = now()
    record = WebhookSubscription(
        id=store.ids.next(), topic=rest, uri=str(uri), created_at=stamp, updated_at=stamp,
        format=spec.get("format") or "JSON", include_fields=list(spec.get("includeFields") or []),
        metafield_namespaces=list(spec.get("metafieldNamespaces") or []), filter=spec.get("filter"),
        name=spec.get("name"))
    store.subscriptions[record.id] = record
    return {"webhookSubscription": record, "userErrors": []}


@mutation("webhookSubscriptionDelete")
def webhook_subscription_delete(_: Any, info: Info, id: str) -> dict[str, Any]:
    store = store_of(info)
    found = store.subscriptions.pop(parse_gid(id, "WebhookSubscription") or 0, None)
    if found is None:
        return {"deletedWebhookSubscriptionId": None,
                "userErrors": [err("Webhook subscription does not exist", ["id"])]}
    return {"deletedWebhookSubscriptionId": found.gid, "userErrors": []}
