"""Catalog items: GET/POST /api/catalog-items, GET/PATCH /api/catalog-items/{id}, and the bulk
create / update jobs (operations get_catalog_items, create_catalog_item, get_catalog_item,
update_catalog_item, bulk_create_catalog_items, get_bulk_create_catalog_items_job,
bulk_update_catalog_items, get_bulk_update_catalog_items_job). Variants and categories are
not emulated: every item answers with an empty `variants` relationship."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from storeops.sandbox.klaviyo import resources
from storeops.sandbox.klaviyo.calls import Call, RouteSpec, resource, sort_order
from storeops.sandbox.klaviyo.jsonapi import (
    KlaviyoError,
    VndJSON,
    apply_filter,
    invalid,
    not_found,
    page_size,
    paginate,
    parse_filter,
    sparse,
    stamp,
)
from storeops.sandbox.klaviyo.store import CatalogItem, StoreError

# bulk_create_catalog_items / bulk_update_catalog_items: "Accepts up to 100 catalog items per request."
BULK_ITEMS_MAX = 100
ITEM_FILTERS = {"ids": {"any"}, "category.id": {"equals"}, "title": {"contains"}, "published": {"equals"}}


def _item_field(record: CatalogItem, name: str) -> Any:
    return {"ids": record.id, "category.id": None, "title": record.title, "published": record.published}[name]


def get_items(call: Call) -> Response:
    terms = parse_filter(call.query.get("filter"), ITEM_FILTERS)
    _, descending = sort_order(call.query, {"created"}, "created")
    size = page_size(call.query, default=100, maximum=100)
    records = apply_filter(call.store.catalog_items.values(), terms, _item_field)
    page, links = paginate(records, sort_key=lambda r: (stamp(r.created), r.seq), descending=descending,
                           query=call.query, url=call.url, size=size)
    data = [sparse(resources.catalog_item(call.base, r), call.query) for r in page]
    # Variants are not emulated, so `include=variants` answers with an empty `included`.
    included: list[dict[str, Any]] | None = [] if "variants" in call.query.get("include", "") else None
    return VndJSON(resources.document(data, links=links, included=included))


def create_item(call: Call) -> Response:
    attributes = resource(call, "catalog-item").get("attributes") or {}
    record = call.store.create_catalog_item(attributes)
    return VndJSON({"data": resources.catalog_item(call.base, record), "links": {"self": str(call.url)}},
                   status_code=201)


def _item(call: Call) -> CatalogItem:
    record = call.store.catalog_items.get(call.path["id"])
    if record is None:
        raise not_found(f"A catalog item with id {call.path['id']} does not exist.")
    return record


def get_item(call: Call) -> Response:
    return VndJSON({"data": sparse(resources.catalog_item(call.base, _item(call)), call.query),
                    "links": {"self": str(call.url)}})


def update_item(call: Call) -> Response:
    data = resource(call, "catalog-item")
    record = _item(call)
    if data.get("id") != record.id:
        raise KlaviyoError(409, "conflict", "Conflict.", "The id in the body does not match the URL.",
                           pointer="/data/id")
    call.store.update_catalog_item(record, data.get("attributes") or {})
    return VndJSON({"data": resources.catalog_item(call.base, record), "links": {"self": str(call.url)}})


def _job_items(call: Call, job_type: str) -> list[dict[str, Any]]:
    data = resource(call, job_type)
    items = ((data.get("attributes") or {}).get("items") or {}).get("data")
    if not isinstance(items, list):
        raise invalid("'items.data' must be a list.", pointer="/data/attributes/items")
    if len(items) > BULK_ITEMS_MAX:
        raise invalid(f"A job accepts up to {BULK_ITEMS_MAX} catalog items.", pointer="/data/attributes/items/data")
    return items


def _job_error(exc: StoreError, pointer: str) -> dict[str, Any]:
    return {"id": f"{exc.code}-{pointer}", "code": exc.code, "title": "Invalid input.", "detail": exc.detail,
            "source": {"pointer": pointer}}


def bulk_create(call: Call) -> Response:
    """Items that fail (e.g. duplicates) are reported in the job's errors, like Klaviyo's jobs."""
    items = _job_items(call, "catalog-item-bulk-create-job")
    done: list[str] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        try:
            done.append(call.store.create_catalog_item((item or {}).get("attributes") or {}).id)
        except StoreError as exc:
            errors.append(_job_error(exc, f"/data/attributes/items/data/{i}"))
    job = call.store.add_job("catalog-item-bulk-create-job", len(items), item_ids=done, errors=errors)
    return VndJSON({"data": resources.job(call.base, job), "links": {"self": str(call.url)}}, status_code=202)


def bulk_update(call: Call) -> Response:
    items = _job_items(call, "catalog-item-bulk-update-job")
    done: list[str] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        record = call.store.catalog_items.get(str((item or {}).get("id")))
        if record is None:
            errors.append(_job_error(StoreError(404, "not_found", "No catalog item with this id."),
                                     f"/data/attributes/items/data/{i}/id"))
            continue
        call.store.update_catalog_item(record, (item or {}).get("attributes") or {})
        done.append(record.id)
    job = call.store.add_job("catalog-item-bulk-update-job", len(items), item_ids=done, errors=errors)
    return VndJSON({"data": resources.job(call.base, job), "links": {"self": str(call.url)}}, status_code=202)


def get_job(call: Call) -> Response:
    job = call.store.jobs.get(call.path["job_id"])
    kind = call.url.path.split("/")[2].removesuffix("s")
    if job is None or job.type != kind:
        raise not_found(f"A job with id {call.path['job_id']} does not exist.")
    return VndJSON({"data": resources.job(call.base, job), "links": {"self": str(call.url)}})


ROUTES: list[RouteSpec] = [
    ("GET", "/api/catalog-items", get_items),
    ("POST", "/api/catalog-items", create_item),
    ("GET", "/api/catalog-items/{id}", get_item),
    ("PATCH", "/api/catalog-items/{id}", update_item),
    ("POST", "/api/catalog-item-bulk-create-jobs", bulk_create),
    ("GET", "/api/catalog-item-bulk-create-jobs/{job_id}", get_job),
    ("POST", "/api/catalog-item-bulk-update-jobs", bulk_update),
    ("GET", "/api/catalog-item-bulk-update-jobs/{job_id}", get_job),
]
