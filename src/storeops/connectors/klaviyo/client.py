"""Klaviyo REST API client (revision 2026-07-15), over storeops.connectors.http.VendorClient.

- Auth: `Authorization: Klaviyo-API-Key <private key>`; every request carries the pinned
  `revision` header (spec: every operation requires it).
- Bodies are JSON:API (`application/vnd.api+json`); collections page by `links.next`
  (cursor), which we follow against our own base URL only.
- Rate limits: per API key and endpoint, burst and steady windows (limits.py), waited for
  before each request; a 429's Retry-After blocks the endpoint and is carried on the raised
  VendorError for the engine's RetryPolicy. No retries here: the engine owns them.
- Errors: storeops.engine.errors.HTTP_TABLE classifies Klaviyo's statuses as they are
  (401 config, 403 missing scope, 409 conflict, 429 rate limited, 5xx transient).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from storeops.connectors.http import VendorClient
from storeops.connectors.klaviyo import payloads
from storeops.connectors.klaviyo.limits import KlaviyoRateLimits, shared_rate_limits
from storeops.connectors.klaviyo.models import (
    CatalogItem,
    CatalogItemInput,
    Event,
    EventInput,
    KlaviyoList,
    Metric,
    Profile,
    ProfileInput,
    Segment,
)
from storeops.core.errors import ConfigError, VendorError

REVISION = "2026-07-15"
DEFAULT_BASE_URL = "https://a.klaviyo.com"
JSONAPI = "application/vnd.api+json"

# Per-request caps from the spec's operation descriptions.
BULK_EVENTS_MAX = 1000  # bulk_create_events: "Accepts up to 1,000 events per request."
LIST_MEMBERS_MAX = 1000  # add_profiles_to_list: "a maximum of 1000 profiles per call"
CATALOG_BULK_MAX = 100  # bulk_create_catalog_items: "Accepts up to 100 catalog items per request."
SUPPRESS_MAX = 100  # bulk_suppress_profiles: "Email address per request limit: 100"

# The profile property a Klaviyo post-purchase flow filters on ("<property> is not true") to
# skip a customer; see hold_post_purchase_flows.
POST_PURCHASE_HOLD = "storeops_post_purchase_hold"
POST_PURCHASE_HOLD_REASON = "storeops_post_purchase_hold_reason"


def _quoted(value: str) -> str:
    """A string literal for Klaviyo's filter syntax."""
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise ValueError(f"cannot quote {value!r} for a Klaviyo filter")


