"""Shopify's product CSV (the admin's export / import layout) to canonical records.

One row per variant; the product's own columns are filled on its first row only, later
rows repeat the Handle. Image-only rows (no option value, no SKU, no price) add media.
Bad input raises InvalidInput naming the row, so an import changes nothing.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from storeops.core.errors import InvalidInput
from storeops.domain.catalog.records import ProductRecord, VariantRecord, plain_text

REQUIRED_COLUMNS = ("Handle", "Title", "Variant Price")
# Shopify's weight units -> grams ("Variant Grams" is already grams; the unit column says
# how the admin shows it).
_OPTION_COLUMNS = (("Option1 Name", "Option1 Value"), ("Option2 Name", "Option2 Value"),
                   ("Option3 Name", "Option3 Value"))
_ATTRIBUTE_COLUMNS = {"Google Shopping / Gender": "gender", "Google Shopping / Age Group": "age_group",
                      "Google Shopping / Condition": "condition", "Google Shopping / MPN": "mpn"}


def _money(value: str, row: int, column: str) -> Decimal | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise InvalidInput(f"row {row}: {column} {value!r} is not a number", field=column) from None
    if amount < 0:
        raise InvalidInput(f"row {row}: {column} must not be negative", field=column)
    return amount


def _grams(value: str, row: int) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return int(Decimal(value))
    except InvalidOperation:
        raise InvalidInput(f"row {row}: Variant Grams {value!r} is not a number", field="Variant Grams") from None


def parse_shopify_csv(text: str) -> list[ProductRecord]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"not a Shopify product CSV: missing column(s) {', '.join(missing)}", field="csv")
    products: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(reader, start=2):
        handle = (row.get("Handle") or "").strip()
        if not handle:
            raise InvalidInput(f"row {n}: Handle is empty", field="Handle")
        entry = products.get(handle)
        if entry is None:
            title = (row.get("Title") or "").strip()
            if not title:
                raise InvalidInput(f"row {n}: the first row of {handle!r} has no Title", field="Title")
            names = [(row.get(name) or "").strip() for name, _ in _OPTION_COLUMNS]
            attributes = {key: row[col].strip() for col, key in _ATTRIBUTE_COLUMNS.items()
                          if (row.get(col) or "").strip()}
            entry = products[handle] = {
                "title": title, "description": plain_text(row.get("Body (HTML)")),
                "vendor": (row.get("Vendor") or "").strip(), "product_type": (row.get("Type") or "").strip(),
                "tags": tuple(t.strip() for t in (row.get("Tags") or "").split(",") if t.strip()),
                "seo_title": (row.get("SEO Title") or "").strip() or None,
                "seo_description": (row.get("SEO Description") or "").strip() or None,
                "option_names": names, "attributes": attributes, "media": [], "variants": []}
        image = (row.get("Image Src") or "").strip()
        if image and image not in entry["media"]:
            entry["media"].append(image)
        values = [(row.get(value) or "").strip() for _, value in _OPTION_COLUMNS]
        price = _money(row.get("Variant Price") or "", n, "Variant Price")
        if not any(values) and price is None and not (row.get("Variant SKU") or "").strip():
            continue  # an image-only row
        if price is None:
            raise InvalidInput(f"row {n}: Variant Price is empty", field="Variant Price")
        chosen = {name.lower(): value for name, value in zip(entry["option_names"], values, strict=True)
                   if name and value and not (name == "Title" and value == "Default Title")}
        entry["variants"].append(VariantRecord(
            sku=(row.get("Variant SKU") or "").strip() or None, barcode=(row.get("Variant Barcode") or "").strip()
            or None, title=" / ".join(chosen.values()) or "Default Title", price=price,
            compare_at_price=_money(row.get("Variant Compare At Price") or "", n, "Variant Compare At Price"),
            weight_grams=_grams(row.get("Variant Grams") or "", n), options=chosen,
            position=len(entry["variants"]) + 1))
    out = []
    for handle, e in products.items():
        options: dict[str, list[str]] = {}
        for v in e["variants"]:
            for name, value in v.options.items():
                if value not in options.setdefault(name, []):
                    options[name].append(value)
        out.append(ProductRecord(handle=handle, title=e["title"], description=e["description"], vendor=e["vendor"],
                                 product_type=e["product_type"], tags=e["tags"], attributes=e["attributes"],
                                 options=options, seo_title=e["seo_title"], seo_description=e["seo_description"],
                                 media=tuple(e["media"]), variants=tuple(e["variants"])))
    return out
