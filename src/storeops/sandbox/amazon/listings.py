"""Listings items: the records, the write semantics shared by the Listings Items API and
JSON_LISTINGS_FEED messages, and how a listing renders per includedData.

Write semantics (listingsItems_2021-08-01.json, listings-feed-message-schema-v2.json):
- put (feed UPDATE): the full attribute set replaces the old one; validated completely.
- patch (feed PATCH; PARTIAL_UPDATE is patch with "replace"): JSON-Patch-like ops on
  top-level attributes only ("/attributes/<name>"; "Patching nested attributes is not
  supported"). Only the touched attributes' values are checked, plus any required
  attribute the patch removes: an existing listing's old gaps do not block a price or
  quantity update, as on Amazon.
- delete: removes the listing.
A submission with an ERROR issue is INVALID and changes nothing; VALIDATION_PREVIEW
answers VALID / INVALID and never saves.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from storeops.sandbox.amazon import validation as v

PATCH_PATH = re.compile(r"^/attributes/([A-Za-z0-9_]+)$")
# Entries of one attribute are told apart by these keys (Amazon's "selectors").
SELECTORS = ("marketplace_id", "language_tag", "fulfillment_channel_code", "audience")


@dataclass
class Listing:
    sku: str
    product_type: str
    requirements: str
    attributes: dict[str, Any]
    asin: str
    fn_sku: str
    created: datetime
    updated: datetime
    issues: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Submission:
    sku: str
    status: str  # ACCEPTED | INVALID | VALID
    issues: list[dict[str, Any]]
    listing: Listing | None = None  # after the write (or the preview's would-be listing)

    @property
    def accepted(self) -> bool:
        return self.status in ("ACCEPTED", "VALID")


class ListingStore:
    def __init__(self, marketplace_id: str, now: Callable[[], datetime], new_asin: Callable[[], str],
                 new_fn_sku: Callable[[], str]) -> None:
        self.marketplace_id = marketplace_id
        self.now = now
        self.new_asin = new_asin
        self.new_fn_sku = new_fn_sku
        self.items: dict[str, Listing] = {}

    # --- writes ----------------------------------------------------------------------
    def put(self, sku: str, product_type: str, requirements: str, attributes: dict[str, Any], *,
            preview: bool = False) -> Submission:
        issues = v.validate_listing(product_type, requirements, attributes, self.marketplace_id)
        if v.has_errors(issues):
            return Submission(sku, "INVALID", issues)
        old = self.items.get(sku)
        now = self.now()
        listing = Listing(sku, product_type, requirements, copy.deepcopy(attributes),
                          old.asin if old else self.new_asin(), old.fn_sku if old else self.new_fn_sku(),
                          old.created if old else now, now, issues)
        if preview:
            return Submission(sku, "VALID", issues, listing)
        self.items[sku] = listing
        return Submission(sku, "ACCEPTED", issues, listing)

    def patch(self, sku: str, product_type: str, patches: list[dict[str, Any]], *,
              preview: bool = False) -> Submission:
        old = self.items.get(sku)
        if old is None:
            return Submission(sku, "INVALID", [v.issue(
                v.NOT_FOUND, f"SKU '{sku}' does not exist in marketplace {self.marketplace_id}; "
                "create it with putListingsItem first.", None, self.marketplace_id, category=None)])
        if product_type not in v.KNOWN_PRODUCT_TYPES:
            return Submission(sku, "INVALID", [v.issue(
                v.INVALID, f"The product type '{product_type}' is not supported in this marketplace.",
                None, self.marketplace_id, category="INVALID_ATTRIBUTE")])
        attributes = copy.deepcopy(old.attributes)
        issues: list[dict[str, Any]] = []
        touched: list[str] = []
        for op in patches:
            problem, name = apply_patch(attributes, op)
            if problem:
                issues.append(v.issue(v.INVALID, problem, name, self.marketplace_id, category="INVALID_ATTRIBUTE"))
            elif name:
                touched.append(name)
        issues += v.invalid_values(attributes, touched, self.marketplace_id)
        before = {i["attributeNames"][0] for i in v.missing_attributes(
            old.product_type, old.requirements, old.attributes, self.marketplace_id)}
        issues += [i for i in v.missing_attributes(old.product_type, old.requirements, attributes,
                                                   self.marketplace_id)
                   if i["attributeNames"][0] not in before]
        if v.has_errors(issues):
            return Submission(sku, "INVALID", issues)
        listing = copy.copy(old)
        listing.attributes = attributes
        listing.updated = self.now()
        listing.issues = v.validate_listing(old.product_type, old.requirements, attributes, self.marketplace_id)
        if preview:
            return Submission(sku, "VALID", issues, listing)
        self.items[sku] = listing
        return Submission(sku, "ACCEPTED", issues, listing)

    def delete(self, sku: str) -> Submission:
        if self.items.pop(sku, None) is None:
            return Submission(sku, "INVALID", [v.issue(
                v.NOT_FOUND, f"SKU '{sku}' does not exist in marketplace {self.marketplace_id}.",
                None, self.marketplace_id, category=None)])
        return Submission(sku, "ACCEPTED", [])

    # --- reads -----------------------------------------------------------------------
    def render(self, listing: Listing, included: list[str]) -> dict[str, Any]:
        """One Item (listingsItems model) with the requested data sets."""
        mp = self.marketplace_id
        attrs = listing.attributes
        item: dict[str, Any] = {"sku": listing.sku}
        if "summaries" in included:
            summary: dict[str, Any] = {
                "marketplaceId": mp, "asin": listing.asin, "productType": listing.product_type,
                "status": statuses(listing), "fnSku": listing.fn_sku,
                "createdDate": iso(listing.created), "lastUpdatedDate": iso(listing.updated),
            }
            name = first_value(attrs, "item_name")
            if isinstance(name, str):
                summary["itemName"] = name
            condition = first_value(attrs, "condition_type")
            if condition in v.CONDITION_TYPES:
                summary["conditionType"] = condition
            item["summaries"] = [summary]
        if "attributes" in included:
            item["attributes"] = copy.deepcopy(attrs)
        if "issues" in included:
            item["issues"] = copy.deepcopy(listing.issues)
        if "offers" in included:
            item["offers"] = offers(attrs, mp)
        if "fulfillmentAvailability" in included:
            item["fulfillmentAvailability"] = [
                {"fulfillmentChannelCode": e["fulfillment_channel_code"],
                 **({"quantity": e["quantity"]} if isinstance(e.get("quantity"), int) else {})}
                for e in attrs.get("fulfillment_availability", []) if isinstance(e, dict)
                and isinstance(e.get("fulfillment_channel_code"), str)
            ]
        if "procurement" in included:
            item["procurement"] = []  # vendor (1P) cost prices; sellers have none
        if "relationships" in included:
            item["relationships"] = [{"marketplaceId": mp, "relationships": []}]
        if "productTypes" in included:
            item["productTypes"] = [{"marketplaceId": mp, "productType": listing.product_type}]
        return item


def apply_patch(attributes: dict[str, Any], op: dict[str, Any]) -> tuple[str | None, str | None]:
    """Apply one patch operation in place; returns (problem, attribute name)."""
    match = PATCH_PATH.match(str(op.get("path", "")))
    if not match:
        return (f"Invalid patch path '{op.get('path')}': only top-level attributes (/attributes/<name>) "
                "can be patched."), None
    name = match.group(1)
    kind = op.get("op")
    value: list[dict[str, Any]] = op.get("value") or []
    if kind not in ("add", "replace", "merge", "delete"):
        return f"Unsupported patch operation '{kind}'.", name
    if kind != "delete" and (not isinstance(op.get("value"), list)
                             or not all(isinstance(e, dict) for e in value)):
        return f"The '{kind}' operation on '{name}' needs a value that is an array of objects.", name
    if kind in ("add", "replace"):
        attributes[name] = copy.deepcopy(value)
    elif kind == "merge":
        merged = list(attributes.get(name, []))
        for entry in value:
            at = next((i for i, old in enumerate(merged) if _same_selector(old, entry)), None)
            if at is None:
                merged.append(copy.deepcopy(entry))
            else:
                merged[at] = {**merged[at], **copy.deepcopy(entry)}
        attributes[name] = merged
    else:  # delete: the entries matching the given selectors, or the whole attribute
        if not value:
            attributes.pop(name, None)
        else:
            kept = [old for old in attributes.get(name, []) if not any(_same_selector(old, e) for e in value)]
            if kept:
                attributes[name] = kept
            else:
                attributes.pop(name, None)
    return None, name


def _same_selector(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = [k for k in SELECTORS if k in new]
    return all(old.get(k) == new[k] for k in keys)


def first_value(attributes: dict[str, Any], name: str) -> Any:
    entries = attributes.get(name)
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        return entries[0].get("value")
    return None


def default_quantity(attributes: dict[str, Any]) -> int | None:
    for entry in attributes.get("fulfillment_availability", []):
        if isinstance(entry, dict) and entry.get("fulfillment_channel_code") == "DEFAULT":
            quantity = entry.get("quantity")
            return quantity if isinstance(quantity, int) else None
    return None


def statuses(listing: Listing) -> list[str]:
    if v.has_errors(listing.issues):
        return []  # suppressed: neither discoverable nor buyable
    buyable = bool(listing.attributes.get("purchasable_offer")) and (default_quantity(listing.attributes) or 0) > 0
    return ["BUYABLE", "DISCOVERABLE"] if buyable else ["DISCOVERABLE"]


def offers(attributes: dict[str, Any], marketplace_id: str) -> list[dict[str, Any]]:
    result = []
    for entry in attributes.get("purchasable_offer", []):
        try:
            price = entry["our_price"][0]["schedule"][0]["value_with_tax"]
        except (KeyError, IndexError, TypeError):
            continue
        # Money.amount is a decimal string in the model; str() keeps what was sent.
        amount = Decimal(str(price)).quantize(Decimal("0.01"))
        result.append({"marketplaceId": marketplace_id, "offerType": "B2C",
                       "price": {"currencyCode": entry.get("currency", "USD"), "amount": str(amount)},
                       "audience": {"value": "ALL", "displayName": "Sell on Amazon"}})
    return result


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
