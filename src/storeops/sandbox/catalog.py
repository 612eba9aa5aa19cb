"""The seed catalog every sandbox starts from (built by scripts/build_sandbox_catalog.py)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, Any]:
    """{"fulfillment_centers": [...], "products": [{id, handle, title, description, vendor,
    product_type, tags, attributes, options, variants: [{sku, title, options, price,
    weight_grams, barcode, stock: {"1": n, "2": n, "3": n}}]}]}. Treat it as read-only."""
    raw = resources.files("storeops.sandbox").joinpath("data/catalog.json").read_text(encoding="utf-8")
    return json.loads(raw)  # type: ignore[no-any-return]


def fulfillment_centers() -> list[dict[str, Any]]:
    return list(load_catalog()["fulfillment_centers"])


def products(limit: int | None = None) -> list[dict[str, Any]]:
    items = load_catalog()["products"]
    return list(items if limit is None else items[:limit])
