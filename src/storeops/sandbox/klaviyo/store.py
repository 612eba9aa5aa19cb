"""The Klaviyo sandbox's records and what happens to them (no HTTP here).

Behaviour copied from the spec's descriptions (vendor-specs/klaviyo/openapi-stable.json):
- create_event / bulk_create_events "allow you to create a new profile or update an existing
  profile's properties"; a profile is found by id, email, phone_number or external_id.
- EventCreateQueryV2.unique_id: "If the unique_id is repeated for the same profile and metric,
  only the first processed event will be recorded. If this is not present, this will use the
  time to the second." Event time "is truncated to the second", after 1990 and at most one
  year ahead.
- Metrics are created by the first event that names them (Klaviyo has no create-metric API).
- Catalog item ids are "$custom:::$default:::<external_id>" (get_catalog_items' filter example).
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

PROFILE_FIELDS = ("email", "phone_number", "external_id", "first_name", "last_name", "organization",
                  "locale", "title", "image")
CATALOG_FIELDS = ("title", "description", "price", "url", "image_full_url", "image_thumbnail_url", "images",
                  "custom_metadata", "published")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Profile:
    id: str
    seq: int
    created: datetime
    updated: datetime
    email: str | None = None
    phone_number: str | None = None
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    organization: str | None = None
    locale: str | None = None
    title: str | None = None
    image: str | None = None
    location: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    last_event_date: datetime | None = None
    suppression: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Metric:
    id: str
    seq: int
    name: str
    created: datetime
    updated: datetime


@dataclass
class Event:
    id: str
    seq: int
    uuid: str
    metric_id: str
    profile_id: str
    time: datetime
    properties: dict[str, Any]
    value: Decimal | None = None
    value_currency: str | None = None
    unique_id: str | None = None


@dataclass
class KList:
    id: str
    seq: int
    name: str
    created: datetime
    updated: datetime
    opt_in_process: str = "single_opt_in"
    members: dict[str, datetime] = field(default_factory=dict)  # profile id -> joined_group_at


@dataclass
class Segment:
    id: str
    seq: int
    name: str
    created: datetime
    updated: datetime
    is_active: bool = True
    is_processing: bool = False
    is_starred: bool = False


@dataclass
class CatalogItem:
    id: str
    seq: int
    external_id: str
    title: str
    description: str
    url: str
    created: datetime
    updated: datetime
    price: Decimal | None = None
    image_full_url: str | None = None
    image_thumbnail_url: str | None = None
    images: list[str] = field(default_factory=list)
    custom_metadata: dict[str, Any] | None = None
    published: bool = True


@dataclass
class Job:
    id: str
    seq: int
    type: str
    created_at: datetime
    total_count: int
    item_ids: list[str] = field(default_factory=list)
    completed_count: int = 0
    failed_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    status: str = "complete"
    completed_at: datetime | None = None


class StoreError(Exception):
    """A request the vendor would refuse; routes turn it into Klaviyo's error document."""

    def __init__(self, status: int, code: str, detail: str, *, pointer: str | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.pointer = pointer
        self.meta = meta


class Ids:
    """Klaviyo-looking ids from a seeded source: 26-character ULIDs for profiles and
    events, 6-character ids for metrics, lists, segments and the account."""

    ULID_CHARS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"klaviyo-ids-{seed}")

    def ulid(self) -> str:
        return "01" + "".join(self.rng.choice(self.ULID_CHARS) for _ in range(24))

    def short(self) -> str:
        return "".join(self.rng.choice(string.ascii_letters + string.digits) for _ in range(6))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def catalog_item_id(external_id: str) -> str:
    return f"$custom:::$default:::{external_id}"


