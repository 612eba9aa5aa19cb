"""Order life cycle: place (commit stock, open fulfillment orders), fulfill, refund,
cancel, return. Each step changes the records the way Shopify's docs describe and emits
the webhooks a real store sends for it (orders/*, fulfillments/create, refunds/create,
inventory_levels/update)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

from storeops.sandbox.shopify.ids import money, now
from storeops.sandbox.shopify.payloads import fulfillment_payload, order_payload, refund_payload
from storeops.sandbox.shopify.records import (
    Address,
    Customer,
    Fulfillment,
    FulfillmentLineItem,
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    LineItem,
    Order,
    Refund,
    RefundLineItem,
    Return,
    ReturnLineItem,
    ShippingLine,
    Transaction,
    Variant,
)
from storeops.sandbox.shopify.store import Store


class OrderRefused(Exception):
    """The request cannot be applied; `field` names the input at fault (a userError)."""

    def __init__(self, message: str, field: list[str] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


def subtotal(order: Order) -> Decimal:
    return sum((li.price * li.quantity for li in order.line_items), Decimal("0"))


def total(order: Order) -> Decimal:
    shipping = order.shipping_line.price if order.shipping_line else Decimal("0")
    return money(subtotal(order) + shipping)


def refunded(store: Store, order: Order) -> Decimal:
    return sum((store.refunds[r].total for r in order.refund_ids), Decimal("0"))


def received(order: Order) -> Decimal:
    return sum((t.amount for t in order.transactions if t.kind in ("sale", "capture") and t.status == "success"),
               Decimal("0"))


def fulfillment_status(order: Order) -> str | None:
    """REST fulfillment_status: null, "partial" or "fulfilled"."""
    wanted = sum(li.quantity - li.refunded_quantity for li in order.line_items)
    done = sum(li.fulfilled_quantity for li in order.line_items)
    if done == 0:
        return None
    return "fulfilled" if done >= wanted else "partial"


def allocate(store: Store, lines: list[tuple[Variant, int]]) -> dict[int, int]:
    """variant id -> location id. One location for the whole order if one has it all
    (fewer parcels), else per line the first location that has enough."""
    locations = sorted(store.locations.values(), key=lambda loc: loc.fc_id)

    def has(loc_id: int, variant: Variant, qty: int) -> bool:
        level = store.levels.get((variant.inventory_item_id, loc_id))
        return level is not None and level.quantities["available"] >= qty

    for loc in locations:
        if all(has(loc.id, v, q) for v, q in lines):
            return {v.id: loc.id for v, _ in lines}
    chosen: dict[int, int] = {}
    for index, (variant, qty) in enumerate(lines):
        spot = next((loc.id for loc in locations if has(loc.id, variant, qty)), None)
        if spot is None:
            raise OrderRefused(f"{variant.sku or variant.title} has fewer than {qty} available",
                               ["lines", str(index)], "NOT_ENOUGH_IN_STOCK")
        chosen[variant.id] = spot
    return chosen


@dataclass
class Placement:
    customer: Customer
    email: str
    shipping_address: Address
    lines: list[tuple[Variant, int]]
    shipping_line: ShippingLine
    paid: bool = True
    gateway: str = "shopify_payments"
    checkout_token: str | None = None
    cart_token: str | None = None
    note: str | None = None
    tags: list[str] | None = None


def place_order(store: Store, placement: Placement) -> Order:
    where = allocate(store, placement.lines)
    stamp = now()
    line_items = []
    for variant, qty in placement.lines:
        product = store.product_of(variant)
        line_items.append(LineItem(
            id=store.ids.next(), variant_id=variant.id, product_id=product.id, title=product.title,
            variant_title=None if variant.title == "Default Title" else variant.title, sku=variant.sku,
            vendor=product.vendor, quantity=qty, price=variant.price, grams=variant.weight_grams))
    order = Order(
        id=store.ids.next(), number=store.next_order_number, email=placement.email,
        phone=placement.shipping_address.phone, customer_id=placement.customer.id,
        shipping_address=placement.shipping_address, billing_address=placement.shipping_address,
        line_items=line_items, shipping_line=placement.shipping_line,
        financial_status="paid" if placement.paid else "pending", created_at=stamp, updated_at=stamp,
        token=secrets.token_hex(16), checkout_token=placement.checkout_token, cart_token=placement.cart_token,
        gateway=placement.gateway, note=placement.note, tags=sorted(placement.tags or []))
    store.next_order_number += 1
    order.transactions.append(Transaction(
        id=store.ids.next(), kind="sale" if placement.paid else "authorization",
        status="success" if placement.paid else "pending", amount=total(order), gateway=placement.gateway,
        created_at=stamp))
    store.orders[order.id] = order
    store.line_items.update((li.id, li) for li in line_items)
    placement.customer.order_ids.append(order.id)
    placement.customer.updated_at = stamp
    # Stock: a placed order moves quantity from available to committed at its location.
    by_location: dict[int, list[LineItem]] = {}
    for (variant, qty), li in zip(placement.lines, line_items, strict=True):
        loc_id = where[variant.id]
        store.change_quantity(store.levels[(variant.inventory_item_id, loc_id)], "committed", qty)
        by_location.setdefault(loc_id, []).append(li)
    for loc_id, items in by_location.items():
        fo = FulfillmentOrder(
            id=store.ids.next(), order_id=order.id, location_id=loc_id, created_at=stamp, updated_at=stamp,
            line_items=[FulfillmentOrderLineItem(
                id=store.ids.next(), line_item_id=li.id, variant_id=li.variant_id,
                inventory_item_id=store.variants[li.variant_id].inventory_item_id if li.variant_id else None,
                total_quantity=li.quantity, remaining_quantity=li.quantity) for li in items])
        store.fulfillment_orders[fo.id] = fo
        order.fulfillment_order_ids.append(fo.id)
    store.emit("orders/create", lambda: order_payload(store, order))
    if placement.paid:
        store.emit("orders/paid", lambda: order_payload(store, order))
    return order


def touch_order(store: Store, order: Order) -> None:
    order.updated_at = now()
    store.emit("orders/updated", lambda: order_payload(store, order))


def fulfill(store: Store, requests: list[tuple[FulfillmentOrder, list[tuple[FulfillmentOrderLineItem, int]] | None]],
            *, company: str | None, numbers: list[str], urls: list[str]) -> Fulfillment:
    orders = {fo.order_id for fo, _ in requests}
    if len(orders) != 1:
        raise OrderRefused("All fulfillment orders must belong to the same order.",
                           ["fulfillment", "lineItemsByFulfillmentOrder"])
    order = store.orders[orders.pop()]
    if order.cancelled_at is not None:
        raise OrderRefused("Order is cancelled.", ["fulfillment"])
    plan: list[tuple[FulfillmentOrder, FulfillmentOrderLineItem, int]] = []
    for index, (fo, wanted) in enumerate(requests):
        if fo.status in ("CLOSED", "CANCELLED"):
            raise OrderRefused(f"Fulfillment order {fo.gid} is {fo.status.lower()}.",
                               ["fulfillment", "lineItemsByFulfillmentOrder", str(index)])
        pairs = wanted if wanted is not None else [(li, li.remaining_quantity) for li in fo.line_items]
        for li, qty in pairs:
            if qty <= 0 or qty > li.remaining_quantity:
                raise OrderRefused(f"Invalid quantity {qty} for fulfillment order line item {li.gid}.",
                                   ["fulfillment", "lineItemsByFulfillmentOrder", str(index)])
            plan.append((fo, li, qty))
    if not plan:
        raise OrderRefused("Nothing to fulfill.", ["fulfillment"])
    if len({fo.location_id for fo, _, _ in plan}) > 1:
        raise OrderRefused("All fulfillment orders in a fulfillment must be assigned to the same location.",
                           ["fulfillment", "lineItemsByFulfillmentOrder"])
    stamp = now()
    location_id = plan[0][0].location_id
    fulfillment = Fulfillment(
        id=store.ids.next(), order_id=order.id, location_id=location_id,
        name=f"{order.name}.{len(order.fulfillment_ids) + 1}", line_items=[],
        fulfillment_order_ids=sorted({fo.id for fo, _, _ in plan}), created_at=stamp, updated_at=stamp,
        tracking_company=company, tracking_numbers=numbers, tracking_urls=urls)
    line_items = {li.id: li for li in order.line_items}
    for fo, fo_li, qty in plan:
        fo_li.remaining_quantity -= qty
        line_items[fo_li.line_item_id].fulfilled_quantity += qty
        fulfillment.line_items.append(FulfillmentLineItem(id=store.ids.next(), line_item_id=fo_li.line_item_id,
                                                          quantity=qty))
        if fo_li.inventory_item_id is not None:
            level = store.levels.get((fo_li.inventory_item_id, fo.location_id))
            if level is not None:  # shipped: leaves committed and on_hand; available unchanged
                level.quantities["committed"] -= qty
                level.quantities["on_hand"] -= qty
                level.updated_at = stamp
        fo.status = "CLOSED" if all(x.remaining_quantity == 0 for x in fo.line_items) else "IN_PROGRESS"
        fo.updated_at = stamp
        if fulfillment.id not in fo.fulfillment_ids:
            fo.fulfillment_ids.append(fulfillment.id)
    store.fulfillments[fulfillment.id] = fulfillment
    order.fulfillment_ids.append(fulfillment.id)
    store.emit("fulfillments/create", lambda: fulfillment_payload(store, fulfillment))
    touch_order(store, order)
    return fulfillment


def refund(store: Store, order: Order, lines: list[tuple[LineItem, int, str, int | None]], *,
           shipping_full: bool, shipping_amount: Decimal | None, note: str | None,
           amount: Decimal | None) -> Refund:
    """Refund line items (restocking per restock type) and/or shipping; `amount` is the
    sum of the refund transactions asked for (None: no money moves)."""
    stamp = now()
    refund_lines: list[RefundLineItem] = []
    for index, (li, qty, restock_type, location_id) in enumerate(lines):
        if qty <= 0 or qty > li.quantity - li.refunded_quantity:
            raise OrderRefused(f"Quantity {qty} cannot be refunded for line item {li.gid}.",
                               ["refundLineItems", str(index), "quantity"])
        if restock_type == "CANCEL" and qty > li.quantity - li.refunded_quantity - li.fulfilled_quantity:
            raise OrderRefused("Only unfulfilled units can be restocked with CANCEL.",
                               ["refundLineItems", str(index), "restockType"])
        if restock_type != "NO_RESTOCK" and location_id is None:
            location_id = _line_location(store, order, li)
        refund_lines.append(RefundLineItem(id=store.ids.next(), line_item_id=li.id, quantity=qty,
                                           restock_type=restock_type, location_id=location_id,
                                           subtotal=money(li.price * qty)))
    shipping = Decimal("0")
    if order.shipping_line is not None:
        if shipping_full:
            shipping = order.shipping_line.price
        elif shipping_amount is not None:
            shipping = money(shipping_amount)
    # Money moves only through the transactions given (shopify.dev refundCreate: without
    # `transactions` a refund restocks and records lines but returns no money).
    value = Decimal("0") if amount is None else money(amount)
    refundable = received(order) - refunded(store, order)
    if value > refundable:
        raise OrderRefused(f"Refund amount {value} is more than the refundable amount {refundable}.",
                           ["transactions"])
    if value <= 0 and not refund_lines:
        raise OrderRefused("A refund needs line items, shipping or an amount.", ["refundLineItems"])
    record = Refund(id=store.ids.next(), order_id=order.id, note=note, line_items=refund_lines,
                    shipping_amount=shipping, created_at=stamp, transactions=[])
    if value > 0:
        parent = next((t.id for t in order.transactions if t.kind == "sale"), None)
        record.transactions.append(Transaction(id=store.ids.next(), kind="refund", status="success", amount=value,
                                               gateway=order.gateway, created_at=stamp, parent_id=parent))
    for rl in refund_lines:
        li = next(x for x in order.line_items if x.id == rl.line_item_id)
        li.refunded_quantity += rl.quantity
        if rl.restock_type == "CANCEL":
            _release_unfulfilled(store, order, li, rl.quantity)
        elif rl.restock_type == "RETURN" and rl.location_id is not None and li.variant_id is not None:
            level = store.levels.get((store.variants[li.variant_id].inventory_item_id, rl.location_id))
            if level is not None:  # shipped units come back on hand and available
                store.change_quantity(level, "available", rl.quantity)
    store.refunds[record.id] = record
    order.refund_ids.append(record.id)
    paid = received(order)
    back = refunded(store, order)
    if back > 0:
        order.financial_status = "refunded" if back >= paid else "partially_refunded"
    store.emit("refunds/create", lambda: refund_payload(store, record))
    touch_order(store, order)
    return record


def _release_unfulfilled(store: Store, order: Order, li: LineItem, qty: int) -> None:
    """A CANCEL restock gives back units not yet shipped: committed -> available, and the
    fulfillment order no longer asks for them."""
    for fo_id in order.fulfillment_order_ids:
        fo = store.fulfillment_orders[fo_id]
        for fo_li in fo.line_items:
            if fo_li.line_item_id != li.id or qty <= 0:
                continue
            take = min(qty, fo_li.remaining_quantity)
            fo_li.remaining_quantity -= take
            qty -= take
            level = store.levels.get((fo_li.inventory_item_id or 0, fo.location_id))
            if level is not None and take:
                store.change_quantity(level, "committed", -take)
            if all(x.remaining_quantity == 0 for x in fo.line_items):
                fo.status = "CLOSED"


def _line_location(store: Store, order: Order, li: LineItem) -> int | None:
    for fo_id in order.fulfillment_order_ids:
        fo = store.fulfillment_orders[fo_id]
        if any(x.line_item_id == li.id for x in fo.line_items):
            return fo.location_id
    return None


def cancel(store: Store, order: Order, *, reason: str, restock: bool, refund_payment: bool) -> None:
    if order.cancelled_at is not None:
        raise OrderRefused("Order has already been cancelled.", ["orderId"], "INVALID")
    if any(li.fulfilled_quantity for li in order.line_items):
        raise OrderRefused("Cannot cancel an order with fulfilled items.", ["orderId"], "INVALID")
    stamp = now()
    for fo_id in order.fulfillment_order_ids:
        fo = store.fulfillment_orders[fo_id]
        for fo_li in fo.line_items:
            level = store.levels.get((fo_li.inventory_item_id or 0, fo.location_id))
            if restock and level is not None and fo_li.remaining_quantity:
                store.change_quantity(level, "committed", -fo_li.remaining_quantity)
            fo_li.remaining_quantity = 0
        fo.status = "CANCELLED"
        fo.updated_at = stamp
    if refund_payment and received(order) > refunded(store, order):
        amount = received(order) - refunded(store, order)
        record = Refund(id=store.ids.next(), order_id=order.id, note="Order cancelled", line_items=[],
                        shipping_amount=Decimal("0"), created_at=stamp,
                        transactions=[Transaction(id=store.ids.next(), kind="refund", status="success",
                                                  amount=amount, gateway=order.gateway, created_at=stamp)])
        store.refunds[record.id] = record
        order.refund_ids.append(record.id)
        order.financial_status = "refunded"
        store.emit("refunds/create", lambda: refund_payload(store, record))
    elif order.financial_status == "pending":
        order.financial_status = "voided"
    order.cancelled_at = order.closed_at = stamp
    order.cancel_reason = reason.lower()
    order.updated_at = stamp
    store.emit("orders/cancelled", lambda: order_payload(store, order))
    store.emit("orders/updated", lambda: order_payload(store, order))


def create_return(store: Store, order: Order, lines: list[tuple[int, int, str]]) -> Return:
    """lines: (fulfillment line item id, quantity, reason note); opens the return."""
    shipped: dict[int, FulfillmentLineItem] = {
        fli.id: fli for f_id in order.fulfillment_ids for fli in store.fulfillments[f_id].line_items}
    items: list[ReturnLineItem] = []
    for index, (fli_id, qty, note) in enumerate(lines):
        fli = shipped.get(fli_id)
        returned = sum(rl.quantity for r_id in order.return_ids for rl in store.returns[r_id].line_items
                       if rl.fulfillment_line_item_id == fli_id and store.returns[r_id].status != "CANCELED")
        if fli is None or qty <= 0 or qty > fli.quantity - returned:
            raise OrderRefused("Return quantity is not available for this fulfillment line item.",
                               ["returnInput", "returnLineItems", str(index)], "INVALID")
        items.append(ReturnLineItem(id=store.ids.next(), fulfillment_line_item_id=fli_id,
                                    line_item_id=fli.line_item_id, quantity=qty, return_reason_note=note))
    if not items:
        raise OrderRefused("A return needs at least one line item.", ["returnInput", "returnLineItems"], "BLANK")
    record = Return(id=store.ids.next(), order_id=order.id, name=f"{order.name}-R{len(order.return_ids) + 1}",
                    line_items=items, created_at=now())
    store.returns[record.id] = record
    order.return_ids.append(record.id)
    touch_order(store, order)
    return record


def settle_payment(store: Store, order: Order, outcome: str) -> None:
    """The buyer's pending payment settles outside the Admin API (a payment link paid, a
    bank transfer arriving, an authorization lapsing). `outcome`: "paid" captures it (a
    sale transaction; orders/paid + orders/updated), "voided" or "expired" leaves the order
    unpaid with that financial status (orders/updated)."""
    if order.cancelled_at is not None:
        raise OrderRefused("Order is cancelled.", ["orderId"], "INVALID")
    if order.financial_status not in ("pending", "authorized", "voided", "expired"):
        raise OrderRefused(f"Order is {order.financial_status}: nothing to settle.", ["orderId"], "INVALID")
    if outcome not in ("paid", "voided", "expired"):
        raise OrderRefused("outcome must be paid, voided or expired", ["outcome"], "INVALID")
    stamp = now()
    for t in order.transactions:
        if t.status == "pending":
            t.status = "success" if outcome == "paid" else "failure"
    if outcome == "paid":
        order.transactions.append(Transaction(id=store.ids.next(), kind="sale", status="success",
                                              amount=total(order) - received(order), gateway=order.gateway,
                                              created_at=stamp))
    order.financial_status = outcome
    order.updated_at = stamp
    if outcome == "paid":
        store.emit("orders/paid", lambda: order_payload(store, order))
    store.emit("orders/updated", lambda: order_payload(store, order))
