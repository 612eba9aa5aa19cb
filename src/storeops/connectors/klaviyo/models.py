"""What the Klaviyo connector takes and returns: small dataclasses, money as Decimal,
timezone-aware datetimes. Field names follow Klaviyo's resource attributes
(vendor-specs/klaviyo/openapi-stable.json: ProfileResponseObjectResource,
EventResponseObjectResource, CatalogItemResponseObjectResource)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class ProfileInput:
    """A person as storeops knows them. At least one of email, phone_number, external_id."""

    email: str | None = None
    phone_number: str | None = None  # E.164
    external_id: str | None = None  # storeops' customer id
    first_name: str | None = None
    last_name: str | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)

    def attributes(self) -> dict[str, Any]:
        found = {name: getattr(self, name) for name in ("email", "phone_number", "external_id", "first_name",
                                                        "last_name") if getattr(self, name) is not None}
        if self.properties:
            found["properties"] = dict(self.properties)
        return found

    def identity(self) -> tuple[str | None, str | None, str | None]:
        return (self.email.lower() if self.email else None, self.phone_number, self.external_id)


@dataclass(frozen=True, slots=True)
class EventInput:
    """One event to track. `unique_id` is required: Klaviyo records only the first event with
    a given unique_id per profile and metric, which makes retries safe."""

    metric_name: str
    profile: ProfileInput
    unique_id: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    value: Decimal | None = None
    value_currency: str | None = None  # ISO 4217
    time: datetime | None = None


@dataclass(frozen=True, slots=True)
class CatalogItemInput:
    external_id: str
    title: str
    description: str
    url: str
    price: Decimal | None = None
    image_full_url: str | None = None
    published: bool = True
    custom_metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    email: str | None
    phone_number: str | None
    external_id: str | None
    first_name: str | None
    last_name: str | None
    properties: dict[str, Any]
    created: datetime | None
    updated: datetime | None
    email_suppressed: bool | None = None  # known only when subscriptions were asked for

    @classmethod
    def from_resource(cls, resource: Mapping[str, Any]) -> Profile:
        a = resource.get("attributes") or {}
        marketing = ((a.get("subscriptions") or {}).get("email") or {}).get("marketing")
        return cls(id=str(resource["id"]), email=a.get("email"), phone_number=a.get("phone_number"),
                   external_id=a.get("external_id"), first_name=a.get("first_name"), last_name=a.get("last_name"),
                   properties=dict(a.get("properties") or {}), created=parse_time(a.get("created")),
                   updated=parse_time(a.get("updated")),
                   email_suppressed=bool(marketing.get("suppression")) if isinstance(marketing, dict) else None)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    metric_id: str | None
    metric_name: str | None
    profile_id: str | None
    time: datetime | None
    properties: dict[str, Any]

    @property
    def unique_id(self) -> str | None:
        # Klaviyo returns the unique_id an event was tracked with as event_properties.$event_id.
        value = self.properties.get("$event_id")
        return str(value) if value is not None else None

    @classmethod
    def from_resource(cls, resource: Mapping[str, Any], metric_names: Mapping[str, str]) -> Event:
        a = resource.get("attributes") or {}
        rel = resource.get("relationships") or {}
        metric_id = ((rel.get("metric") or {}).get("data") or {}).get("id")
        profile_id = ((rel.get("profile") or {}).get("data") or {}).get("id")
        return cls(id=str(resource["id"]), metric_id=metric_id, metric_name=metric_names.get(metric_id or ""),
                   profile_id=profile_id, time=parse_time(a.get("datetime")),
                   properties=dict(a.get("event_properties") or {}))


@dataclass(frozen=True, slots=True)
class Metric:
    id: str
    name: str

    @classmethod
    def from_resource(cls, resource: Mapping[str, Any]) -> Metric:
        return cls(id=str(resource["id"]), name=str((resource.get("attributes") or {}).get("name")))


@dataclass(frozen=True, slots=True)
class KlaviyoList:
    id: str
    name: str

    @classmethod
    def from_resource(cls, resource: Mapping[str, Any]) -> KlaviyoList:
        return cls(id=str(resource["id"]), name=str((resource.get("attributes") or {}).get("name")))


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    name: str

    @classmethod
    def from_resource(cls, resource: Mapping[str, Any]) -> Segment:
        return cls(id=str(resource["id"]), name=str((resource.get("attributes") or {}).get("name")))


@dataclass(frozen=True, slots=True)
class CatalogItem:
    id: str
    external_id: str | None
    title: str | None
    description: str | None
    url: str | None
    price: Decimal | None
    published: bool | None
    custom_metadata: dict[str, Any] | None
    updated: datetime | None

    @classmethod
    def from_resource(cls, resource: Mapping[str, Any]) -> CatalogItem:
        a = resource.get("attributes") or {}
        price = a.get("price")
        return cls(id=str(resource["id"]), external_id=a.get("external_id"), title=a.get("title"),
                   description=a.get("description"), url=a.get("url"),
                   price=Decimal(str(price)) if price is not None else None, published=a.get("published"),
                   custom_metadata=a.get("custom_metadata"), updated=parse_time(a.get("updated")))
