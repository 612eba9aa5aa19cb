"""Events and metrics: POST /api/events, POST /api/event-bulk-create-jobs, GET /api/events,
GET /api/metrics (operations create_event, bulk_create_events, get_events, get_metrics)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from storeops.sandbox.klaviyo import resources
from storeops.sandbox.klaviyo.calls import Call, RouteSpec, listed, optional_datetime, resource, sort_order
from storeops.sandbox.klaviyo.jsonapi import (
    VndJSON,
    apply_filter,
    invalid,
    page_size,
    paginate,
    parse_filter,
    sparse,
    stamp,
)
from storeops.sandbox.klaviyo.store import Event, Metric, now

# bulk_create_events: "Accepts up to 1,000 events per request."
BULK_EVENTS_MAX = 1000
COMPARE = {"greater-or-equal", "greater-than", "less-or-equal", "less-than"}
EVENT_FILTERS = {"metric_id": {"equals"}, "profile_id": {"equals"}, "profile": {"has"}, "metric": {"has"},
                 "datetime": COMPARE, "timestamp": COMPARE}
METRIC_FILTERS = {"integration.name": {"equals"}, "integration.category": {"equals"}}


def _event_attributes(raw: dict[str, Any], pointer: str) -> dict[str, Any]:
    attributes = dict(raw)
    if not isinstance(attributes.get("properties"), dict):
        raise invalid("'properties' is required and must be an object.", pointer=f"{pointer}/properties")
    if not isinstance(attributes.get("metric"), dict):
        raise invalid("'metric' is required.", pointer=f"{pointer}/metric")
    attributes["time"] = optional_datetime(attributes.get("time"), f"{pointer}/time")
    return attributes


def create_event(call: Call) -> Response:
    data = resource(call, "event")
    attributes = _event_attributes(data.get("attributes") or {}, "/data/attributes")
    profile_data = (attributes.get("profile") or {}).get("data")
    if not isinstance(profile_data, dict) or profile_data.get("type") != "profile":
        raise invalid("'profile' must hold a profile resource.", pointer="/data/attributes/profile")
    received = now()
    call.store.track(call.store.identify(profile_data, at=received), attributes, received=received)
    return Response(status_code=202)


def bulk_create_events(call: Call) -> Response:
    data = resource(call, "event-bulk-create-job")
    entries = ((data.get("attributes") or {}).get("events-bulk-create") or {}).get("data")
    if not isinstance(entries, list):
        raise invalid("'events-bulk-create.data' must be a list.", pointer="/data/attributes/events-bulk-create")
    batches: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for i, entry in enumerate(entries):
        pointer = f"/data/attributes/events-bulk-create/data/{i}"
        if not isinstance(entry, dict) or entry.get("type") != "event-bulk-create":
            raise invalid("Each entry must be an 'event-bulk-create' resource.", pointer=pointer)
        attributes = entry.get("attributes") or {}
        profile_data = (attributes.get("profile") or {}).get("data")
        events = (attributes.get("events") or {}).get("data")
        if not isinstance(profile_data, dict) or not isinstance(events, list):
            raise invalid("Each entry needs 'profile' and 'events'.", pointer=f"{pointer}/attributes")
        parsed = []
        for j, item in enumerate(events):
            if not isinstance(item, dict) or item.get("type") != "event":
                raise invalid("Each event must be an 'event' resource.",
                              pointer=f"{pointer}/attributes/events/data/{j}")
            parsed.append(_event_attributes(item.get("attributes") or {},
                                            f"{pointer}/attributes/events/data/{j}/attributes"))
        batches.append((profile_data, parsed))
    total = sum(len(events) for _, events in batches)
    if total > BULK_EVENTS_MAX:
        raise invalid(f"A bulk job accepts up to {BULK_EVENTS_MAX} events; got {total}.",
                      pointer="/data/attributes/events-bulk-create/data")
    # Klaviyo runs the job later; the sandbox runs it before answering, so reads see it at once.
    received = now()
    for profile_data, events in batches:
        profile = call.store.identify(profile_data, at=received)
        for attributes in events:
            call.store.track(profile, attributes, received=received)
    return Response(status_code=202)


def _event_field(record: Event, name: str) -> Any:
    return {"metric_id": record.metric_id, "profile_id": record.profile_id, "profile": record.profile_id,
            "metric": record.metric_id, "datetime": record.time,
            "timestamp": int(record.time.timestamp())}[name]


def get_events(call: Call) -> Response:
    terms = parse_filter(call.query.get("filter"), EVENT_FILTERS)
    # datetime and timestamp are the same instant, so they order events the same way.
    _, descending = sort_order(call.query, {"datetime", "timestamp"}, "datetime")
    size = page_size(call.query, default=200, maximum=1000)
    records = apply_filter(call.store.events.values(), terms, _event_field)
    page, links = paginate(records, sort_key=lambda e: (stamp(e.time), e.seq), descending=descending,
                           query=call.query, url=call.url, size=size)
    data = [sparse(resources.event(call.base, e), call.query) for e in page]
    included = None
    wanted = listed(call.query, "include")
    if wanted:
        included = []
        if "metric" in wanted:
            metric_ids = dict.fromkeys(e.metric_id for e in page)
            included += [resources.metric(call.base, call.store.metrics[m]) for m in metric_ids]
        if "profile" in wanted:
            profile_ids = dict.fromkeys(e.profile_id for e in page)
            included += [resources.profile(call.base, call.store.profiles[p]) for p in profile_ids]
    return VndJSON(resources.document(data, links=links, included=included))


def _metric_field(_: Metric, name: str) -> Any:
    return {"integration.name": "API", "integration.category": "API"}[name]


def get_metrics(call: Call) -> Response:
    terms = parse_filter(call.query.get("filter"), METRIC_FILTERS)
    records = apply_filter(call.store.metrics.values(), terms, _metric_field)
    # get_metrics: "Returns a maximum of 200 results per page" and takes no page[size].
    page, links = paginate(records, sort_key=lambda m: (stamp(m.created), m.seq), descending=False,
                           query=call.query, url=call.url, size=200)
    return VndJSON(resources.document([resources.metric(call.base, m) for m in page], links=links))


ROUTES: list[RouteSpec] = [
    ("POST", "/api/events", create_event),
    ("POST", "/api/event-bulk-create-jobs", bulk_create_events),
    ("GET", "/api/events", get_events),
    ("GET", "/api/metrics", get_metrics),
]
