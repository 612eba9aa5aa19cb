"""Catalog automation end to end: real HTTP between storeops and the Shopify, Amazon and Klaviyo
sandboxes. Import from Shopify, compile (Amazon through VALIDATION_PREVIEW), publish through the
outbox and a Worker, edit a product and see every channel follow, inject drift and see the
monitor report and repair it, 429s retried, unchanged content never sent twice, shadow mode."""

from __future__ import annotations

import json
import time
from contextlib import closing
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import func, select

from storeops.connectors.amazon import AmazonClient
from storeops.connectors.klaviyo.client import KlaviyoClient
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.clock import utcnow
from storeops.core.errors import InvalidInput
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.catalog import services as catalog
from storeops.domain.catalog.models import Product, Rendition
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import DecisionRecord
from storeops.engine.inbox import NewEvent, insert_events
from storeops.engine.models import InboxEvent, OutboxMessage
from storeops.flows import catalog as catalog_flow
from storeops.flows import context as flow_context
from storeops.flows.demo import connect_demo_shop, connector_for
from storeops.flows.runtime import Worker

from conftest import LiveServer
from helpers import wait_for

HANDLES = ["joust-duffle-bag", "mt04"]  # a bag (1 SKU) and an apparel tank (5 SKUs: colour + size)
# Importing all 251 products reads ~32 pages, which the Shopify sandbox's real cost limit
# (Basic plan: 100 points/s) paces to about two minutes: the tests import a slice.
SLICE = ("product_type:Bags", "handle:mt04")


@pytest.fixture
def shop(db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], live_app: LiveServer) -> str:
    connection = connect_demo_shop(db, box, sandboxes, live_app.url)
    assert connection.ok, connection.as_dict()
    flow_context.configure(db, box)
    return connection.shop_id


def requests_total(sandboxes: dict[str, dict[str, Any]], vendor: str) -> int:
    stats = httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/stats", timeout=10).json()
    return int(stats["requests_total"])


def renditions(db: Database, shop: str) -> list[Rendition]:
    with db.session(shop) as session:
        rows = catalog.renditions(session)
        session.expunge_all()
        return rows


def all_published(db: Database, shop: str) -> bool:
    rows = [r for r in renditions(db, shop) if r.channel in catalog_flow.TARGETS]
    with db.system_session() as session:
        failed = [(m.target, m.error) for m in session.scalars(select(OutboxMessage)) if m.status == "failed"]
    assert not failed, failed
    return bool(rows) and all(r.published_hash == r.content_hash for r in rows)


def live_views(db: Database, box: SecretBox, shop: str, handle: str) -> dict[str, Any]:
    """What each channel shows for the product, read through our own connectors."""
    with db.session(shop) as session:
        product = catalog.find(session, handle=handle)
        gid, skus = product.shopify_gid, [v.sku for v in catalog.variants_of(session, product.id)]
        external_id = gid.rsplit("/", 1)[-1] if gid else handle
    with closing(connector_for(db, box, shop, "shopify")) as s, closing(connector_for(db, box, shop, "amazon")) as a, \
            closing(connector_for(db, box, shop, "klaviyo")) as k:
        return {"shopify": cast(ShopifyClient, s).product_content(gid or ""),
                "amazon": {sku: cast(AmazonClient, a).get_listing(str(sku), ["attributes"]) for sku in skus},
                "klaviyo": cast(KlaviyoClient, k).get_catalog_item(external_id)}


def imported(db: Database, box: SecretBox, shop: str) -> None:
    created = [h for q in SLICE for h in catalog_flow.import_shopify(db, box, shop, q).created]
    assert set(HANDLES) <= set(created) and len(created) > 2
    compiled = catalog_flow.compile_renditions(db, box, shop, handles=HANDLES)
    assert compiled.invalid == [] and compiled.valid == compiled.renditions == 8  # 2 products x 4 channels


