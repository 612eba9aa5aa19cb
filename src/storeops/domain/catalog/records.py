"""The canonical product as plain values: what audit, render and validate work on.

ORM rows (models.py) and imports (CSV, Shopify) both become a ProductRecord, so the pure
functions never touch a session. `facts_of` is the product as generators see it: only
the record's own values, so every sentence a generator writes can be traced to a field.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def plain_text(value: str | None) -> str:
    """HTML to one line of text (Shopify's Body (HTML) and descriptionHtml)."""
    if not value:
        return ""
    text = _TAG.sub(" ", re.sub(r"(?i)<br\s*/?>|</p>|</li>", ". ", value))
    text = _SPACE.sub(" ", html.unescape(text)).strip()
    return re.sub(r"(\.\s*){2,}", ". ", text).strip(" .") + ("." if text.strip(" .") else "")


@dataclass(frozen=True)
class VariantRecord:
    sku: str | None
    barcode: str | None
    title: str
    price: Decimal
    compare_at_price: Decimal | None = None
    weight_grams: int | None = None
    options: dict[str, str] = field(default_factory=dict)
    position: int = 1


@dataclass(frozen=True)
class ProductRecord:
    handle: str
    title: str
    description: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)
    compliance: dict[str, Any] = field(default_factory=dict)
    seo_title: str | None = None
    seo_description: str | None = None
    media: tuple[str, ...] = ()
    variants: tuple[VariantRecord, ...] = ()
    external_id: str | None = None  # the Shopify product's numeric id when imported from Shopify
    store_url: str = "https://demo.storeops.example"

    @property
    def skus(self) -> list[str]:
        return [v.sku for v in self.variants if v.sku]

    @property
    def min_price(self) -> Decimal | None:
        prices = [v.price for v in self.variants]
        return min(prices) if prices else None


def facts_of(product: ProductRecord) -> dict[str, Any]:
    """The product's own values, and nothing else, for content generators."""
    return {
        "title": product.title, "vendor": product.vendor, "product_type": product.product_type,
        "description": product.description, "tags": list(product.tags),
        "attributes": {str(k): str(v) for k, v in product.attributes.items() if str(v).strip()},
        "options": {k: list(v) for k, v in product.options.items()},
        "compliance": {str(k): str(v) for k, v in product.compliance.items()},
        "prices": sorted({str(v.price) for v in product.variants}),
        "skus": product.skus,
    }


def content_hash(fields: Any) -> str:
    """A stable hash of a rendition's fields (sorted JSON, Decimals as text)."""
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
