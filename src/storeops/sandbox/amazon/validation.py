"""A small, realistic stand-in for Amazon's product-type requirements.

Real requirements come from the Product Type Definitions API at run time (not in
shared/vendor-specs, see its README); this sandbox keeps a handful of rules that storeops
actually trips over: the attributes every listing needs, two apparel extras (color, size),
and the value limits Seller Central documents (title <= 200 characters, at most five
bullet points of <= 500 characters, description <= 2000 characters, quantity a
non-negative integer, price > 0).

Attribute values use Amazon's attribute shape: a non-empty array of objects, each with a
"value" (or structured fields) and optional "marketplace_id" / "language_tag".

Issues use the model's Issue definition (code, message, severity, attributeNames,
categories). Codes: "90220" (required but not supplied) and "90000900" (attributes are
invalid) appear in listingsItems_2021-08-01.json's own examples; "LISTING_NOT_FOUND" is
this sandbox's, because Amazon documents none for a patch of an unknown SKU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

Check = Callable[[str, list[dict[str, Any]]], list[str]]

MISSING = "90220"
INVALID = "90000900"
NOT_FOUND = "LISTING_NOT_FOUND"

CONDITION_TYPES = frozenset({
    "new_new", "new_open_box", "new_oem", "refurbished_refurbished", "used_like_new", "used_very_good",
    "used_good", "used_acceptable", "collectible_like_new", "collectible_very_good", "collectible_good",
    "collectible_acceptable", "club_club",
})
PRODUCT_FACTS = ("item_name", "brand", "product_description", "bullet_point")
SALES_TERMS = ("condition_type", "purchasable_offer", "fulfillment_availability")
APPAREL_TYPES = frozenset({"SHIRT", "PANTS", "SHORTS", "SWEATSHIRT", "COAT", "BRA"})
# "PRODUCT" is the generic type Amazon accepts for offer-only submissions on an
# existing listing (price, quantity); it carries no product-fact requirements.
OFFER_ONLY_TYPE = "PRODUCT"
KNOWN_PRODUCT_TYPES = frozenset(APPAREL_TYPES | {
    "LUGGAGE", "SPORTING_GOODS", "WATCH", "BRACELET", "EARRING", "NECKLACE", "HOME", OFFER_ONLY_TYPE,
})

ITEM_NAME_MAX = 200
BULLET_POINTS_MAX = 5
BULLET_POINT_MAX = 500
DESCRIPTION_MAX = 2000


def issue(code: str, message: str, attribute: str | None, marketplace_id: str, *,
          category: str | None, severity: str = "ERROR") -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "severity": severity,
                            "categories": [category] if category else [], "marketplaceIds": [marketplace_id]}
    if attribute:
        body["attributeNames"] = [attribute]
    return body


def required_attributes(product_type: str, requirements: str) -> tuple[str, ...]:
    if product_type == OFFER_ONLY_TYPE or requirements == "LISTING_OFFER_ONLY":
        return SALES_TERMS
    facts = PRODUCT_FACTS + (("color", "size") if product_type in APPAREL_TYPES else ())
    return facts if requirements == "LISTING_PRODUCT_ONLY" else facts + SALES_TERMS


def missing_attributes(product_type: str, requirements: str, attributes: Mapping[str, Any],
                       marketplace_id: str) -> list[dict[str, Any]]:
    return [
        issue(MISSING, f"'{name}' is required but not supplied.", name, marketplace_id, category="MISSING_ATTRIBUTE")
        for name in required_attributes(product_type, requirements)
        if not attributes.get(name)
    ]


def invalid_values(attributes: Mapping[str, Any], names: Iterable[str], marketplace_id: str) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []
    for name in names:
        if name not in attributes:
            continue
        for problem in _check_attribute(name, attributes[name]):
            issues.append(issue(INVALID, problem, name, marketplace_id, category="INVALID_ATTRIBUTE"))
    return issues


def validate_listing(product_type: str, requirements: str, attributes: Mapping[str, Any],
                     marketplace_id: str) -> list[dict[str, Any]]:
    """Every issue of a complete submission (PUT, feed UPDATE, and a stored listing)."""
    issues = []
    if product_type not in KNOWN_PRODUCT_TYPES:
        issues.append(issue(INVALID, f"The product type '{product_type}' is not supported in this marketplace.",
                            None, marketplace_id, category="INVALID_ATTRIBUTE"))
    issues += missing_attributes(product_type, requirements, attributes, marketplace_id)
    issues += invalid_values(attributes, attributes.keys(), marketplace_id)
    return issues


def has_errors(issues: Iterable[Mapping[str, Any]]) -> bool:
    return any(i.get("severity") == "ERROR" for i in issues)


# --- value checks --------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(entry: Mapping[str, Any]) -> str | None:
    value = entry.get("value")
    return value if isinstance(value, str) else None


def _check_attribute(name: str, entries: Any) -> list[str]:
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        return [f"The value for '{name}' must be a non-empty array of objects."]
    check = _CHECKS.get(name)
    return check(name, entries) if check else []


def _check_text(limit: int | None) -> Check:
    def check(name: str, entries: list[dict[str, Any]]) -> list[str]:
        problems = []
        for entry in entries:
            text = _text(entry)
            if not text or not text.strip():
                problems.append(f"The value for '{name}' must be a non-empty string.")
            elif limit is not None and len(text) > limit:
                problems.append(f"The value for '{name}' has {len(text)} characters; the maximum is {limit}.")
        return problems
    return check


def _check_bullets(name: str, entries: list[dict[str, Any]]) -> list[str]:
    problems = _check_text(BULLET_POINT_MAX)(name, entries)
    if len(entries) > BULLET_POINTS_MAX:
        problems.append(f"'{name}' has {len(entries)} values; the maximum is {BULLET_POINTS_MAX}.")
    return problems


def _check_condition(name: str, entries: list[dict[str, Any]]) -> list[str]:
    return [f"'{entry.get('value')}' is not a valid value for '{name}'."
            for entry in entries if entry.get("value") not in CONDITION_TYPES]


def _check_offer(name: str, entries: list[dict[str, Any]]) -> list[str]:
    problems = []
    for entry in entries:
        currency = entry.get("currency")
        if not isinstance(currency, str) or len(currency) != 3:
            problems.append(f"'{name}.currency' must be a three-letter currency code.")
        try:
            price = entry["our_price"][0]["schedule"][0]["value_with_tax"]
        except (KeyError, IndexError, TypeError):
            problems.append(f"The field 'prices' for the attribute '{name}.our_price' does not have enough values. "
                            "The required minimum is '1' value(s).")
            continue
        if not _is_number(price) or price <= 0:
            problems.append(f"'{name}.our_price' must be a number greater than 0.")
    return problems


def _check_list_price(name: str, entries: list[dict[str, Any]]) -> list[str]:
    return [f"'{name}.value' must be a number greater than 0." for entry in entries
            if not _is_number(entry.get("value")) or entry["value"] <= 0]


def _check_fulfillment(name: str, entries: list[dict[str, Any]]) -> list[str]:
    problems = []
    for entry in entries:
        if not isinstance(entry.get("fulfillment_channel_code"), str) or not entry["fulfillment_channel_code"]:
            problems.append(f"'{name}.fulfillment_channel_code' is required.")
        quantity = entry.get("quantity")
        if entry.get("fulfillment_channel_code") == "DEFAULT" and quantity is None:
            problems.append(f"'{name}.quantity' is required for the DEFAULT (merchant) channel.")
        elif quantity is not None and (not _is_int(quantity) or quantity < 0):
            problems.append(f"'{name}.quantity' must be an integer greater than or equal to 0; got {quantity!r}.")
    return problems


_CHECKS: dict[str, Check] = {
    "item_name": _check_text(ITEM_NAME_MAX),
    "brand": _check_text(None),
    "color": _check_text(None),
    "size": _check_text(None),
    "product_description": _check_text(DESCRIPTION_MAX),
    "bullet_point": _check_bullets,
    "condition_type": _check_condition,
    "purchasable_offer": _check_offer,
    "list_price": _check_list_price,
    "fulfillment_availability": _check_fulfillment,
}
