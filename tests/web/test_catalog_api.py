"""The catalog JSON API over real HTTP (no sandboxes: the shop sells on no channel yet, so only
the email snippet is compiled): import, audit, product detail, preview, edit, bad input."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conftest import ADMIN_TOKEN, LiveServer

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "catalog" / \
    "shopify_sample_product_csvs" / "home-and-garden.csv"
CSV = ("Handle,Title,Body (HTML),Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Grams,"
       "Variant Price,Variant Barcode,Image Src\n"
       "mug,Stoneware Mug,<p>A stoneware mug. Holds 350 ml.</p>,Acme,Kitchen,,Title,Default Title,MUG-1,350,"
       "12.50,4006381333931,https://img/mug.jpg\n"
       "cup,Tea Cup,,Acme,Kitchen,,Title,Default Title,CUP-1,,0,4006381333931,\n")


@pytest.fixture
def api(live_app: LiveServer, shop_id: str) -> httpx.Client:
    return httpx.Client(base_url=f"{live_app.url}/api/v1/catalog", timeout=30,
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def test_import_audit_detail_preview_and_edit(api: httpx.Client) -> None:
    assert api.post("/import", json={"csv": CSV}).json() == {"created": 2, "updated": 0, "unchanged": 0}
    assert api.post("/import", json={"csv": CSV}).json() == {"created": 0, "updated": 0, "unchanged": 2}
    listed = {p["handle"]: p for p in api.get("/products").json()}
    assert set(listed) == {"mug", "cup"}
    assert {i["kind"] for i in listed["cup"]["issues"]} == {"duplicate_barcode", "price_not_positive",
                                                           "empty_description", "missing_media", "missing_weight"}
    report = api.get("/audit").json()
    assert report["products"] == 2 and report["counts"]["duplicate_barcode"] == 2
    assert report["by_severity"]["error"] == 3

    mug = api.get("/products/mug").json()
    assert mug["variants"][0] == {"sku": "MUG-1", "barcode": "4006381333931", "title": "Default Title",
                                  "price": "12.50", "compare_at_price": None, "weight_grams": 350, "options": {}}
    shown = api.get("/products/mug/preview/email", params={"live": "false"}).json()
    assert shown["issues"] == [] and "Price from 12.50" in shown["fields"]["html"]
    assert shown["eligible"] and shown["live"] is None and shown["diff"][0]["field"] == "html"

    edited = api.patch("/products/mug", json={"title": "Stoneware Mug 350 ml"}).json()
    assert edited["changed"] == ["title"] and edited["compiled"]["renditions"] == 1  # email only: no channel yet
    assert "Stoneware Mug 350 ml" in api.get("/products/mug").json()["renditions"]["email"]["fields"]["html"]
    assert api.get("/consistency").json() == {}


def test_bad_input_is_refused_and_changes_nothing(api: httpx.Client, live_app: LiveServer) -> None:
    api.post("/import", json={"csv": CSV}).raise_for_status()
    answer = api.patch("/products/mug", json={"title": "  "})
    assert answer.status_code == 422 and answer.json()["detail"]["field"] == "title"
    assert api.patch("/products/mug", json={}).status_code == 422
    assert api.patch("/products/mug", json={"tags": "not a list"}).status_code == 422
    assert api.get("/products/mug").json()["title"] == "Stoneware Mug"
    bad = api.post("/import", json={"csv": CSV.replace("12.50", "twelve").replace("mug,", "jug,")})
    assert bad.status_code == 422 and "Variant Price 'twelve'" in bad.json()["detail"]["error"]
    assert {p["handle"] for p in api.get("/products").json()} == {"mug", "cup"}
    assert api.post("/import", json={}).status_code == 422
    assert api.get("/products/nope").status_code == 404
    assert api.get("/products/mug/preview/fax").status_code == 422
    assert httpx.get(f"{live_app.url}/api/v1/catalog/products", timeout=10).status_code == 401


@pytest.mark.skipif(not SAMPLE.exists(), reason="../shared/datasets is not here")
def test_a_real_shopify_export_imports(api: httpx.Client) -> None:
    result = api.post("/import", json={"csv": SAMPLE.read_text(encoding="utf-8")}).json()
    assert result["created"] == 20
    report = api.get("/audit").json()
    assert report["products"] == 20 and report["variants"] >= 20
