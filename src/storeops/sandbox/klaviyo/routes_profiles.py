"""Profiles: GET/POST /api/profiles, GET/PATCH /api/profiles/{id}, POST /api/profile-import,
POST /api/profile-suppression-bulk-create-jobs (operations get_profiles, create_profile,
get_profile, update_profile, create_or_update_profile, bulk_suppress_profiles)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from storeops.sandbox.klaviyo import resources
from storeops.sandbox.klaviyo.calls import Call, RouteSpec, listed, resource, sort_order
from storeops.sandbox.klaviyo.jsonapi import (
    KlaviyoError,
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
from storeops.sandbox.klaviyo.store import Profile, now

IDENTIFIERS = ("email", "phone_number", "external_id")
PROFILE_FILTERS = {
    "id": {"any", "equals"}, "email": {"any", "equals"}, "phone_number": {"any", "equals"},
    "external_id": {"any", "equals"}, "_kx": {"equals"},
    "created": {"greater-than", "less-than"}, "updated": {"greater-than", "less-than"},
}
PROFILE_SORTS = {"created", "email", "id", "updated"}
# bulk_suppress_profiles: "Email address per request limit: 100".
SUPPRESS_MAX = 100


def _profile_field(record: Profile, name: str) -> Any:
    if name == "_kx":
        return None
    return getattr(record, name)


def _sort_value(record: Profile, field: str) -> int | str:
    value = getattr(record, field)
    return stamp(value) if field in ("created", "updated") else (value or "")


def profile_doc(call: Call, record: Profile) -> dict[str, Any]:
    subscriptions = "subscriptions" in listed(call.query, "additional-fields[profile]")
    return resources.profile(call.base, record, subscriptions=subscriptions)


def _check_attributes(attributes: dict[str, Any]) -> None:
    email = attributes.get("email")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise invalid(f"Invalid email address: {email!r}.", pointer="/data/attributes/email")
    properties = attributes.get("properties")
    if properties is not None and not isinstance(properties, dict):
        raise invalid("'properties' must be an object.", pointer="/data/attributes/properties")


def _duplicate(call: Call, attributes: dict[str, Any], *, except_id: str | None = None) -> None:
    """409 like Klaviyo's duplicate_profile, naming the existing profile in meta."""
    for name in IDENTIFIERS:
        if attributes.get(name):
            other = call.store.find_profile(**{name: attributes[name]})
            if other is not None and other.id != except_id:
                raise KlaviyoError(409, "duplicate_profile", "Conflict.",
                                   "A profile already exists with one of these identifiers.",
                                   pointer="/data/attributes", meta={"duplicate_profile_id": other.id})


def get_profiles(call: Call) -> Response:
    terms = lower_emails(parse_filter(call.query.get("filter"), PROFILE_FILTERS))
    field, descending = sort_order(call.query, PROFILE_SORTS, "id")
    size = page_size(call.query, default=20, maximum=100)
    records = apply_filter(call.store.profiles.values(), terms, _profile_field)
    page, links = paginate(records, sort_key=lambda p: (_sort_value(p, field), p.seq), descending=descending,
                           query=call.query, url=call.url, size=size)
    return VndJSON(resources.document([sparse(profile_doc(call, p), call.query) for p in page], links=links))


def create_profile(call: Call) -> Response:
    attributes = resource(call, "profile").get("attributes") or {}
    _check_attributes(attributes)
    if not any(attributes.get(name) for name in IDENTIFIERS):
        raise invalid("One of email, phone_number or external_id is required.", pointer="/data/attributes")
    _duplicate(call, attributes)
    record = call.store.create_profile(attributes)
    return VndJSON({"data": profile_doc(call, record), "links": {"self": str(call.url)}}, status_code=201)


def _profile(call: Call) -> Profile:
    record = call.store.profiles.get(call.path["id"])
    if record is None:
        raise not_found(f"A profile with id {call.path['id']} does not exist.")
    return record


def get_profile(call: Call) -> Response:
    return VndJSON({"data": sparse(profile_doc(call, _profile(call)), call.query), "links": {"self": str(call.url)}})


