"""The Gorgias records storeops reads, as small frozen dataclasses.

Each keeps the vendor's JSON in `raw` (for the inbox and decision records) and lifts out
the fields storeops decides on. Field names follow Gorgias's Ticket / TicketMessage /
Customer objects (shared/vendor-specs/gorgias/api-notes.yaml, objects.*).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def parse_datetime(value: Any) -> datetime | None:
    """Gorgias datetimes are ISO 8601; the docs' examples carry no offset and mean UTC
    ("2021-01-07T13:00:00.123456"), so a naive value is read as UTC."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _id(ref: Any) -> int | None:
    return ref.get("id") if isinstance(ref, Mapping) else None


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    status: str
    priority: str | None
    subject: str | None
    channel: str | None
    customer_id: int | None
    customer_email: str | None
    assignee_user_id: int | None
    assignee_team_id: int | None
    tags: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Ticket:
        customer = data.get("customer") or {}
        return cls(
            id=int(data["id"]),
            status=str(data.get("status") or ""),
            priority=data.get("priority"),
            subject=data.get("subject"),
            channel=data.get("channel"),
            customer_id=_id(customer),
            customer_email=customer.get("email"),
            assignee_user_id=_id(data.get("assignee_user")),
            assignee_team_id=_id(data.get("assignee_team")),
            tags=tuple(str(t.get("name")) for t in data.get("tags") or [] if isinstance(t, Mapping)),
            created_at=parse_datetime(data.get("created_datetime")),
            updated_at=parse_datetime(data.get("updated_datetime")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    ticket_id: int
    channel: str | None
    public: bool
    from_agent: bool
    body_text: str | None
    sender_email: str | None
    created_at: datetime | None
    sent_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def is_internal_note(self) -> bool:
        return not self.public

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Message:
        sender = data.get("sender") or {}
        return cls(
            id=int(data["id"]),
            ticket_id=int(data["ticket_id"]),
            channel=data.get("channel"),
            public=bool(data.get("public", True)),
            from_agent=bool(data.get("from_agent")),
            body_text=data.get("body_text"),
            sender_email=sender.get("email") if isinstance(sender, Mapping) else None,
            created_at=parse_datetime(data.get("created_datetime")),
            sent_at=parse_datetime(data.get("sent_datetime")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    email: str | None
    name: str | None
    data: Mapping[str, Any] | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Customer:
        return cls(id=int(data["id"]), email=data.get("email"), name=data.get("name"), data=data.get("data"),
                   raw=data)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    type: str
    object_type: str | None
    object_id: int | None
    created_at: datetime | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Event:
        return cls(id=int(data["id"]), type=str(data.get("type") or ""), object_type=data.get("object_type"),
                   object_id=data.get("object_id"), created_at=parse_datetime(data.get("created_datetime")),
                   raw=data)