class KlaviyoStore:
    def __init__(self, seed: int) -> None:
        self.ids = Ids(seed)
        self.seq = 0
        self.profiles: dict[str, Profile] = {}
        self.metrics: dict[str, Metric] = {}
        self.events: dict[str, Event] = {}
        self.lists: dict[str, KList] = {}
        self.segments: dict[str, Segment] = {}
        self.catalog_items: dict[str, CatalogItem] = {}
        self.jobs: dict[str, Job] = {}
        self.event_keys: set[tuple[str, str, str]] = set()  # (profile id, metric id, unique id)
        self.duplicate_events = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # --- profiles -------------------------------------------------------------------------
    def find_profile(self, *, id: str | None = None, email: str | None = None, phone_number: str | None = None,
                     external_id: str | None = None) -> Profile | None:
        if id:
            return self.profiles.get(id)
        for name, value in (("email", email), ("phone_number", phone_number), ("external_id", external_id)):
            if not value:
                continue
            wanted = value.lower() if name == "email" else value
            for profile in self.profiles.values():
                have = getattr(profile, name)
                if have and (have.lower() if name == "email" else have) == wanted:
                    return profile
        return None

    def create_profile(self, attributes: dict[str, Any], *, at: datetime | None = None) -> Profile:
        stamp = at or now()
        profile = Profile(id=self.ids.ulid(), seq=self.next_seq(), created=stamp, updated=stamp)
        self.apply_profile(profile, attributes, at=stamp)
        self.profiles[profile.id] = profile
        return profile

    def apply_profile(self, profile: Profile, attributes: dict[str, Any], *, meta: dict[str, Any] | None = None,
                      at: datetime | None = None) -> None:
        """Set the given attributes (null clears one); custom properties merge by key."""
        for name in PROFILE_FIELDS:
            if name in attributes:
                value = attributes[name]
                # Klaviyo keeps email addresses in lower case and matches them that way.
                setattr(profile, name, value.lower() if name == "email" and isinstance(value, str) else value)
        if isinstance(attributes.get("location"), dict):
            profile.location = {**profile.location, **attributes["location"]}
        if isinstance(attributes.get("properties"), dict):
            profile.properties = {**profile.properties, **attributes["properties"]}
        patch = (meta or {}).get("patch_properties") or {}
        for key, value in (patch.get("append") or {}).items():
            current = profile.properties.get(key)
            before = current if isinstance(current, list) else [] if current is None else [current]
            profile.properties[key] = [*before, value]
        for key, value in (patch.get("unappend") or {}).items():
            current = profile.properties.get(key)
            if isinstance(current, list):
                profile.properties[key] = [v for v in current if v != value]
        unset = patch.get("unset")
        for key in [unset] if isinstance(unset, str) else (unset or []):
            profile.properties.pop(key, None)
        profile.updated = at or now()

    def identify(self, data: dict[str, Any], *, at: datetime | None = None) -> Profile:
        """The profile an event names (found or created), updated with what the event says."""
        attributes = dict(data.get("attributes") or {})
        profile = self.find_profile(id=data.get("id"), email=attributes.get("email"),
                                    phone_number=attributes.get("phone_number"),
                                    external_id=attributes.get("external_id"))
        if profile is None:
            if data.get("id"):
                raise StoreError(400, "invalid", f"Profile {data['id']!r} does not exist.",
                                 pointer="/data/attributes/profile/data/id")
            if not any(attributes.get(k) for k in ("email", "phone_number", "external_id", "anonymous_id", "_kx")):
                raise StoreError(400, "invalid", "A profile identifier (id, email, phone_number or external_id) "
                                 "is required.", pointer="/data/attributes/profile/data/attributes")
            return self.create_profile({k: v for k, v in attributes.items() if k != "meta"}, at=at)
        settable = {k: v for k, v in attributes.items() if v is not None}
        if settable:
            self.apply_profile(profile, settable, meta=data.get("meta"), at=at)
        return profile

    # --- events and metrics ------------------------------------------------------------------
    def metric_named(self, name: str, *, at: datetime | None = None) -> Metric:
        for metric in self.metrics.values():
            if metric.name == name:
                return metric
        stamp = at or now()
        metric = Metric(id=self.ids.short(), seq=self.next_seq(), name=name, created=stamp, updated=stamp)
        self.metrics[metric.id] = metric
        return metric

    def track(self, profile: Profile, attributes: dict[str, Any], *, received: datetime | None = None) -> bool:
        """Record one event; False when its unique_id was seen for this profile and metric."""
        received = received or now()
        metric_data = ((attributes.get("metric") or {}).get("data") or {}).get("attributes") or {}
        name = metric_data.get("name")
        if not isinstance(name, str) or not name or len(name) >= 128:
            raise StoreError(400, "invalid", "metric name is required and must be under 128 characters.",
                             pointer="/data/attributes/metric/data/attributes/name")
        when = received
        if attributes.get("time"):
            when = attributes["time"]
            if not isinstance(when, datetime):
                raise StoreError(400, "invalid", "time must be an ISO 8601 date-time.", pointer="/data/attributes/time")
            if when.year < 1990 or when > received + timedelta(days=365):
                raise StoreError(400, "invalid", "time must be after 1990 and at most one year in the future.",
                                 pointer="/data/attributes/time")
        when = when.replace(microsecond=0)
        metric = self.metric_named(name, at=received)
        unique_id = attributes.get("unique_id") or when.isoformat()
        key = (profile.id, metric.id, str(unique_id))
        if key in self.event_keys:
            self.duplicate_events += 1
            return False
        self.event_keys.add(key)
        properties = dict(attributes.get("properties") or {})
        value = attributes.get("value")
        if attributes.get("unique_id"):
            properties.setdefault("$event_id", str(attributes["unique_id"]))
        if value is not None:
            properties.setdefault("$value", value)
        event = Event(id=self.ids.ulid(), seq=self.next_seq(), uuid=self.ids.uuid(), metric_id=metric.id,
                      profile_id=profile.id, time=when, properties=properties,
                      value=Decimal(str(value)) if value is not None else None,
                      value_currency=attributes.get("value_currency"), unique_id=attributes.get("unique_id"))
        self.events[event.id] = event
        if profile.last_event_date is None or when > profile.last_event_date:
            profile.last_event_date = when
        return True

    # --- catalog ------------------------------------------------------------------------------
    def create_catalog_item(self, attributes: dict[str, Any], *, at: datetime | None = None) -> CatalogItem:
        for name in ("external_id", "title", "description", "url"):
            if not isinstance(attributes.get(name), str):
                raise StoreError(400, "invalid", f"'{name}' is a required string.", pointer=f"/data/attributes/{name}")
        item_id = catalog_item_id(attributes["external_id"])
        if item_id in self.catalog_items:
            raise StoreError(409, "conflict", f"A catalog item with id {item_id!r} already exists.",
                             pointer="/data/attributes/external_id")
        stamp = at or now()
        item = CatalogItem(id=item_id, seq=self.next_seq(), external_id=attributes["external_id"],
                           title=attributes["title"], description=attributes["description"], url=attributes["url"],
                           created=stamp, updated=stamp)
        self.update_catalog_item(item, {k: v for k, v in attributes.items() if k in CATALOG_FIELDS}, at=stamp)
        self.catalog_items[item.id] = item
        return item

    def update_catalog_item(self, item: CatalogItem, attributes: dict[str, Any], *, at: datetime | None = None) -> None:
        for name in CATALOG_FIELDS:
            if name not in attributes:
                continue
            value = attributes[name]
            if name == "price" and value is not None:
                value = Decimal(str(value))
            if name == "images":
                value = list(value or [])
            if name == "published" and value is None:
                value = True
            setattr(item, name, value)
        item.updated = at or now()

    def add_job(self, kind: str, total: int, *, item_ids: list[str], errors: list[dict[str, Any]]) -> Job:
        stamp = now()
        job = Job(id=self.ids.ulid(), seq=self.next_seq(), type=kind, created_at=stamp, total_count=total,
                  item_ids=item_ids, completed_count=len(item_ids), failed_count=len(errors), errors=errors,
                  completed_at=stamp)
        self.jobs[job.id] = job
        return job
