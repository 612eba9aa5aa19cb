"""Lists, list membership and segments: GET /api/lists, GET /api/lists/{id},
GET /api/lists/{id}/profiles, GET|POST|DELETE /api/lists/{id}/relationships/profiles,
GET /api/segments (operations get_lists, get_list, get_profiles_for_list,
get_profile_ids_for_list, add_profiles_to_list, remove_profiles_from_list, get_segments)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from storeops.sandbox.klaviyo import resources
from storeops.sandbox.klaviyo.calls import Call, RouteSpec, listed, resource_ids, sort_order
from storeops.sandbox.klaviyo.jsonapi import (
    VndJSON,
    apply_filter,
    invalid,
    iso,
    lower_emails,
    not_found,
    page_size,
    paginate,
    parse_filter,
    sparse,
    stamp,
)
from storeops.sandbox.klaviyo.routes_profiles import profile_doc
from storeops.sandbox.klaviyo.store import KList, Profile, Segment, now

# add_profiles_to_list: "This endpoint accepts a maximum of 1000 profiles per call."
MEMBERS_MAX = 1000
GROUP_FILTERS = {"name": {"any", "equals"}, "id": {"any", "equals"}, "created": {"greater-than"},
                 "updated": {"greater-than"}}
SEGMENT_FILTERS = {**GROUP_FILTERS, "is_active": {"any", "equals"}, "is_starred": {"equals"}}
MEMBER_FILTERS = {"email": {"any", "equals"}, "phone_number": {"any", "equals"}, "push_token": {"any", "equals"},
                  "_kx": {"equals"},
                  "joined_group_at": {"greater-or-equal", "greater-than", "less-or-equal", "less-than"}}
GROUP_SORTS = {"created", "id", "name", "updated"}


def _group_sort(record: KList | Segment, field: str) -> int | str:
    value = getattr(record, field)
    return stamp(value) if field in ("created", "updated") else value


def get_lists(call: Call) -> Response:
    terms = parse_filter(call.query.get("filter"), GROUP_FILTERS)
    field, descending = sort_order(call.query, GROUP_SORTS, "id")
    size = page_size(call.query, default=10, maximum=10)
    records = apply_filter(call.store.lists.values(), terms, lambda r, name: getattr(r, name))
    page, links = paginate(records, sort_key=lambda r: (_group_sort(r, field), r.seq), descending=descending,
                           query=call.query, url=call.url, size=size)
    data = [sparse(resources.klaviyo_list(call.base, r), call.query) for r in page]
    return VndJSON(resources.document(data, links=links))


def _list(call: Call) -> KList:
    record = call.store.lists.get(call.path["id"])
    if record is None:
        raise not_found(f"A list with id {call.path['id']} does not exist.")
    return record


def get_list(call: Call) -> Response:
    count = "profile_count" in listed(call.query, "additional-fields[list]")
    doc = resources.klaviyo_list(call.base, _list(call), profile_count=count)
    return VndJSON({"data": sparse(doc, call.query), "links": {"self": str(call.url)}})


def _members(call: Call) -> tuple[list[Profile], dict[str, str]]:
    record = _list(call)
    terms = lower_emails(parse_filter(call.query.get("filter"), MEMBER_FILTERS))
    _, descending = sort_order(call.query, {"joined_group_at"}, "joined_group_at")
    size = page_size(call.query, default=20, maximum=100)
    joined = record.members

    def field_of(profile: Profile, name: str) -> Any:
        if name == "joined_group_at":
            return joined[profile.id]
        return None if name in ("push_token", "_kx") else getattr(profile, name)

    members = apply_filter([call.store.profiles[p] for p in joined], terms, field_of)
    return paginate(members, sort_key=lambda p: (stamp(joined[p.id]), p.seq), descending=descending,
                    query=call.query, url=call.url, size=size)


def get_list_profiles(call: Call) -> Response:
    """ListMemberResponseObjectResource: a profile plus its required `joined_group_at`."""
    page, links = _members(call)
    joined = call.store.lists[call.path["id"]].members
    data = []
    for record in page:
        doc = profile_doc(call, record)
        doc["attributes"]["joined_group_at"] = iso(joined[record.id])
        data.append(sparse(doc, call.query))
    return VndJSON(resources.document(data, links=links))


def get_list_profile_ids(call: Call) -> Response:
    page, links = _members(call)
    return VndJSON({"data": [{"type": "profile", "id": p.id} for p in page], "links": links})


def _member_ids(call: Call) -> tuple[KList, list[str]]:
    record = _list(call)
    ids = resource_ids(call, "profile", limit=MEMBERS_MAX)
    unknown = [i for i in ids if i not in call.store.profiles]
    if unknown:
        raise invalid(f"Profiles do not exist: {', '.join(unknown[:5])}.", pointer="/data")
    return record, ids


def add_list_members(call: Call) -> Response:
    record, ids = _member_ids(call)
    joined = now()
    for profile_id in ids:
        record.members.setdefault(profile_id, joined)  # adding a member again keeps its join date
    record.updated = joined
    return Response(status_code=204)


def remove_list_members(call: Call) -> Response:
    record, ids = _member_ids(call)
    for profile_id in ids:
        record.members.pop(profile_id, None)
    record.updated = now()
    return Response(status_code=204)


def get_segments(call: Call) -> Response:
    terms = parse_filter(call.query.get("filter"), SEGMENT_FILTERS)
    field, descending = sort_order(call.query, GROUP_SORTS, "id")
    size = page_size(call.query, default=10, maximum=10)
    records = apply_filter(call.store.segments.values(), terms, lambda r, name: getattr(r, name))
    page, links = paginate(records, sort_key=lambda r: (_group_sort(r, field), r.seq), descending=descending,
                           query=call.query, url=call.url, size=size)
    data = [sparse(resources.segment(call.base, r), call.query) for r in page]
    return VndJSON(resources.document(data, links=links))


ROUTES: list[RouteSpec] = [
    ("GET", "/api/lists", get_lists),
    ("GET", "/api/lists/{id}", get_list),
    ("GET", "/api/lists/{id}/profiles", get_list_profiles),
    ("GET", "/api/lists/{id}/relationships/profiles", get_list_profile_ids),
    ("POST", "/api/lists/{id}/relationships/profiles", add_list_members),
    ("DELETE", "/api/lists/{id}/relationships/profiles", remove_list_members),
    ("GET", "/api/segments", get_segments),
]