def update_profile(call: Call) -> Response:
    data = resource(call, "profile")
    record = _profile(call)
    if data.get("id") != record.id:
        raise KlaviyoError(409, "conflict", "Conflict.", "The id in the body does not match the URL.",
                           pointer="/data/id")
    attributes = data.get("attributes") or {}
    _check_attributes(attributes)
    _duplicate(call, attributes, except_id=record.id)
    call.store.apply_profile(record, attributes, meta=data.get("meta"))
    return VndJSON({"data": profile_doc(call, record), "links": {"self": str(call.url)}})


def import_profile(call: Call) -> Response:
    """create_or_update_profile: 201 when created, 200 when an existing profile was updated."""
    data = resource(call, "profile")
    attributes = data.get("attributes") or {}
    _check_attributes(attributes)
    record = call.store.find_profile(id=data.get("id"), email=attributes.get("email"),
                                     phone_number=attributes.get("phone_number"),
                                     external_id=attributes.get("external_id"))
    if record is None and data.get("id"):
        raise not_found(f"A profile with id {data['id']} does not exist.")
    if record is None:
        if not any(attributes.get(name) for name in IDENTIFIERS):
            raise invalid("One of id, email, phone_number or external_id is required.", pointer="/data/attributes")
        record = call.store.create_profile(attributes)
        call.store.apply_profile(record, {}, meta=data.get("meta"), at=record.created)
        status = 201
    else:
        call.store.apply_profile(record, attributes, meta=data.get("meta"))
        status = 200
    return VndJSON({"data": profile_doc(call, record), "links": {"self": str(call.url)}}, status_code=status)


def suppress_profiles(call: Call) -> Response:
    """bulk_suppress_profiles: email marketing suppression ("USER_SUPPRESSED") by email, or for
    every member of a list. Klaviyo runs it as a job; the sandbox completes it at once."""
    data = resource(call, "profile-suppression-bulk-create-job")
    entries = ((data.get("attributes") or {}).get("profiles") or {}).get("data") or []
    relationships = data.get("relationships") or {}
    if len(entries) > SUPPRESS_MAX:
        raise invalid(f"At most {SUPPRESS_MAX} email addresses per request.", pointer="/data/attributes/profiles/data")
    emails: list[str] = []
    for i, entry in enumerate(entries):
        email = ((entry or {}).get("attributes") or {}).get("email")
        if not isinstance(email, str) or "@" not in email:
            raise invalid("Each profile needs a valid email.", pointer=f"/data/attributes/profiles/data/{i}")
        emails.append(email)
    targets = [call.store.find_profile(email=e) or call.store.create_profile({"email": e}) for e in emails]
    list_ref = ((relationships.get("list") or {}).get("data") or {}).get("id")
    if list_ref:
        klist = call.store.lists.get(list_ref)
        if klist is None:
            raise not_found(f"A list with id {list_ref} does not exist.")
        targets += [call.store.profiles[p] for p in klist.members]
    if not targets and not emails and not list_ref:
        raise invalid("Give profiles (emails) or a list to suppress.", pointer="/data")
    stamp_now = now()
    for record in targets:
        if not record.suppression:
            record.suppression = [{"reason": "USER_SUPPRESSED", "timestamp": iso(stamp_now)}]
            record.updated = stamp_now
    job = call.store.add_job("profile-suppression-bulk-create-job", len(targets), item_ids=[], errors=[])
    job.completed_count = len(targets)
    return VndJSON({"data": resources.job(call.base, job), "links": {"self": str(call.url)}}, status_code=202)


ROUTES: list[RouteSpec] = [
    ("GET", "/api/profiles", get_profiles),
    ("POST", "/api/profiles", create_profile),
    ("GET", "/api/profiles/{id}", get_profile),
    ("PATCH", "/api/profiles/{id}", update_profile),
    ("POST", "/api/profile-import", import_profile),
    ("POST", "/api/profile-suppression-bulk-create-jobs", suppress_profiles),
]
