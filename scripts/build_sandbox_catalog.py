"""Build src/storeops/sandbox/data/catalog.json from the shared real catalogs.

    python scripts/build_sandbox_catalog.py [--shared ../shared]

The sandboxes (and so `storeops up --demo`) are seeded from this file; it is committed
so the product never reads ../shared at run time. Sources (licences beside the files):
Magento's Luma demo catalog (OSL-3.0 / AFL-3.0): configurable products with their
size/colour variants and the simple gear products; Shopify Partners' sample product CSVs.
Barcodes are not in the sources: valid EAN-13 codes are derived from the SKU (marked
"generated") so duplicate/missing-barcode audits have realistic material. Stock per
fulfillment center is drawn from a fixed seed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import random
import re
from pathlib import Path

FULFILLMENT_CENTERS = [
    # Real ShipBob FC cities in three regions (west, midwest, east).
    {"id": 1, "name": "Moreno Valley (CA)", "city": "Moreno Valley", "state": "CA", "zip": "92551",
     "country": "US", "lat": 33.937, "lon": -117.230},
    {"id": 2, "name": "Cicero (IL)", "city": "Cicero", "state": "IL", "zip": "60804", "country": "US",
     "lat": 41.845, "lon": -87.754},
    {"id": 3, "name": "Bethlehem (PA)", "city": "Bethlehem", "state": "PA", "zip": "18017", "country": "US",
     "lat": 40.626, "lon": -75.370},
]


def text(value: str, limit: int = 700) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", " ", value or ""))
    plain = re.sub(r"\s+", " ", plain).strip()
    return plain if len(plain) <= limit else plain[: limit - 1].rsplit(" ", 1)[0] + "…"


def ean13(seed: str) -> str:
    digits = str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[:12]
    body = "20" + digits[:10]  # 20-29: in-store / restricted circulation prefix
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def attributes(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (raw or "").split(","):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def magento(shared: Path) -> list[dict[str, object]]:
    path = shared / "datasets/catalog/magento_luma_sample_catalog/configurable_products.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    simples = {r["sku"]: r for r in rows if r["product_type"] == "simple"}
    products = []
    for row in rows:
        if row["product_type"] != "configurable":
            continue
        attrs = attributes(row["additional_attributes"])
        variants = []
        options: dict[str, list[str]] = {}
        for spec in row["configurable_variations"].split("|"):
            fields = dict(p.split("=", 1) for p in spec.split(",") if "=" in p)
            simple = simples.get(fields.get("sku", ""))
            if simple is None:
                continue
            values = {k: v for k, v in fields.items() if k != "sku"}
            for key, value in values.items():
                options.setdefault(key, [])
                if value not in options[key]:
                    options[key].append(value)
            variants.append({
                "sku": simple["sku"],
                "title": " / ".join(values.values()),
                "options": values,
                "price": f"{float(simple['price'] or row['price']):.2f}",
                "weight_grams": int(float(simple["weight"] or 1) * 453.6),  # Luma weights are pounds
                "barcode": ean13(simple["sku"]),
            })
        categories = [c.split("/")[-1] for c in row["categories"].split(",") if c.count("/") >= 2]
        products.append({
            "handle": row["url_key"] or row["sku"].lower(),
            "title": row["name"],
            "description": text(row["description"]),
            "vendor": "Luma",
            "product_type": categories[0] if categories else "Apparel",
            "tags": sorted({c for c in categories if c}),
            "attributes": {k: v for k, v in attrs.items()
                           if k in ("material", "pattern", "climate", "style_general", "style_bottom",
                                    "activity", "eco_collection", "performance_fabric", "sleeve", "collar")},
            "options": options,
            "variants": variants,
            "source": "magento-luma",
        })
    return products


def magento_gear(shared: Path) -> list[dict[str, object]]:
    folder = shared / "datasets/catalog/magento_luma_sample_catalog"
    products = []
    for path in sorted(folder.glob("simple_products_gear_*.csv")):
        for row in csv.DictReader(path.open(encoding="utf-8")):
            extra = {k: text(v, 120).replace("\n", ", ") for k, v in row.items()
                     if k in ("material", "activity", "style_bags", "features_bags", "strap_bags") and v}
            products.append({
                "handle": re.sub(r"[^a-z0-9]+", "-", row["name"].lower()).strip("-"),
                "title": row["name"],
                "description": text(row["description"]),
                "vendor": "Luma",
                "product_type": row["category"].split("\n")[-1].strip() or "Gear",
                "tags": ["Gear"],
                "attributes": extra,
                "options": {},
                "variants": [{"sku": row["sku"], "title": "Default Title", "options": {},
                              "price": f"{float(row['price']):.2f}", "weight_grams": 900,
                              "barcode": ean13(row["sku"])}],
                "source": "magento-luma",
            })
    return products


def shopify_samples(shared: Path) -> list[dict[str, object]]:
    folder = shared / "datasets/catalog/shopify_sample_product_csvs"
    products: dict[str, dict[str, object]] = {}
    for path in sorted(folder.glob("*.csv")):
        for row in csv.DictReader(path.open(encoding="utf-8")):
            handle = row["Handle"]
            if handle not in products and row["Title"]:
                products[handle] = {
                    "handle": handle, "title": row["Title"], "description": text(row["Body (HTML)"]),
                    "vendor": row["Vendor"], "product_type": row["Type"] or path.stem.title(),
                    "tags": [t.strip() for t in row["Tags"].split(",") if t.strip()], "attributes": {},
                    "options": {}, "variants": [], "source": f"shopify-sample/{path.name}",
                }
            product = products.get(handle)
            if product is None:
                continue
            option = row["Option1 Value"] or "Default Title"
            variants = product["variants"]
            assert isinstance(variants, list)
            sku = row["Variant SKU"] or f"{handle}-{len(variants) + 1}".upper()
            variants.append({"sku": sku, "title": option,
                             "options": {row["Option1 Name"] or "Title": option} if row["Option1 Name"] else {},
                             "price": f"{float(row['Variant Price'] or 0):.2f}",
                             "weight_grams": int(float(row["Variant Grams"] or 0)),
                             "barcode": row["Variant Barcode"] or ean13(sku)})
    return list(products.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "src/storeops/sandbox/data/catalog.json")
    args = parser.parse_args()
    rng = random.Random(20261127)
    products = magento(args.shared) + magento_gear(args.shared) + shopify_samples(args.shared)
    for number, product in enumerate(products, start=1):
        product["id"] = number
        variants = product["variants"]
        assert isinstance(variants, list)
        for variant in variants:
            # Stock over three FCs; some SKUs stocked in one FC only, a few out of stock.
            pattern = rng.random()
            if pattern < 0.05:
                stock = {1: 0, 2: 0, 3: 0}
            elif pattern < 0.35:
                home = rng.choice([1, 2, 3])
                stock = {fc: (rng.randint(5, 60) if fc == home else 0) for fc in (1, 2, 3)}
            else:
                stock = {fc: rng.randint(0, 40) for fc in (1, 2, 3)}
            variant["stock"] = {str(k): v for k, v in stock.items()}
    payload = {
        "generated_by": "scripts/build_sandbox_catalog.py",
        "sources": ["magento_luma_sample_catalog (OSL-3.0/AFL-3.0)", "shopify_sample_product_csvs"],
        "fulfillment_centers": FULFILLMENT_CENTERS,
        "products": products,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, separators=(",", ":"), ensure_ascii=False))
    variants_total = sum(len(p["variants"]) for p in products)  # type: ignore[arg-type]
    print(f"wrote {args.out} ({len(products)} products, {variants_total} variants)")


if __name__ == "__main__":
    main()
