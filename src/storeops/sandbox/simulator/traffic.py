"""The store simulator: a seeded crowd of shoppers and a small staff, driving the sandboxes.

Per simulated minute, with N = traffic_per_min:
- N checkouts at Shopify (POST /_sandbox/checkouts): about 30 % abandoned, 4 % with a
  declined card, 3 % with a bad address (wrong ZIP, no street number, mistyped city);
  a third of them from returning shoppers, VIPs (tagged by staff) the most loyal;
  standard / express / overnight shipping. Half of the declined shoppers try again a
  minute later and pay.
- support messages at Gorgias (POST /_sandbox/customer-message) written from the shipped
  Bitext sample: spontaneous ones (about one per eight checkouts), plus follow-ups caused by
  what happened: a declined card -> payment_issue, a bad address -> change_shipping_address,
  a return -> get_refund citing the order, with the return registered at ShipBob.
- every 3 minutes stock receipts at ShipBob's FCs for the SKUs running lowest; every 2
  minutes ShipBob's warehouse takes a step (POST /_sandbox/advance).

Reproducible: every choice comes from one random.Random(seed), in one sequential order,
and the sandboxes' own choices are pinned by a seed sent with each checkout batch. So
the same seed against freshly seeded sandboxes sends the same requests, whether the
minutes are paced in real time (`run`) or taken at once (`tick`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from storeops.sandbox.simulator import support
from storeops.sandbox.simulator.links import Links
from storeops.sandbox.simulator.people import VIP_TAG, Shopper, bad_address, new_shopper, shipping_choice
from storeops.sandbox.simulator.warehouse import Placed, Warehouse

log = logging.getLogger(__name__)

ABANDON_RATE = 0.30
DECLINE_RATE = 0.04
BAD_ADDRESS_RATE = 0.03
REPEAT_RATE = 0.33  # checkouts by a shopper who came before
VIP_PICK = 0.25  # of returning shoppers, the share that are VIPs (they buy often)
MESSAGE_RATE = 0.12  # spontaneous support messages per checkout
DECLINE_RETRY = 0.5  # declined shoppers who try again with another card
DECLINE_WRITES = 0.35  # declined shoppers who write about it
BAD_ADDRESS_WRITES = 0.3  # shoppers with a bad address who notice and write
RETURN_RATE = 0.08  # completed orders that come back
MAX_RETURNS_PER_MINUTE = 4  # registered at ShipBob (2 requests each): well under its 150/min window
RESTOCK_EVERY = 3  # minutes between stock deliveries
ADVANCE_EVERY = 2  # minutes between warehouse steps
RECENT_ORDERS = 300  # orders shoppers still write about
MAX_REMEMBERED_ORDERS = 20_000
MAX_BATCH_REQUESTS = 60  # checkout requests per minute at most: checkouts are batched above that

CHECKOUT_STATUS = {"completed": "orders_completed", "abandoned": "checkouts_abandoned",
                   "payment_failed": "payments_declined", "out_of_stock": "checkouts_out_of_stock"}

Pace = Callable[[float], Awaitable[None]]


@dataclass(order=True)
class FollowUp:
    due: int
    seq: int
    kind: str = field(compare=False)  # retry_checkout | payment_issue | address_fix | return
    shopper_key: int = field(compare=False)
    order: str | None = field(compare=False, default=None)


async def _no_pace(_: float) -> None:
    return None


class _Stopped(Exception):
    """run() was asked to stop while pacing."""


class StoreSimulator:
    """Customers and staff of one store, against the sandboxes `described` (the JSON line
    `storeops sandbox run` prints). `step()` / `tick(n)` run simulated minutes at once
    (from a thread without an event loop); `run()` paces them in real time."""

    def __init__(self, described: dict[str, Any], traffic_per_min: float = 0.0, seed: int = 0, *,
                 rate_per_min: float | None = None, minute_seconds: float = 60.0, returns_portal: bool = True,
                 keep_requests: int = 20_000) -> None:
        traffic = float(rate_per_min if rate_per_min is not None else traffic_per_min)  # `up --demo` says rate
        if not 0 <= traffic <= 100_000:
            raise ValueError("traffic_per_min must be between 0 and 100000")
        self.described = described
        self.traffic = traffic
        self.seed = seed
        self.minute_seconds = minute_seconds
        self.returns_portal = returns_portal
        self.rng = random.Random(seed)
        self.minute = 0
        self.shoppers: dict[int, Shopper] = {}
        self._keys: list[int] = []
        self._vips: list[int] = []
        self._prospects = 0
        self.orders: dict[str, Placed] = {}
        self.recent_orders: deque[Placed] = deque(maxlen=RECENT_ORDERS)
        self.followups: list[FollowUp] = []
        self._seq = 0
        self.warehouse = Warehouse()
        self.counts: Counter[str] = Counter()
        self.intents: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=50)
        self.sent: deque[dict[str, Any]] = deque(maxlen=keep_requests)  # every request, for tests and replay
        self._thread: threading.Thread | None = None
        self._halt: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- public API --------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts by activity, for the demo dashboard and `sandbox run` callers. Safe to call
        from another thread than the one running the simulator (plain dict and deque copies
        are atomic in CPython)."""
        return {"seed": self.seed, "traffic_per_min": self.traffic, "minutes": self.minute,
                "shoppers": len(self.shoppers), "vip_shoppers": len(self._vips),
                "counts": dict(sorted(dict(self.counts).items())),
                "support_by_intent": dict(sorted(dict(self.intents).items())), "errors": dict(self.errors),
                "pending_followups": len(self.followups), "recent": list(self.recent)}

    def step(self) -> dict[str, Any]:
        return self.tick(1)

    def tick(self, minutes: int = 1) -> dict[str, Any]:
        """Simulate `minutes` minutes now, without waiting. Not from inside an event loop:
        await `tick_async` there."""
        asyncio.run(self.tick_async(minutes))
        return self.stats()

    async def tick_async(self, minutes: int = 1) -> None:
        async with httpx.AsyncClient(timeout=30.0) as client:
            links = self._links(client)
            for _ in range(minutes):
                await self._minute(links, _no_pace, paced=False)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Simulate minute after minute in real time (each minute's work spread evenly over
        `minute_seconds`) until `stop` is set or the task is cancelled."""
        if self.traffic == 0:
            return
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def wait_until(moment: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, moment - loop.time()))
            if stop.is_set():
                raise _Stopped

        async with httpx.AsyncClient(timeout=30.0) as client:
            links = self._links(client)
            with contextlib.suppress(_Stopped):
                while not stop.is_set():
                    minute_start = started + self.minute * self.minute_seconds

                    async def pace(fraction: float, minute_start: float = minute_start) -> None:
                        await wait_until(minute_start + fraction * self.minute_seconds)

                    await self._minute(links, pace, paced=True)
                    await wait_until(started + self.minute * self.minute_seconds)

    def start(self) -> None:
        """Run `run()` in a background thread with its own event loop (returns at once)."""
        if self._thread is not None:
            return
        self._loop = asyncio.new_event_loop()
        self._halt = asyncio.Event()
        loop, halt = self._loop, self._halt

        def main() -> None:
            try:
                loop.run_until_complete(self.run(halt))
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, name="store-simulator", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the traffic `start()` began; waits for the request in flight."""
        if self._thread is None or self._loop is None or self._halt is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop already ended
            self._loop.call_soon_threadsafe(self._halt.set)
        self._thread.join(timeout=timeout_s)
        self._thread = None

    # --- one minute ----------------------------------------------------------------------------
    def _links(self, client: httpx.AsyncClient) -> Links:
        return Links(self.described, client, sent=self.sent, errors=self.errors)

    async def _minute(self, links: Links, pace: Pace, *, paced: bool) -> None:
        self.minute += 1
        minute, rng = self.minute, self.rng
        n = self._count(self.traffic)
        per_request = max(1, math.ceil(n / MAX_BATCH_REQUESTS))
        slots: list[tuple[str, Any]] = [("checkouts", min(per_request, n - i)) for i in range(0, n, per_request)]
        extras: list[tuple[str, Any]] = [("message", None)] * self._count(self.traffic * MESSAGE_RATE)
        due = sorted(f for f in self.followups if f.due <= minute)
        self.followups = [f for f in self.followups if f.due > minute]
        portal = 0
        for followup in due:
            if followup.kind == "return":
                # Past the cap the shopper only writes; the ShipBob window is storeops's too.
                portal += 1
                extras.append(("return", (followup, portal <= MAX_RETURNS_PER_MINUTE)))
            else:
                extras.append((followup.kind, followup))
        for extra in extras:
            slots.insert(rng.randrange(len(slots) + 1), extra)
        if minute % RESTOCK_EVERY == 1 % RESTOCK_EVERY:
            slots.append(("restock", None))
        if minute % ADVANCE_EVERY == 0:
            slots.append(("advance", paced))
        for index, (kind, arg) in enumerate(slots):
            await pace(index / len(slots))
            try:
                await self._do(links, kind, arg)
            except Exception:  # one broken answer must not stop the store
                log.exception("store simulator: %s failed", kind)
                self.errors["simulator"] += 1

    async def _do(self, links: Links, kind: str, arg: Any) -> None:
        if kind == "checkouts":
            await self._checkouts(links, [self._checkout(self._pick_shopper()) for _ in range(arg)])
        elif kind == "retry_checkout":
            await self._checkouts(links, [self._checkout(self.shoppers[arg.shopper_key], retry=True)])
        elif kind == "message":
            await self._spontaneous_message(links)
        elif kind == "payment_issue":
            await self._message(links, self.shoppers[arg.shopper_key], "payment_issue", None)
        elif kind == "address_fix":
            await self._message(links, self.shoppers[arg.shopper_key], "change_shipping_address", arg.order)
        elif kind == "return":
            await self._return(links, *arg)
        elif kind == "restock":
            await self._restock(links)
        elif kind == "advance":
            await self._advance(links, paced=bool(arg))

    def _count(self, expected: float) -> int:
        """`expected` on average: the whole part always, the fraction by chance."""
        whole = int(expected)
        if expected == whole:
            return whole
        return whole + (1 if self.rng.random() < expected - whole else 0)

    def _follow_up(self, kind: str, shopper_key: int, after: int, order: str | None = None) -> None:
        self._seq += 1
        self.followups.append(FollowUp(self.minute + after, self._seq, kind, shopper_key, order))

    def _note(self, activity: str, **detail: Any) -> None:
        self.recent.append({"minute": self.minute, "activity": activity, **detail})

    # --- shoppers and checkouts -----------------------------------------------------------------
    def _pick_shopper(self) -> Shopper:
        rng = self.rng
        if self._keys and rng.random() < REPEAT_RATE:
            self.counts["returning_shoppers"] += 1
            if self._vips and rng.random() < VIP_PICK:
                return self.shoppers[rng.choice(self._vips)]
            return self.shoppers[self._keys[rng.randrange(len(self._keys))]]
        shopper = new_shopper(rng, len(self._keys) + 1)
        self.shoppers[shopper.key] = shopper
        self._keys.append(shopper.key)
        if shopper.vip:
            self._vips.append(shopper.key)
        self.counts["new_shoppers"] += 1
        return shopper

    def _checkout(self, shopper: Shopper, *, retry: bool = False) -> tuple[Shopper, dict[str, Any], str | None]:
        rng = self.rng
        roll = rng.random()
        outcome = ("completed" if retry else "abandoned" if roll < ABANDON_RATE
                   else "declined" if roll < ABANDON_RATE + DECLINE_RATE else "completed")
        flaw, address = None, shopper.address_spec()
        if rng.random() < BAD_ADDRESS_RATE:
            flaw, address = bad_address(rng, shopper)
        method, shipping = shipping_choice(rng, shopper)
        spec: dict[str, Any] = {"customer": shopper.customer_spec(), "address": address, "shipping": shipping,
                                "payment": "declined" if outcome == "declined" else "paid",
                                "abandon": outcome == "abandoned"}
        if shopper.vip:
            spec["tags"] = [VIP_TAG]
        self.counts[f"shipping_{method}"] += 1
        if retry:
            self.counts["payment_retries"] += 1
        return shopper, spec, flaw

    async def _checkouts(self, links: Links, batch: list[tuple[Shopper, dict[str, Any], str | None]]) -> None:
        if not links.has("shopify") or not batch:
            return
        # The storefront's own draws (which products land in the cart) follow this seed.
        body = {"count": len(batch), "abandon_rate": 0.0, "seed": self.rng.getrandbits(32),
                "overrides": [spec for _, spec, _ in batch]}
        self.counts["checkouts"] += len(batch)
        status, answer = await links.call("shopify", "POST", "/_sandbox/checkouts", body=body)
        if status != 200 or not isinstance(answer, dict):
            return
        for (shopper, _, flaw), result in zip(batch, answer.get("checkouts") or [], strict=False):
            await self._checked_out(links, shopper, flaw, result)

    async def _checked_out(self, links: Links, shopper: Shopper, flaw: str | None, result: dict[str, Any]) -> None:
        rng = self.rng
        status = str(result.get("status"))
        self.counts[CHECKOUT_STATUS.get(status, f"checkouts_{status}")] += 1
        if result.get("customer_id") is not None:
            shopper.shopify_id = int(result["customer_id"])
        if flaw is not None:
            self.counts[f"bad_address_{flaw}"] += 1
        if status == "payment_failed":
            self._note("payment_declined", email=shopper.email)
            if rng.random() < DECLINE_RETRY:
                self._follow_up("retry_checkout", shopper.key, 1)
            if rng.random() < DECLINE_WRITES:
                self._follow_up("payment_issue", shopper.key, rng.randint(0, 2))
        elif status == "completed":
            placed = Placed(name=str(result["order_name"]), order_id=int(result["order_id"]),
                            order_gid=str(result.get("order_gid") or ""), shopper_key=shopper.key,
                            lines=[(str(line["sku"]), int(line["quantity"])) for line in result.get("lines") or []],
                            minute=self.minute)
            self.orders[placed.name] = placed
            if len(self.orders) > MAX_REMEMBERED_ORDERS:  # returns come within minutes, not hours
                del self.orders[next(iter(self.orders))]
            self.recent_orders.append(placed)
            shopper.orders.append(placed.name)
            self.warehouse.sold.update(sku for sku, _ in placed.lines)
            self._note("order", order=placed.name, email=shopper.email, total=result.get("total_price"),
                       bad_address=flaw, vip=shopper.vip)
            if flaw is not None:
                self.counts["bad_address_orders"] += 1
                if rng.random() < BAD_ADDRESS_WRITES:
                    self._follow_up("address_fix", shopper.key, rng.randint(1, 3), placed.name)
            if rng.random() < RETURN_RATE:
                self._follow_up("return", shopper.key, rng.randint(3, 8), placed.name)
        if shopper.vip and not shopper.tagged and shopper.shopify_id is not None:
            await self._tag_vip(links, shopper)

    async def _tag_vip(self, links: Links, shopper: Shopper) -> None:
        """Staff mark a big spender (the Admin API's tagsAdd, as the Shopify admin does)."""
        shopper.tagged = True
        status, answer = await links.shopify_graphql(
            "mutation TagVip($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) "
            "{ node { id } userErrors { field message } } }",
            {"id": f"gid://shopify/Customer/{shopper.shopify_id}", "tags": [VIP_TAG]})
        if status == 200 and isinstance(answer, dict) and not answer.get("errors"):
            self.counts["vip_tagged"] += 1
            self._note("vip_tagged", email=shopper.email)

    # --- support -------------------------------------------------------------------------------
    async def _spontaneous_message(self, links: Links) -> None:
        rng = self.rng
        intent = support.pick_intent(rng, has_order=bool(self.recent_orders))
        order: str | None = None
        if intent in support.ORDER_INTENTS:
            placed = self.recent_orders[rng.randrange(len(self.recent_orders))]
            shopper, order = self.shoppers[placed.shopper_key], placed.name
        elif not self._keys or (intent in support.PROSPECT_INTENTS and rng.random() < 0.3):
            self._prospects += 1  # a visitor who has not bought (yet): no Shopify customer
            shopper = new_shopper(rng, -self._prospects)
        else:
            shopper = self.shoppers[self._keys[rng.randrange(len(self._keys))]]
        await self._message(links, shopper, intent, order)

    async def _message(self, links: Links, shopper: Shopper, intent: str, order: str | None) -> bool:
        if not links.has("gorgias"):
            return False
        message = support.compose(self.rng, intent, name=shopper.name, order=order)
        body = {"customer": {"email": shopper.email, "name": shopper.name}, "subject": message["subject"],
                "body": message["body"], "channel": message["channel"]}
        status, answer = await links.call("gorgias", "POST", "/_sandbox/customer-message", body=body)
        if status not in (200, 201):
            return False
        self.counts["support_messages"] += 1
        self.intents[intent] += 1
        self._note("support_message", intent=intent, email=shopper.email, order=order,
                   ticket_id=(answer or {}).get("ticket_id"))
        return True

    async def _return(self, links: Links, followup: FollowUp, portal: bool) -> None:
        placed = self.orders.get(followup.order or "")
        if placed is None:
            return
        shopper = self.shoppers[placed.shopper_key]
        if await self._message(links, shopper, "get_refund", placed.name):
            self.counts["return_requests"] += 1
        if portal and self.returns_portal and links.has("shipbob"):
            await self._warehouse_ready(links)
            created = await self.warehouse.portal_return(links, self.rng, placed, shopper.city.region)
            if created is not None:
                self.counts["returns_created"] += 1
                self._note("return", order=placed.name, **created)

    # --- staff ---------------------------------------------------------------------------------
    async def _warehouse_ready(self, links: Links) -> None:
        if not self.warehouse.ready:  # first need, not first minute: the first orders come at once
            await self.warehouse.prepare(links)

    async def _restock(self, links: Links) -> None:
        if not links.has("shipbob"):
            return
        await self._warehouse_ready(links)
        receipts = await self.warehouse.restock(links, self.rng, budget=2 + int(self.traffic) // 20)
        for receipt in receipts:
            self.counts["stock_receipts"] += 1
            self.counts["units_received"] += receipt["units"]
            self._note("stock_receipt", **receipt)

    async def _advance(self, links: Links, *, paced: bool) -> None:
        if links.has("shipbob"):
            status, _ = await links.call("shipbob", "POST", "/_sandbox/advance")
            if status == 200:
                self.counts["warehouse_steps"] += 1
        if links.has("amazon") and not paced:
            # Minutes taken at once: move Amazon's clock as far, so its feeds and tokens age
            # with the simulated store (paced minutes are real time there already).
            await links.call("amazon", "POST", "/_sandbox/advance", body={"seconds": 60 * ADVANCE_EVERY})
