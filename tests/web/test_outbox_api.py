"""GET /api/v1/outbox and POST /api/v1/outbox/retry: an action a vendor refused for good is
listed with the vendor's error, and goes again once the cause is fixed (through the sandboxes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from storeops.engine import outbox
from storeops.flows.runtime import Worker

from conftest import ADMIN_TOKEN, LiveServer, sign_in
from helpers import wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Page

SKU = "MH01-XS-Orange"


def checkout(sandboxes: dict[str, dict[str, Any]]) -> str:
    body = {"count": 1, "seed": 9, "overrides": [{"lines": [{"sku": SKU, "quantity": 1}], "payment": "paid"}]}
    answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=10).json()
    [placed] = [c for c in answer["checkouts"] if c["status"] == "completed"]
    return str(placed["order_id"])


def shipbob_faults(sandboxes: dict[str, dict[str, Any]], **settings: Any) -> None:
    httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/faults", json=settings, timeout=10).raise_for_status()


def shipbob_order(sandboxes: dict[str, dict[str, Any]], oid: str) -> dict[str, Any] | None:
    orders = httpx.get(f"{sandboxes['shipbob']['url']}/_sandbox/state", timeout=10).json()["orders"]
    return next((o for o in orders if str(o["reference_id"]) == oid), None)


@pytest.fixture
def api(live_app: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{live_app.url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                      timeout=10) as client:
        yield client


@pytest.fixture
def refused(api: httpx.Client, sandboxes: dict[str, dict[str, Any]], shop: str,
            worker: Worker) -> tuple[str, dict[str, Any]]:
    """An order whose ShipBob create was refused (422) for good: (order id, its failed message)."""
    first = checkout(sandboxes)  # routes normally (and the FC list is cached from now on)
    wait_for(lambda: shipbob_order(sandboxes, first), "the first ShipBob order")
    shipbob_faults(sandboxes, error_rate=1.0, statuses=[422])  # ShipBob refuses every request
    second = checkout(sandboxes)
    failed = wait_for(lambda: api.get("/outbox", params={"shop": shop, "status": "failed"}).json()["messages"],
                      "the refused create to be failed")
    [message] = failed
    return second, message


def test_a_refused_action_is_listed_and_retried_once_fixed(
        api: httpx.Client, sandboxes: dict[str, dict[str, Any]], shop: str,
        refused: tuple[str, dict[str, Any]]) -> None:
    second, message = refused
    assert message["target"] == "shipbob.create_order" and "422" in (message["error"] or "")
    assert shipbob_order(sandboxes, second) is None
    assert api.get("/outbox", params={"shop": shop}).json()["counts"]["failed"] == 1

    # Not the shop's message: nothing retried; a done message is not sent again either.
    assert api.post("/outbox/retry", params={"shop": "nope.myshopify.com"}, json={"ids": [message["id"]]}
                    ).status_code == 404
    done = api.get("/outbox", params={"shop": shop, "status": "done"}).json()["messages"]
    assert api.post("/outbox/retry", json={"ids": [done[0]["id"]]}).json() == {"retried": 0}
    assert api.post("/outbox/retry", json={"ids": []}).status_code == 422

    shipbob_faults(sandboxes, error_rate=0.0)  # the cause is fixed
    assert api.post("/outbox/retry", params={"shop": shop}, json={"ids": [message["id"]]}).json() == {"retried": 1}
    created = wait_for(lambda: shipbob_order(sandboxes, second), "the retried ShipBob order")
    assert created["reference_id"] == second
    wait_for(lambda: not api.get("/outbox", params={"shop": shop, "status": "failed"}).json()["messages"],
             "no failed message left")
    assert api.post("/outbox/retry", json={"ids": [message["id"]]}).json() == {"retried": 0}  # done now


def test_an_action_whose_vendor_stays_unavailable_waits_for_a_later_round_instead_of_failing(
        api: httpx.Client, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "ROUND_DELAY_MIN_S", 1.0)
    first = checkout(sandboxes)
    wait_for(lambda: shipbob_order(sandboxes, first), "the first ShipBob order")
    # ShipBob throttles every call: a whole retry policy (8 attempts) is used up in a second.
    shipbob_faults(sandboxes, error_rate=1.0, statuses=[429], retry_after_s=0.05)
    second = checkout(sandboxes)

    def waiting() -> dict[str, Any] | None:
        pending = api.get("/outbox", params={"shop": shop, "status": "pending",
                                             "target": "shipbob.create_order"}).json()["messages"]
        return next((m for m in pending if m["retry_at"] and m["rounds"] >= 1), None)

    message = wait_for(waiting, "the throttled create to wait for a later round")
    assert "429" in message["error"] and message["failing_since"] is not None
    assert api.get("/outbox", params={"shop": shop, "status": "failed"}).json()["messages"] == []
    assert shipbob_order(sandboxes, second) is None

    shipbob_faults(sandboxes, error_rate=0.0)  # ShipBob answers again: no person needed
    created = wait_for(lambda: shipbob_order(sandboxes, second), "the ShipBob order of a later round", timeout=30)
    assert created["reference_id"] == second
    done = wait_for(lambda: next((m for m in api.get("/outbox", params={
        "shop": shop, "status": "done", "target": "shipbob.create_order"}).json()["messages"]
        if m["id"] == message["id"]), None), "the message marked done")  # just after the call returns
    assert done["error"] is None and done["retry_at"] is None and done["rounds"] >= 1


@pytest.mark.browser
def test_the_exceptions_page_lists_the_failed_action_and_retries_it(
        page: Page, sandboxes: dict[str, dict[str, Any]], shop: str, refused: tuple[str, dict[str, Any]]) -> None:
    second, message = refused
    sign_in(page)
    page.goto(f"/exceptions?shop={shop}")
    row = page.locator(f'#failed tr[data-action="{message["id"]}"]')
    assert "shipbob.create_order" in row.inner_text() and "422" in row.locator('[data-col="error"]').inner_text()
    shipbob_faults(sandboxes, error_rate=0.0)
    row.get_by_role("button", name="Retry").click()
    page.wait_for_load_state()
    assert f"Action {message['id']} sent again." in page.get_by_role("status").inner_text()
    wait_for(lambda: shipbob_order(sandboxes, second), "the retried ShipBob order")
    page.reload()
    assert page.locator(f'#failed tr[data-action="{message["id"]}"]').count() == 0