def test_import_publish_edit_reaches_every_channel_and_unchanged_content_is_not_resent(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    imported(db, box, shop)
    again = catalog_flow.import_shopify(db, box, shop, SLICE[0])
    assert again.unchanged and not again.created and not again.updated  # a second import changes nothing

    summary = catalog_flow.publish(db, shop, handles=HANDLES)
    assert summary["mode"] == "live" and summary["emitted"] == 6 and summary["blocked"] == []
    wait_for(lambda: all_published(db, shop), "every rendition published")

    views = live_views(db, box, shop, "mt04")
    fields = {r.channel: r.fields for r in renditions(db, shop)
              if r.product_id == _product_id(db, shop, "mt04")}
    assert views["shopify"]["descriptionHtml"] == fields["shopify"]["descriptionHtml"]
    assert views["shopify"]["seo"] == fields["shopify"]["seo"]
    for sku, listing in views["amazon"].items():
        attributes = listing["attributes"]
        assert [b["value"] for b in attributes["bullet_point"]] == fields["amazon"]["bullet_point"]
        assert attributes["item_name"][0]["value"] == fields["amazon"]["listings"][sku]["item_name"]
    assert views["klaviyo"].description == fields["klaviyo"]["description"]

    # The merchant edits the canonical title: every channel follows.
    before = {v: requests_total(sandboxes, v) for v in ("shopify", "amazon", "klaviyo")}
    edit = catalog_flow.apply_edit(db, box, shop, "mt04", {"title": "Helios Endurance Tank (storeops test)"})
    assert edit["changed"] == ["title"] and edit["published"]["emitted"] == 3
    wait_for(lambda: all_published(db, shop), "the edit published")
    views = live_views(db, box, shop, "mt04")
    assert views["shopify"]["title"] == "Helios Endurance Tank (storeops test)"
    assert all(listing["attributes"]["item_name"][0]["value"].startswith("Helios Endurance Tank (storeops test) - ")
               for listing in views["amazon"].values())
    assert views["klaviyo"].title == "Helios Endurance Tank (storeops test)"
    assert all(requests_total(sandboxes, v) > before[v] for v in before)

    # Republishing unchanged content: no outbox message, no call to any channel.
    with db.session(shop) as session:
        outbox_before = session.scalar(select(func.count()).select_from(OutboxMessage))
    before = {v: requests_total(sandboxes, v) for v in ("shopify", "amazon", "klaviyo")}
    assert catalog_flow.compile_renditions(db, box, shop, handles=HANDLES).invalid == []
    summary = catalog_flow.publish(db, shop, handles=HANDLES)
    assert summary["emitted"] == 0 and summary["unchanged"] == 6
    time.sleep(1.0)
    assert {v: requests_total(sandboxes, v) for v in before} == before
    with db.session(shop) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before

    # Content that comes back (A -> B -> A) is sent again: the key covers the change, not the content.
    back = catalog_flow.apply_edit(db, box, shop, "mt04", {"title": "Helios Endurance Tank"})
    assert back["published"]["emitted"] == 3
    wait_for(lambda: all_published(db, shop), "the title back on every channel")
    assert live_views(db, box, shop, "mt04")["shopify"]["title"] == "Helios Endurance Tank"


def _product_id(db: Database, shop: str, handle: str) -> int:
    with db.session(shop) as session:
        return catalog.find(session, handle=handle).id


def test_drift_in_every_channel_is_reported_and_repaired(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    imported(db, box, shop)
    catalog_flow.publish(db, shop, handles=HANDLES)
    wait_for(lambda: all_published(db, shop), "every rendition published")
    clean = catalog_flow.check_consistency(db, box, shop)
    assert {c: v["percent"] for c, v in clean["channels"].items()} == {"shopify": 100.0, "amazon": 100.0,
                                                                        "klaviyo": 100.0}
    assert clean["drifted"] == 0

    # Someone edits the bag directly in each channel's admin.
    with db.session(shop) as session:
        product = catalog.find(session, handle="joust-duffle-bag")
        gid = str(product.shopify_gid)
    with closing(connector_for(db, box, shop, "shopify")) as s:
        cast(ShopifyClient, s).update_product(gid, {"seo": {"title": "CHEAP BAG SALE"}})
    with closing(connector_for(db, box, shop, "amazon")) as a:
        amazon = cast(AmazonClient, a)
        assert amazon.patch_listing("24-MB01", [{"op": "replace", "path": "/attributes/bullet_point", "value": [
            {"value": "Edited by hand", "marketplace_id": amazon.marketplace_id}]}],
            product_type="LUGGAGE").status == "ACCEPTED"
    with closing(connector_for(db, box, shop, "klaviyo")) as k:
        klaviyo = cast(KlaviyoClient, k)
        fields = next(r.fields for r in renditions(db, shop) if r.channel == "klaviyo"
                      and r.product_id == product.id)
        klaviyo.upsert_catalog_item(catalog_flow.klaviyo_item({**fields, "title": "Hand-edited title"}))

    drifted = catalog_flow.check_consistency(db, box, shop)
    assert {c: v["percent"] for c, v in drifted["channels"].items()} == {"shopify": 50.0, "amazon": 50.0,
                                                                          "klaviyo": 50.0}
    assert drifted["drifted"] == 3 and drifted["repair"]["emitted"] == 3
    with db.session(shop) as session:
        [record, *_] = sorted(decisions.for_subject(session, "catalog:consistency"), key=lambda r: -r.id)
        assert {(d["handle"], d["channel"]) for d in record.outputs["drift"]} == {
            ("joust-duffle-bag", "shopify"), ("joust-duffle-bag", "amazon"), ("joust-duffle-bag", "klaviyo")}
        assert ["seo.title"] in [d["fields"] for d in record.outputs["drift"]]

    def repaired() -> bool:
        result = catalog_flow.check_consistency(db, box, shop, repair=False)
        return all(v["percent"] == 100.0 for v in result["channels"].values())

    wait_for(repaired, "the monitor's repairs to land")


def test_a_429_from_a_channel_is_retried_until_published(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    imported(db, box, shop)
    for vendor in ("klaviyo", "shopify"):
        httpx.post(f"{sandboxes[vendor]['url']}/_sandbox/faults",
                   json={"fail_next": 2, "statuses": [429], "retry_after_s": 0.2}, timeout=10).raise_for_status()
    catalog_flow.publish(db, shop, handles=HANDLES)
    wait_for(lambda: all_published(db, shop), "published despite the 429s", timeout=60)
    for vendor in ("klaviyo", "shopify"):
        stats = httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/stats", timeout=10).json()
        assert stats["injected_errors"] >= 2
    with db.session(shop) as session:
        statuses = set(session.scalars(select(OutboxMessage.status)))
    assert statuses == {"done"}


def test_shadow_mode_records_intended_actions_and_calls_nothing(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str) -> None:
    imported(db, box, shop)
    with db.session(shop) as session:
        decisions.set_mode(session, shop, catalog_flow.AUTOMATION, "shadow")
    before = {v: requests_total(sandboxes, v) for v in ("shopify", "amazon", "klaviyo")}
    summary = catalog_flow.publish(db, shop, handles=HANDLES)
    assert summary["mode"] == "shadow" and summary["intended"] == 6 and summary["emitted"] == 0
    with db.session(shop) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        records = list(session.scalars(select(DecisionRecord).where(DecisionRecord.automation == "catalog_publish")))
        assert len(records) == 2 and all(r.mode == "shadow" and r.actions_taken == [] for r in records)
        assert {a["target"] for r in records for a in r.intended_actions} == set(catalog_flow.TARGETS.values())
    assert {v: requests_total(sandboxes, v) for v in before} == before
    assert not all_published(db, shop)


def test_bad_csv_is_refused_and_changes_nothing(db: Database, shop_id: str) -> None:
    good = ("Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Grams,"
            "Variant Price,Variant Barcode\n"
            "mug,Mug,<p>A stoneware mug</p>,Acme,Kitchen,,Title,Default Title,MUG-1,350,12.50,123\n")
    assert catalog_flow.import_csv(db, shop_id, good).as_dict() == {"created": 1, "updated": 0, "unchanged": 0}
    bad = good.replace("mug,Mug", "cup,Cup").replace("12.50", "twelve")
    with pytest.raises(InvalidInput, match="row 2: Variant Price 'twelve' is not a number"):
        catalog_flow.import_csv(db, shop_id, bad)
    with db.session(shop_id) as session:
        assert [p.handle for p in session.scalars(select(Product))] == ["mug"]


def shopify_snapshot(db: Database, shop: str, handle: str) -> Any:
    with db.session(shop) as session:
        product_id = catalog.find(session, handle=handle).id
        found = [s for s in catalog.snapshots(session) if s.product_id == product_id and s.channel == "shopify"]
        session.expunge_all()
    return found[0] if found else None


def test_an_edit_in_shopify_shows_as_drift_from_its_webhook_and_a_late_delivery_changes_nothing(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    imported(db, box, shop)
    catalog_flow.publish(db, shop, handles=HANDLES)
    wait_for(lambda: all_published(db, shop), "every rendition published")
    with db.session(shop) as session:
        gid = str(catalog.find(session, handle="joust-duffle-bag").shopify_gid)
    with closing(connector_for(db, box, shop, "shopify")) as s:
        cast(ShopifyClient, s).update_product(gid, {"title": "Joust Duffle Bag - SALE"})
    # Shopify's products/update reaches our intake; the worker's inbox pump runs the handler.
    snap = wait_for(lambda: (x := shopify_snapshot(db, shop, "joust-duffle-bag")) and not x.equal and x,
                    "the drift from the webhook")
    assert snap.drift == ["title"] and snap.live_fields["title"] == "Joust Duffle Bag - SALE"
    with db.session(shop) as session:
        records = decisions.for_subject(session, "product:joust-duffle-bag")
        assert records[-1].outputs == {"channel": "shopify", "drift": ["title"]}

    # A late delivery of an older state (before the edit) does not clear the drift.
    stale = {"admin_graphql_api_id": gid, "title": "Joust Duffle Bag", "body_html": "",
             "updated_at": "2020-01-01T00:00:00Z"}
    assert insert_events(db, [NewEvent(shop_id=shop, vendor="shopify", event_id="stale-product-1",
                                       topic="products/update", headers={}, body=json.dumps(stale).encode())])
    assert wait_for(lambda: _inbox_done(db, "stale-product-1"), "the stale delivery processed") == "processed"
    assert shopify_snapshot(db, shop, "joust-duffle-bag").drift == ["title"]

    # The scheduled monitor (run here directly, as DBOS runs it every 15 minutes) repairs it;
    # Shopify's webhook for the repair marks the snapshot equal again.
    catalog_flow.consistency_sweep(utcnow(), None)
    with db.session(shop) as session:
        [*_, sweep] = decisions.for_subject(session, "catalog:consistency")
        assert sweep.outputs["channels"]["shopify"]["percent"] == 50.0
        assert sweep.intended_actions == [{"target": "shopify.update_product", "product_id": snap.product_id}]
    wait_for(lambda: shopify_snapshot(db, shop, "joust-duffle-bag").equal, "the repair seen through the webhook")


def _inbox_done(db: Database, event_id: str) -> str | None:
    with db.system_session() as session:
        row = session.scalar(select(InboxEvent).where(InboxEvent.event_id == event_id))
        return row.status if row is not None and row.status != "pending" else None
