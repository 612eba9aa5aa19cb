"""JSON:API request bodies for Klaviyo (schemas in vendor-specs/klaviyo/openapi-stable.json:
EventCreateQueryV2, EventsBulkCreateJob, ProfileUpsertQuery, ProfilePartialUpdateQuery,
ListMembersAddQuery, CatalogItemCreateQuery, CatalogItemUpdateQuery,
CatalogItemCreateJobCreateQuery, SuppressionCreateJobCreateQuery)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from storeops.connectors.klaviyo.models import CatalogItemInput, EventInput, ProfileInput


def dumps(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, default=_default, separators=(",", ":")).encode("utf-8")


def _default(value: object) -> object:
    # Klaviyo's `value` and `price` are JSON numbers. float() of a 2-place Decimal prints back
    # as the same digits (shortest round-trip repr), so "52.00" goes out as 52.0, not 51.999….
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def iso_utc(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime: storeops uses timezone-aware datetimes only")
    return value.astimezone(UTC).isoformat()


def _profile(profile: ProfileInput) -> dict[str, Any]:
    if not any(profile.identity()):
        raise ValueError("a Klaviyo profile needs an email, phone_number or external_id")
    return {"data": {"type": "profile", "attributes": profile.attributes()}}


def _metric(name: str) -> dict[str, Any]:
    return {"data": {"type": "metric", "attributes": {"name": name}}}


def _event_attributes(event: EventInput) -> dict[str, Any]:
    attributes: dict[str, Any] = {"properties": dict(event.properties), "metric": _metric(event.metric_name),
                                  "unique_id": event.unique_id}
    if event.value is not None:
        attributes["value"] = event.value
    if event.value_currency:
        attributes["value_currency"] = event.value_currency
    if event.time is not None:
        attributes["time"] = iso_utc(event.time)
    return attributes


def event(event: EventInput) -> dict[str, Any]:
    return {"data": {"type": "event",
                     "attributes": {**_event_attributes(event), "profile": _profile(event.profile)}}}


def events_bulk(events: Sequence[EventInput]) -> dict[str, Any]:
    """One bulk job: Klaviyo groups the events under each profile (EventsBulkCreateQueryResourceObject)."""
    groups: dict[tuple[str | None, str | None, str | None], tuple[ProfileInput, list[EventInput]]] = {}
    for item in events:
        groups.setdefault(item.profile.identity(), (item.profile, []))[1].append(item)
    entries = [{"type": "event-bulk-create",
                "attributes": {"profile": _profile(profile),
                               "events": {"data": [{"type": "event", "attributes": _event_attributes(e)}
                                                   for e in grouped]}}}
               for profile, grouped in groups.values()]
    return {"data": {"type": "event-bulk-create-job", "attributes": {"events-bulk-create": {"data": entries}}}}


def profile_upsert(profile: ProfileInput, *, unset: Iterable[str] = ()) -> dict[str, Any]:
    data: dict[str, Any] = _profile(profile)["data"]
    keys = list(unset)
    if keys:
        data["meta"] = {"patch_properties": {"unset": keys}}
    return {"data": data}


def profile_patch(profile_id: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    return {"data": {"type": "profile", "id": profile_id, "attributes": dict(attributes)}}


def members(profile_ids: Sequence[str]) -> dict[str, Any]:
    return {"data": [{"type": "profile", "id": pid} for pid in profile_ids]}


def _catalog_attributes(item: CatalogItemInput) -> dict[str, Any]:
    attributes: dict[str, Any] = {"title": item.title, "description": item.description, "url": item.url,
                                  "published": item.published}
    if item.price is not None:
        attributes["price"] = item.price
    if item.image_full_url:
        attributes["image_full_url"] = item.image_full_url
    if item.custom_metadata is not None:
        attributes["custom_metadata"] = dict(item.custom_metadata)
    return attributes


def catalog_item_create(item: CatalogItemInput) -> dict[str, Any]:
    return {"data": {"type": "catalog-item", "attributes": {
        "external_id": item.external_id, "integration_type": "$custom", "catalog_type": "$default",
        **_catalog_attributes(item)}}}


def catalog_item_update(item_id: str, item: CatalogItemInput) -> dict[str, Any]:
    return {"data": {"type": "catalog-item", "id": item_id, "attributes": _catalog_attributes(item)}}


def catalog_items_bulk_create(items: Sequence[CatalogItemInput]) -> dict[str, Any]:
    return {"data": {"type": "catalog-item-bulk-create-job",
                     "attributes": {"items": {"data": [catalog_item_create(i)["data"] for i in items]}}}}


def suppression(emails: Sequence[str]) -> dict[str, Any]:
    return {"data": {"type": "profile-suppression-bulk-create-job", "attributes": {"profiles": {"data": [
        {"type": "profile", "attributes": {"email": email}} for email in emails]}}}}
