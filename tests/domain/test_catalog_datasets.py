"""Property-style checks over real catalogs in ../shared/datasets (skipped when absent):
Shopify's sample product CSVs, the Magento Luma catalog the sandboxes are seeded from, and
1000 Amazon listings. For every product: every rendition it is eligible for passes its
channel's validation, and no text the offline generator writes states a fact (number,
material, colour, claim) that the product record does not."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest

from storeops.ai.content import OfflineGenerator, grounding_check
from storeops.domain.catalog import (
    ProductRecord,
    VariantRecord,
    eligible_channels,
    facts_of,
    parse_shopify_csv,
    plain_text,
    render_all,
    validate,
)
from storeops.domain.catalog.channels import LIMITS
from storeops.sandbox.catalog import load_catalog

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "catalog"
pytestmark = pytest.mark.skipif(not DATASETS.exists(), reason="../shared/datasets is not here")
_PRICE = re.compile(r"\d+(?:\.\d+)?")


def shopify_samples() -> list[ProductRecord]:
    out: list[ProductRecord] = []
    for path in sorted((DATASETS / "shopify_sample_product_csvs").glob("*.csv")):
        out += parse_shopify_csv(path.read_text(encoding="utf-8"))
    return out


def luma() -> list[ProductRecord]:
    return [ProductRecord(
        handle=p["handle"], title=p["title"], description=plain_text(p["description"]), vendor=p["vendor"],
        product_type=p["product_type"], tags=tuple(p["tags"]), attributes=p.get("attributes") or {},
        options=p.get("options") or {}, variants=tuple(
            VariantRecord(sku=v["sku"], barcode=v.get("barcode"), title=v["title"], price=Decimal(v["price"]),
                          weight_grams=v.get("weight_grams"), options=v.get("options") or {}, position=n)
            for n, v in enumerate(p["variants"], start=1)))
        for p in load_catalog()["products"]]


def amazon_sample() -> list[ProductRecord]:
    path = DATASETS / "amazon_product_listings_sample" / "amazon_com_ecommerce_sample_1000.csv"
    out = []
    with path.open(encoding="utf-8") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            price = _PRICE.search(row.get("Selling Price") or "")
            attributes = {k: row[c] for c, k in (("Color", "color"), ("Model Number", "model_number"),
                                                 ("Shipping Weight", "shipping_weight")) if (row.get(c) or "").strip()}
            about = " ".join(filter(None, [row.get("About Product"), row.get("Product Description")]))
            variant = VariantRecord(sku=(row.get("Sku") or "").strip() or row["Uniq Id"], barcode=None,
                                    title="Default Title", price=Decimal(price.group()) if price else Decimal(0))
            out.append(ProductRecord(
                handle=f"amazon-{n}", title=row["Product Name"].strip(), vendor=(row.get("Brand Name") or "").strip(),
                description=plain_text(about.replace(" | ", ". ")), attributes=attributes,
                product_type=(row.get("Category") or "").split("|")[-1].strip(), variants=(variant,)))
    return out


@pytest.mark.parametrize("source", [shopify_samples, luma, amazon_sample])
def test_every_rendition_is_valid_and_every_offline_text_is_grounded(source: object) -> None:
    products = source()  # type: ignore[operator]
    assert len(products) >= 50
    generator = OfflineGenerator()
    rendered = 0
    for product in products:
        channels = eligible_channels(product)
        fields, _ = render_all(product, generator, channels)
        for channel, values in fields.items():
            assert validate(channel, values) == [], (product.handle, channel)
            rendered += 1
        facts = facts_of(product)
        for text in generator.write(facts, LIMITS).texts():
            assert grounding_check(text, facts) == [], (product.handle, text)
    assert rendered >= 3 * len(products)