def _filter_time(value: datetime) -> str:
    # Truncated to the second: a "changed since" read may repeat a record, never miss one.
    if value.tzinfo is None:
        raise ValueError("naive datetime: storeops uses timezone-aware datetimes only")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class KlaviyoClient(VendorClient):
    vendor = "klaviyo"
    revision = REVISION

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, *, timeout_s: float = 30.0,
                 limits: KlaviyoRateLimits | None = None, transport: httpx.BaseTransport | None = None) -> None:
        if not api_key:
            raise ConfigError("klaviyo: no private API key configured")
        super().__init__(base_url, headers={"Authorization": f"Klaviyo-API-Key {api_key}", "revision": REVISION,
                                            "Accept": JSONAPI},
                         timeout_s=timeout_s, transport=transport)
        self.limits = limits or shared_rate_limits(api_key)

    # --- plumbing -----------------------------------------------------------------------------
    def _send(self, method: str, template: str, *, ids: Mapping[str, str] | None = None,
              params: Any = None, body: Mapping[str, Any] | None = None) -> httpx.Response:
        # "$" and ":" are legal in a path segment and appear in catalog item ids.
        path = template.format(**{k: quote(v, safe="$:") for k, v in (ids or {}).items()})
        self.limits.acquire(method, template)
        try:
            response = self.request(method, path, params=params,
                                    content=payloads.dumps(body) if body is not None else None,
                                    headers={"Content-Type": JSONAPI} if body is not None else None)
        except VendorError as exc:
            if exc.status == 429:
                self.limits.throttled(method, template, exc.retry_after)
            raise
        self.limits.observe(method, template, response.headers)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if not response.content:
            return {}
        return json.loads(response.content, parse_float=Decimal)  # type: ignore[no-any-return]

    def _pages(self, template: str, params: list[tuple[str, str]], *,
               ids: Mapping[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following links.next (Klaviyo's cursor pagination)."""
        expected_path = template.format(**{k: quote(v, safe="$:") for k, v in (ids or {}).items()})
        query: list[tuple[str, str]] = params
        while True:
            doc = self._json(self._send("GET", template, ids=ids, params=query))
            yield doc
            next_link = (doc.get("links") or {}).get("next")
            if not next_link:
                return
            parts = urlsplit(next_link)
            # Only the cursor is taken from the link; the request goes to our own base URL, so
            # a link naming another host never receives the API key.
            if parts.path.rstrip("/") != expected_path.rstrip("/"):
                raise VendorError(self.vendor, f"unexpected links.next path {parts.path!r} for {template}")
            query = parse_qsl(parts.query, keep_blank_values=True)

    def _collect(self, template: str, params: list[tuple[str, str]], *,
                 ids: Mapping[str, str] | None = None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        for doc in self._pages(template, params, ids=ids):
            for resource in doc.get("data") or []:
                yield resource, doc

    # --- Connector protocol -------------------------------------------------------------------
    def check(self) -> None:
        """GET /api/accounts: the cheapest call that proves the private key (XS tier: 1/s, 15/m)."""
        try:
            self._send("GET", "/api/accounts")
        except VendorError as exc:
            if exc.status in (401, 403):
                raise ConfigError(f"klaviyo: the private API key was refused (HTTP {exc.status})") from exc
            raise

    def ensure_subscriptions(self, callback_url: str) -> list[str]:
        """Klaviyo pushes nothing storeops needs today, so no webhook is created.

        storeops writes to Klaviyo (events, profiles, list membership, catalog) and reads
        back what it needs for reconciliation by polling (list_profiles, list_events). Klaviyo's
        system webhooks (/api/webhooks, XS tier) report Klaviyo-side activity (e.g. email
        opens) that no storeops flow consumes; KlaviyoWebhookVerifier is ready for when one does.
        """
        del callback_url
        return []

    # --- events ---------------------------------------------------------------------------------
    def track_event(self, metric_name: str, profile: ProfileInput, properties: Mapping[str, Any], *,
                    unique_id: str, value: Decimal | None = None, value_currency: str | None = None,
                    time: datetime | None = None) -> None:
        """POST /api/events. `unique_id` (e.g. derived from our event and action) makes a retry
        harmless: Klaviyo keeps only the first event per profile, metric and unique_id."""
        if not unique_id:
            raise ValueError("track_event needs a unique_id: it is what makes retries safe")
        event = EventInput(metric_name=metric_name, profile=profile, unique_id=unique_id, properties=properties,
                           value=value, value_currency=value_currency, time=time)
        self._send("POST", "/api/events", body=payloads.event(event))

    def track_events_bulk(self, events: Sequence[EventInput]) -> int:
        """POST /api/event-bulk-create-jobs, one job per 1,000 events; returns the jobs sent."""
        if any(not e.unique_id for e in events):
            raise ValueError("every event needs a unique_id")
        jobs = 0
        for chunk in _chunks(events, BULK_EVENTS_MAX):
            self._send("POST", "/api/event-bulk-create-jobs", body=payloads.events_bulk(chunk))
            jobs += 1
        return jobs

    def list_events(self, since: datetime | None = None, *, page_size: int = 200) -> list[Event]:
        """GET /api/events, oldest first, from `since` (inclusive, to the second)."""
        params = [("include", "metric"), ("sort", "datetime"), ("page[size]", str(page_size))]
        if since is not None:
            params.append(("filter", f"greater-or-equal(datetime,{_filter_time(since)})"))
        events: list[Event] = []
        for doc in self._pages("/api/events", params):
            names = {str(r["id"]): str((r.get("attributes") or {}).get("name"))
                     for r in doc.get("included") or [] if r.get("type") == "metric"}
            events += [Event.from_resource(r, names) for r in doc.get("data") or []]
        return events

    def list_metrics(self) -> list[Metric]:
        return [Metric.from_resource(r) for r, _ in self._collect("/api/metrics", [])]

    # --- profiles -------------------------------------------------------------------------------
    def upsert_profile(self, profile: ProfileInput, *, unset_properties: Sequence[str] = ()) -> Profile:
        """POST /api/profile-import: create, or update the profile with the same identifier."""
        body = payloads.profile_upsert(profile, unset=unset_properties)
        return Profile.from_resource(self._json(self._send("POST", "/api/profile-import", body=body))["data"])

    def find_profile(self, email: str) -> Profile | None:
        params = [("filter", f"equals(email,{_quoted(email)})"), ("additional-fields[profile]", "subscriptions")]
        doc = self._json(self._send("GET", "/api/profiles", params=params))
        found = doc.get("data") or []
        return Profile.from_resource(found[0]) if found else None

    def update_profile(self, profile_id: str, attributes: Mapping[str, Any]) -> Profile:
        """PATCH /api/profiles/{id}; custom `properties` merge key by key, null clears a field."""
        body = payloads.profile_patch(profile_id, attributes)
        response = self._send("PATCH", "/api/profiles/{id}", ids={"id": profile_id}, body=body)
        return Profile.from_resource(self._json(response)["data"])

    def list_profiles(self, updated_since: datetime | None = None, *, page_size: int = 100) -> list[Profile]:
        """GET /api/profiles, oldest change first; with `updated_since`, only profiles changed after it."""
        params = [("sort", "updated"), ("page[size]", str(page_size))]
        if updated_since is not None:
            params.append(("filter", f"greater-than(updated,{_filter_time(updated_since)})"))
        return [Profile.from_resource(r) for r, _ in self._collect("/api/profiles", params)]

    def suppress_email_marketing(self, emails: Sequence[str]) -> list[str]:
        """POST /api/profile-suppression-bulk-create-jobs (100 emails per job): no email marketing
        at all, flows included, until unsuppressed. Only for customers who asked for it; to skip
        just the post-purchase flows use hold_post_purchase_flows. Returns the job ids."""
        jobs = []
        for chunk in _chunks(list(emails), SUPPRESS_MAX):
            doc = self._json(self._send("POST", "/api/profile-suppression-bulk-create-jobs",
                                        body=payloads.suppression(chunk)))
            jobs.append(str(doc["data"]["id"]))
        return jobs

    def hold_post_purchase_flows(self, profile: ProfileInput, reason: str) -> Profile:
        """Mark a profile so post-purchase flows skip it (an open return, a complaint).

        Klaviyo's API has no "skip this flow" switch: suppression stops all email marketing and
        list removal does not affect metric-triggered flows. A profile property does, with a flow
        filter `storeops_post_purchase_hold is not true` set up once in Klaviyo."""
        props = {**profile.properties, POST_PURCHASE_HOLD: True, POST_PURCHASE_HOLD_REASON: reason}
        return self.upsert_profile(ProfileInput(email=profile.email, phone_number=profile.phone_number,
                                                external_id=profile.external_id, properties=props))

    def release_post_purchase_flows(self, profile: ProfileInput) -> Profile:
        return self.upsert_profile(profile, unset_properties=[POST_PURCHASE_HOLD, POST_PURCHASE_HOLD_REASON])

    # --- lists and segments ---------------------------------------------------------------------
    def add_to_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        for chunk in _chunks(list(profile_ids), LIST_MEMBERS_MAX):
            self._send("POST", "/api/lists/{id}/relationships/profiles", ids={"id": list_id},
                       body=payloads.members(chunk))

    def remove_from_list(self, list_id: str, profile_ids: Sequence[str]) -> None:
        for chunk in _chunks(list(profile_ids), LIST_MEMBERS_MAX):
            self._send("DELETE", "/api/lists/{id}/relationships/profiles", ids={"id": list_id},
                       body=payloads.members(chunk))

    def list_lists(self) -> list[KlaviyoList]:
        return [KlaviyoList.from_resource(r) for r, _ in self._collect("/api/lists", [])]

    def list_members(self, list_id: str) -> list[Profile]:
        params = [("page[size]", "100")]
        return [Profile.from_resource(r) for r, _ in self._collect("/api/lists/{id}/profiles", params,
                                                                   ids={"id": list_id})]

    def list_segments(self) -> list[Segment]:
        return [Segment.from_resource(r) for r, _ in self._collect("/api/segments", [])]

    # --- catalog --------------------------------------------------------------------------------
    @staticmethod
    def catalog_item_id(external_id: str) -> str:
        # Klaviyo's id for a custom catalog item (get_catalog_items' filter example).
        return f"$custom:::$default:::{external_id}"

    def upsert_catalog_item(self, item: CatalogItemInput) -> CatalogItem:
        """PATCH the item; create it when Klaviyo answers 404 (an update is the common case)."""
        item_id = self.catalog_item_id(item.external_id)
        try:
            response = self._send("PATCH", "/api/catalog-items/{id}", ids={"id": item_id},
                                  body=payloads.catalog_item_update(item_id, item))
        except VendorError as exc:
            if exc.status != 404:
                raise
            response = self._send("POST", "/api/catalog-items", body=payloads.catalog_item_create(item))
        return CatalogItem.from_resource(self._json(response)["data"])

    def create_catalog_items_bulk(self, items: Sequence[CatalogItemInput]) -> list[str]:
        """POST /api/catalog-item-bulk-create-jobs, 100 items per job; returns the job ids."""
        jobs = []
        for chunk in _chunks(list(items), CATALOG_BULK_MAX):
            doc = self._json(self._send("POST", "/api/catalog-item-bulk-create-jobs",
                                        body=payloads.catalog_items_bulk_create(chunk)))
            jobs.append(str(doc["data"]["id"]))
        return jobs

    def get_catalog_item(self, external_id: str) -> CatalogItem | None:
        """One custom catalog item by our external id; None when Klaviyo has none."""
        try:
            response = self._send("GET", "/api/catalog-items/{id}", ids={"id": self.catalog_item_id(external_id)})
        except VendorError as exc:
            if exc.status == 404:
                return None
            raise
        return CatalogItem.from_resource(self._json(response)["data"])

    def list_catalog_items(self, *, page_size: int = 100) -> list[CatalogItem]:
        params = [("page[size]", str(page_size))]
        return [CatalogItem.from_resource(r) for r, _ in self._collect("/api/catalog-items", params)]

