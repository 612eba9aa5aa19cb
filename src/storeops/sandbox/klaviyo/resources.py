"""Records as Klaviyo's JSON:API resource objects (shapes from openapi-stable.json:
ProfileResponseObjectResource, EventResponseObjectResource, MetricResponseObjectResource,
ListListResponseObjectResource, SegmentListResponseObjectResource,
CatalogItemResponseObjectResource, CatalogItemCreateJobResponseObjectResource)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from storeops.sandbox.klaviyo.jsonapi import iso
from storeops.sandbox.klaviyo.store import (
    PROFILE_FIELDS,
    CatalogItem,
    Event,
    Job,
    KList,
    Metric,
    Profile,
    Segment,
)


def _self(base: str, path: str) -> dict[str, str]:
    return {"self": f"{base}{path}"}


def _relationship(base: str, own_path: str, name: str) -> dict[str, Any]:
    return {"links": {"self": f"{base}{own_path}/relationships/{name}", "related": f"{base}{own_path}/{name}"}}


def profile(base: str, record: Profile, *, subscriptions: bool = False) -> dict[str, Any]:
    attributes: dict[str, Any] = {name: getattr(record, name) for name in PROFILE_FIELDS}
    attributes.update(location=record.location or {}, properties=record.properties,
                      created=iso(record.created), updated=iso(record.updated),
                      last_event_date=iso(record.last_event_date) if record.last_event_date else None)
    if subscriptions:
        attributes["subscriptions"] = {"email": {"marketing": {
            "can_receive_email_marketing": bool(record.email) and not record.suppression,
            "consent": "NEVER_SUBSCRIBED",
            "suppression": record.suppression,
            "list_suppressions": [],
        }}}
    path = f"/api/profiles/{record.id}"
    return {"type": "profile", "id": record.id, "attributes": attributes,
            "relationships": {"lists": _relationship(base, path, "lists"),
                              "segments": _relationship(base, path, "segments")},
            "links": _self(base, path + "/")}


def event(base: str, record: Event) -> dict[str, Any]:
    path = f"/api/events/{record.id}"
    return {
        "type": "event", "id": record.id,
        "attributes": {"timestamp": int(record.time.timestamp()), "event_properties": record.properties,
                       "datetime": iso(record.time), "uuid": record.uuid},
        "relationships": {
            "profile": {"data": {"type": "profile", "id": record.profile_id}, **_relationship(base, path, "profile")},
            "metric": {"data": {"type": "metric", "id": record.metric_id}, **_relationship(base, path, "metric")},
        },
        "links": _self(base, path + "/"),
    }


def metric(base: str, record: Metric) -> dict[str, Any]:
    # Events created with a private key are attributed to Klaviyo's "API" integration.
    return {"type": "metric", "id": record.id,
            "attributes": {"name": record.name, "created": iso(record.created), "updated": iso(record.updated),
                           "integration": {"object": "integration", "id": "0rG4eQ", "key": "api", "name": "API",
                                           "category": "API"}},
            "links": _self(base, f"/api/metrics/{record.id}/")}


def klaviyo_list(base: str, record: KList, *, profile_count: bool = False) -> dict[str, Any]:
    path = f"/api/lists/{record.id}"
    attributes: dict[str, Any] = {"name": record.name, "created": iso(record.created), "updated": iso(record.updated),
                                  "opt_in_process": record.opt_in_process}
    if profile_count:
        attributes["profile_count"] = len(record.members)
    return {"type": "list", "id": record.id, "attributes": attributes,
            "relationships": {"profiles": _relationship(base, path, "profiles")},
            "links": _self(base, path + "/")}


def segment(base: str, record: Segment) -> dict[str, Any]:
    path = f"/api/segments/{record.id}"
    return {"type": "segment", "id": record.id,
            "attributes": {"name": record.name, "created": iso(record.created), "updated": iso(record.updated),
                           "is_active": record.is_active, "is_processing": record.is_processing,
                           "is_starred": record.is_starred},
            "relationships": {"profiles": _relationship(base, path, "profiles")},
            "links": _self(base, path + "/")}


def catalog_item(base: str, record: CatalogItem) -> dict[str, Any]:
    path = f"/api/catalog-items/{quote(record.id, safe='$:')}"
    return {"type": "catalog-item", "id": record.id,
            "attributes": {"external_id": record.external_id, "title": record.title,
                           "description": record.description, "price": record.price, "url": record.url,
                           "image_full_url": record.image_full_url,
                           "image_thumbnail_url": record.image_thumbnail_url, "images": record.images,
                           "custom_metadata": record.custom_metadata, "published": record.published,
                           "created": iso(record.created), "updated": iso(record.updated)},
            "relationships": {"variants": {"data": [], **_relationship(base, path, "variants")}},
            "links": _self(base, path + "/")}


def job(base: str, record: Job) -> dict[str, Any]:
    path = f"/api/{record.type}s/{record.id}"
    attributes: dict[str, Any] = {"status": record.status, "created_at": iso(record.created_at),
                                  "total_count": record.total_count, "completed_count": record.completed_count,
                                  "failed_count": record.failed_count,
                                  "completed_at": iso(record.completed_at) if record.completed_at else None,
                                  "errors": record.errors}
    relationships: dict[str, Any] = {}
    if record.type.startswith("catalog-item"):
        relationships["items"] = {"data": [{"type": "catalog-item", "id": i} for i in record.item_ids],
                                  **_relationship(base, path, "items")}
    else:  # profile-suppression-bulk-create-job has no failed_count / errors
        attributes = {k: v for k, v in attributes.items() if k not in ("failed_count", "errors")}
        attributes["skipped_count"] = 0
    return {"type": record.type, "id": record.id, "attributes": attributes, "relationships": relationships,
            "links": _self(base, path + "/")}


def document(data: Any, *, links: dict[str, str], included: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"data": data, "links": links}
    if included is not None:
        doc["included"] = included
    return doc
