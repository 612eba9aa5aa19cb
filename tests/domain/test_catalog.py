"""Catalog domain: CSV import, audit, render, validate, diff (pure functions, no database)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from storeops.ai.content import OfflineGenerator
from storeops.core.errors import InvalidInput
from storeops.domain.catalog import (
    ProductRecord,
    VariantRecord,
    audit,
    diff,
    eligible_channels,
    parse_shopify_csv,
    render,
    render_all,
    validate,
)
from storeops.domain.catalog.channels import (
    AMAZON_BULLETS_MAX,
    AMAZON_ITEM_NAME_MAX,
    SHOPIFY_SEO_DESCRIPTION_MAX,
    SHOPIFY_SEO_TITLE_MAX,
)

CSV_HEADER = ("Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Option2 Name,Option2 Value,"
              "Variant SKU,Variant Grams,Variant Price,Variant Compare At Price,Variant Barcode,Image Src,SEO Title\n")


def tee(**changes: Any) -> ProductRecord:
    variants = tuple(VariantRecord(sku=f"TEE-{size}-{colour}", barcode=f"400{n}", title=f"{size} / {colour}",
                                   price=Decimal("19.90"), weight_grams=180,
                                   options={"size": size, "color": colour}, position=n)
                     for n, (size, colour) in enumerate([("S", "Black"), ("M", "Black"), ("S", "White")], start=1))
    base = {"handle": "basic-tee", "title": "Basic Tee", "description": "A crew-neck tee. Machine washable.",
            "vendor": "Acme", "product_type": "Tees", "attributes": {"material": "Cotton"},
            "options": {"size": ["S", "M"], "color": ["Black", "White"]}, "media": ("https://img/1.jpg",),
            "variants": variants}
    return ProductRecord(**{**base, **changes})


def test_shopify_csv_groups_variant_rows_and_image_rows() -> None:
    text = CSV_HEADER + (
        "pot,Clay Pot,<p>Classic <b>clay</b> pot</p>,Co,Outdoor,\"Pot, Plants\",Size,Regular,,,POT-R,500,9.99,,111,"
        "https://img/a.jpg,Pot | Co\n"
        "pot,,,,,,,Large,,,POT-L,900,15.99,19.99,112,https://img/b.jpg,\n"
        "pot,,,,,,,,,,,,,,,https://img/c.jpg,\n")
    [pot] = parse_shopify_csv(text)
    assert pot.title == "Clay Pot" and pot.description == "Classic clay pot." and pot.tags == ("Pot", "Plants")
    assert pot.media == ("https://img/a.jpg", "https://img/b.jpg", "https://img/c.jpg")
    assert [(v.sku, v.price, v.compare_at_price, v.weight_grams) for v in pot.variants] == [
        ("POT-R", Decimal("9.99"), None, 500), ("POT-L", Decimal("15.99"), Decimal("19.99"), 900)]
    assert pot.options == {"size": ["Regular", "Large"]} and pot.seo_title == "Pot | Co"


@pytest.mark.parametrize(("row", "message"), [
    ("pot,,x,,,,,,,,P,1,9,,1,,\n", "row 2: the first row of 'pot' has no Title"),
    (",Pot,x,,,,,,,,P,1,9,,1,,\n", "row 2: Handle is empty"),
    ("pot,Pot,x,,,,,,,,P,1,-9,,1,,\n", "row 2: Variant Price must not be negative"),
    ("pot,Pot,x,,,,,,,,P,heavy,9,,1,,\n", "row 2: Variant Grams 'heavy' is not a number"),
])
def test_bad_csv_rows_are_refused_with_the_row_named(row: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_shopify_csv(CSV_HEADER + row)


def test_a_file_that_is_not_a_shopify_csv_is_refused() -> None:
    with pytest.raises(InvalidInput, match="missing column"):
        parse_shopify_csv("sku,name\nA,B\n")


def test_audit_finds_each_kind_of_problem() -> None:
    good = tee()
    broken = tee(handle="broken", description="", media=(), variants=(
        VariantRecord(sku=None, barcode="4001", title="S / Black", price=Decimal("0"), options={"size": "S",
                                                                                              "color": "Black"}),
        VariantRecord(sku="TEE-S-Black", barcode=None, title="S / White", price=Decimal("21"),
                      compare_at_price=Decimal("20"), weight_grams=None, options={"size": "S", "color": "White"})))
    report = audit([good, broken])
    assert report.products == 2 and report.variants == 5
    assert report.counts == {"compare_at_not_above_price": 1, "duplicate_barcode": 2, "duplicate_sku": 2,
                             "empty_description": 1, "missing_barcode": 1, "missing_media": 1, "missing_sku": 1,
                             "missing_weight": 2, "price_inconsistent": 1, "price_not_positive": 1}
    kinds = {(i.kind, i.handle) for i in report.issues}
    assert ("duplicate_barcode", "basic-tee") in kinds and ("duplicate_barcode", "broken") in kinds
    assert ("duplicate_sku", "basic-tee") in kinds and ("duplicate_sku", "broken") in kinds
    assert ("price_inconsistent", "broken") in kinds and ("price_not_positive", "broken") in kinds
    assert ("empty_description", "broken") in kinds and ("missing_sku", "broken") in kinds
    assert report.for_product("basic-tee") and all(i.kind.startswith("duplicate_") for i in report.for_product(
        "basic-tee"))
    assert report.by_severity["error"] == sum(1 for i in report.issues if i.severity == "error") > 0
    assert audit([good]).issues == []


def test_every_channel_rendition_of_a_clean_product_is_valid() -> None:
    fields, generator = render_all(tee(), OfflineGenerator())
    assert generator == "offline@1" and set(fields) == {"shopify", "amazon", "klaviyo", "email"}
    assert {channel: validate(channel, values) for channel, values in fields.items()} == {
        "shopify": [], "amazon": [], "klaviyo": [], "email": []}
    amazon = fields["amazon"]
    assert amazon["product_type"] == "SHIRT" and amazon["brand"] == "Acme"
    assert amazon["listings"]["TEE-S-White"] == {"item_name": "Basic Tee - S / White", "color": "White", "size": "S"}
    assert "Material: Cotton" in amazon["bullet_point"] and len(amazon["bullet_point"]) <= AMAZON_BULLETS_MAX
    assert fields["klaviyo"]["price"] == "19.90" and fields["klaviyo"]["url"].endswith("/products/basic-tee")
    assert fields["shopify"]["seo"]["title"] == "Basic Tee | Acme"
    assert render(tee(), "shopify", OfflineGenerator()) == fields["shopify"]


def test_long_titles_are_cut_to_the_channel_limits_at_a_word() -> None:
    title = " ".join(["Waterproof"] + ["word"] * 80)
    fields, _ = render_all(tee(title=title, vendor=""), OfflineGenerator())
    names = [v["item_name"] for v in fields["amazon"]["listings"].values()]
    assert all(len(n) <= AMAZON_ITEM_NAME_MAX and n.endswith(("S / Black", "M / Black", "S / White")) for n in names)
    assert len(fields["shopify"]["seo"]["title"]) <= SHOPIFY_SEO_TITLE_MAX
    assert not fields["shopify"]["seo"]["title"].endswith(" wor")
    assert validate("amazon", fields["amazon"]) == [] and validate("shopify", fields["shopify"]) == []


def test_the_rules_reject_what_each_channel_refuses() -> None:
    fields, _ = render_all(tee(), OfflineGenerator())
    shopify = {**fields["shopify"], "seo": {"title": "x" * (SHOPIFY_SEO_TITLE_MAX + 1),
                                            "description": "y" * (SHOPIFY_SEO_DESCRIPTION_MAX + 1)}}
    assert [i["field"] for i in validate("shopify", shopify)] == ["seo.title", "seo.description"]
    amazon = {**fields["amazon"], "bullet_point": ["b"] * 6, "brand": ""}
    amazon["listings"] = {"TEE-S-Black": {"item_name": "n" * 201, "color": "Black"}}
    problems = {i["field"] for i in validate("amazon", amazon)}
    assert problems == {"brand", "bullet_point", "listings.TEE-S-Black.item_name", "listings.TEE-S-Black.size"}
    assert [i["field"] for i in validate("klaviyo", {**fields["klaviyo"], "url": "/products/x"})] == ["url"]
    assert [i["field"] for i in validate("email", {"html": "<p>{{ name }}</p>"})] == ["html"]


def test_products_amazon_cannot_list_get_no_amazon_rendition_and_an_audit_warning() -> None:
    no_size = tee(variants=(VariantRecord(sku="TEE-1", barcode="1", title="Default Title", price=Decimal("5"),
                                          weight_grams=1),))
    assert eligible_channels(no_size) == ("shopify", "klaviyo", "email")
    assert [i.kind for i in audit([no_size]).issues] == ["not_listable_on_amazon"]
    assert eligible_channels(tee()) == ("shopify", "amazon", "klaviyo", "email")


def test_diff_lists_changed_leaf_fields() -> None:
    old = {"title": "A", "seo": {"title": "A", "description": "d"}, "bullets": ["x"]}
    new = {"title": "B", "seo": {"title": "A", "description": "e"}, "bullets": ["x"], "extra": 1}
    assert diff(old, new) == [{"field": "extra", "old": None, "new": 1},
                              {"field": "seo.description", "old": "d", "new": "e"},
                              {"field": "title", "old": "A", "new": "B"}]
    assert diff(new, new) == []
