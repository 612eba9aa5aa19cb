"""The sandbox control routes the returns tests lean on refuse what the vendor would refuse."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import httpx

from storeops.connectors.shipbob.client import ShipbobClient
from storeops.connectors.shipbob.models import ReturnItem


def test_a_customer_cannot_ask_to_return_what_has_not_shipped(sandboxes: dict[str, dict[str, Any]]) -> None:
    url = sandboxes["shopify"]["url"]
    order = httpx.get(f"{url}/_sandbox/state", timeout=10).json()["orders"][0]  # seeded, not fulfilled
    unknown = httpx.post(f"{url}/_sandbox/returns/request", json={"order_id": 1, "lines": []}, timeout=10)
    assert unknown.status_code == 422 and unknown.json()["error"] == "no such order"
    empty = httpx.post(f"{url}/_sandbox/returns/request", json={"order_id": order["id"], "lines": []}, timeout=10)
    assert empty.status_code == 422 and "at least one line" in empty.json()["error"]
    unshipped = httpx.post(f"{url}/_sandbox/returns/request", timeout=10,
                           json={"order_id": order["id"], "lines": [{"line_item_id": 5, "quantity": 1}]})
    assert unshipped.status_code == 422 and "has not shipped" in unshipped.json()["error"]


def test_receiving_a_return_shipbob_does_not_have_or_cancelled(sandboxes: dict[str, dict[str, Any]]) -> None:
    url = sandboxes["shipbob"]["url"]
    missing = httpx.post(f"{url}/_sandbox/returns/999/receive", timeout=10)
    assert missing.status_code == 404
    with closing(ShipbobClient(sandboxes["shipbob"]["credentials"]["token"], url)) as client:
        fc = client.list_fulfillment_centers()[0]
        first_page = client.request("GET", "/2026-01/product", params={"PageSize": 1}).json()
        variant = (first_page["items"] if isinstance(first_page, dict) else first_page)[0]["variants"][0]
        created = client.create_return("RMA-T-1", fulfillment_center_id=int(fc["id"]),
                                       items=[ReturnItem(inventory_id=int(variant["inventory"]["inventory_id"]),
                                                         quantity=1, action="Restock")])
        client.request("POST", f"/2026-01/return/{created['id']}:cancel")
    refused = httpx.post(f"{url}/_sandbox/returns/{created['id']}/receive", timeout=10)
    assert refused.status_code == 400 and "Cancelled" in refused.text
