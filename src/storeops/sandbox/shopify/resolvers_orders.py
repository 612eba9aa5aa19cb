"""Queries and fields for customers, orders and their line items."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from graphql import GraphQLResolveInfo

from storeops.sandbox.shopify import search
from storeops.sandbox.shopify.graph import connection, limit_list, resolves, sort_key, store_of
from storeops.sandbox.shopify.ids import CURRENCY, iso_z, money_bag, money_v2, parse_gid
from storeops.sandbox.shopify.orders import fulfillment_status, received, refunded, subtotal, total
from storeops.sandbox.shopify.records import (
    Address,
    Customer,
    Fulfillment,
    LineItem,
    Order,
    Refund,
)
from storeops.sandbox.shopify.store import Store

Info = GraphQLResolveInfo
ZERO = Decimal("0")


# --- customers -----------------------------------------------------------------------------
CUSTOMER_FIELDS: dict[str, search.Getter] = {
    "id": lambda c: c.id, "email": lambda c: c.email, "first_name": lambda c: c.first_name,
    "last_name": lambda c: c.last_name, "tag": lambda c: c.tags, "state": lambda c: c.state,
    "created_at": lambda c: c.created_at, "updated_at": lambda c: c.updated_at, "phone": lambda c: c.phone,
}


@resolves("QueryRoot", "customers")
def customers(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    items = search.apply(store_of(info).customers.values(), args.get("query"), CUSTOMER_FIELDS,
                         lambda c: f"{c.first_name} {c.last_name} {c.email}")
    return connection(items, args, sort_key(args.get("sortKey"), {
        "ID": lambda c: c.id, "UPDATED_AT": lambda c: iso_z(c.updated_at), "CREATED_AT": lambda c: iso_z(c.created_at),
        "NAME": lambda c: f"{c.first_name} {c.last_name}".lower()}))


@resolves("QueryRoot", "customer")
def customer(_: Any, info: Info, id: str) -> Customer | None:
    return store_of(info).customers.get(parse_gid(id, "Customer") or 0)


@resolves("Customer", "displayName")
def customer_name(c: Customer, info: Info) -> str:
    return f"{c.first_name} {c.last_name}".strip() or c.email


@resolves("Customer", "defaultEmailAddress")
def customer_email(c: Customer, info: Info) -> dict[str, Any]:
    return {"emailAddress": c.email, "marketingState": "SUBSCRIBED" if c.accepts_marketing else "NOT_SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN" if c.accepts_marketing else None,
            "marketingUpdatedAt": c.created_at if c.accepts_marketing else None}


@resolves("Customer", "defaultPhoneNumber")
def customer_phone(c: Customer, info: Info) -> dict[str, Any] | None:
    return {"phoneNumber": c.phone} if c.phone else None


@resolves("Customer", "defaultAddress")
def customer_address(c: Customer, info: Info) -> Address | None:
    return c.addresses[0] if c.addresses else None


@resolves("Customer", "numberOfOrders")
def customer_order_count(c: Customer, info: Info) -> int:
    return len(c.order_ids)


@resolves("Customer", "amountSpent")
def customer_spent(c: Customer, info: Info) -> dict[str, Any]:
    store = store_of(info)
    spent = sum((received(store.orders[o]) - refunded(store, store.orders[o]) for o in c.order_ids), ZERO)
    return money_v2(spent)


@resolves("Customer", "orders")
def customer_orders(c: Customer, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return _orders(store, [store.orders[o] for o in c.order_ids], args)


@resolves("MailingAddress", "countryCodeV2")
def address_country(a: Address, info: Info) -> str:
    return a.country_code


# --- orders --------------------------------------------------------------------------------
def order_fields(store: Store) -> dict[str, search.Getter]:
    return {
        "id": lambda o: o.id, "name": lambda o: o.name, "email": lambda o: o.email, "tag": lambda o: o.tags,
        "created_at": lambda o: o.created_at, "updated_at": lambda o: o.updated_at,
        "processed_at": lambda o: o.created_at, "financial_status": lambda o: o.financial_status,
        "fulfillment_status": lambda o: {None: "unshipped", "partial": "partial",
                                         "fulfilled": "shipped"}[fulfillment_status(o)],
        "status": lambda o: "cancelled" if o.cancelled_at else ("closed" if o.closed_at else "open"),
        "customer_id": lambda o: o.customer_id, "sku": lambda o: [li.sku for li in o.line_items],
        "checkout_token": lambda o: o.checkout_token,
    }


ORDER_SORTS = {"ID": lambda o: o.id, "PROCESSED_AT": lambda o: iso_z(o.created_at),
               "CREATED_AT": lambda o: iso_z(o.created_at), "UPDATED_AT": lambda o: iso_z(o.updated_at),
               "ORDER_NUMBER": lambda o: o.number, "TOTAL_PRICE": lambda o: str(total(o)).zfill(14)}


def _orders(store: Store, items: list[Order], args: dict[str, Any]) -> dict[str, Any]:
    chosen = search.apply(items, args.get("query"), order_fields(store), lambda o: f"{o.name} {o.email}")
    return connection(chosen, args, sort_key(args.get("sortKey") or "PROCESSED_AT", ORDER_SORTS))


@resolves("QueryRoot", "orders")
def orders(_: Any, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return _orders(store, list(store.orders.values()), args)


@resolves("QueryRoot", "order")
def order(_: Any, info: Info, id: str) -> Order | None:
    return store_of(info).orders.get(parse_gid(id, "Order") or 0)


def _order_resolvers() -> None:
    def sets(name: str, fn: Any) -> None:
        resolves("Order", name)(lambda o, info, **_: money_bag(fn(store_of(info), o)))

    sets("subtotalPriceSet", lambda s, o: subtotal(o))
    sets("totalShippingPriceSet", lambda s, o: o.shipping_line.price if o.shipping_line else ZERO)
    sets("totalTaxSet", lambda s, o: ZERO)
    sets("totalDiscountsSet", lambda s, o: ZERO)
    sets("totalPriceSet", lambda s, o: total(o))
    sets("currentTotalPriceSet", lambda s, o: max(ZERO, total(o) - refunded(s, o)))
    sets("totalRefundedSet", lambda s, o: refunded(s, o))
    sets("totalOutstandingSet", lambda s, o: max(ZERO, total(o) - received(o)))


_order_resolvers()


@resolves("Order", "cancelReason")
def order_cancel_reason(o: Order, info: Info) -> str | None:
    return o.cancel_reason.upper() if o.cancel_reason else None


@resolves("Order", "closed")
def order_closed(o: Order, info: Info) -> bool:
    return o.closed_at is not None


@resolves("Order", "confirmed")
def order_confirmed(o: Order, info: Info) -> bool:
    return True


@resolves("Order", "currencyCode")
def order_currency(o: Order, info: Info) -> str:
    return CURRENCY


@resolves("Order", "displayFinancialStatus")
def order_financial(o: Order, info: Info) -> str:
    return "AUTHORIZED" if o.financial_status == "authorized" else o.financial_status.upper()


@resolves("Order", "displayFulfillmentStatus")
def order_fulfillment(o: Order, info: Info) -> str:
    return {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED", "fulfilled": "FULFILLED"}[fulfillment_status(o)]


@resolves("Order", "fullyPaid")
def order_fully_paid(o: Order, info: Info) -> bool:
    return received(o) >= total(o)


@resolves("Order", "unpaid")
def order_unpaid(o: Order, info: Info) -> bool:
    return received(o) == 0


@resolves("Order", "requiresShipping")
def order_requires_shipping(o: Order, info: Info) -> bool:
    return any(li.requires_shipping for li in o.line_items)


@resolves("Order", "subtotalLineItemsQuantity")
def order_quantity(o: Order, info: Info) -> int:
    return sum(li.quantity for li in o.line_items)


@resolves("Order", "totalWeight")
def order_weight(o: Order, info: Info) -> int:
    return sum(li.grams * li.quantity for li in o.line_items)


@resolves("Order", "paymentGatewayNames")
def order_gateways(o: Order, info: Info) -> list[str]:
    return [o.gateway]


@resolves("Order", "customAttributes")
def order_attributes(o: Order, info: Info) -> list[dict[str, str]]:
    return [{"key": a["name"], "value": a["value"]} for a in o.note_attributes]


@resolves("Order", "customer")
def order_customer(o: Order, info: Info) -> Customer | None:
    return store_of(info).customers.get(o.customer_id or 0)


@resolves("Order", "lineItems")
def order_lines(o: Order, info: Info, **args: Any) -> dict[str, Any]:
    return connection(o.line_items, args, lambda li: [o.line_items.index(li), li.id])


@resolves("Order", "fulfillmentOrders")
def order_fulfillment_orders(o: Order, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return connection([store.fulfillment_orders[f] for f in o.fulfillment_order_ids], args, lambda f: [f.id, f.id])


@resolves("Order", "fulfillments")
def order_fulfillments(o: Order, info: Info, first: int | None = None, **_: Any) -> list[Fulfillment]:
    return limit_list([store_of(info).fulfillments[f] for f in o.fulfillment_ids], first)


@resolves("Order", "refunds")
def order_refunds(o: Order, info: Info, first: int | None = None) -> list[Refund]:
    return limit_list([store_of(info).refunds[r] for r in o.refund_ids], first)


@resolves("Order", "returns")
def order_returns(o: Order, info: Info, **args: Any) -> dict[str, Any]:
    store = store_of(info)
    return connection([store.returns[r] for r in o.return_ids], args, lambda r: [r.id, r.id])


def _line_money(name: str, fn: Any) -> None:
    resolves("LineItem", name)(lambda li, info, **_: money_bag(fn(li)))


_line_money("originalUnitPriceSet", lambda li: li.price)
_line_money("discountedUnitPriceSet", lambda li: li.price)
_line_money("originalTotalSet", lambda li: li.price * li.quantity)
_line_money("discountedTotalSet", lambda li: li.price * li.quantity)
_line_money("totalDiscountSet", lambda li: ZERO)


@resolves("LineItem", "currentQuantity")
def line_current(li: LineItem, info: Info) -> int:
    return li.quantity - li.refunded_quantity


@resolves("LineItem", "unfulfilledQuantity")
def line_unfulfilled(li: LineItem, info: Info) -> int:
    return max(0, li.quantity - li.refunded_quantity - li.fulfilled_quantity)


@resolves("LineItem", "refundableQuantity")
def line_refundable(li: LineItem, info: Info) -> int:
    return li.quantity - li.refunded_quantity


@resolves("LineItem", "variant")
def line_variant(li: LineItem, info: Info) -> Any:
    return store_of(info).variants.get(li.variant_id or 0)


@resolves("LineItem", "product")
def line_product(li: LineItem, info: Info) -> Any:
    return store_of(info).products.get(li.product_id or 0)


@resolves("LineItem", "customAttributes")
def line_attributes(li: LineItem, info: Info) -> list[dict[str, str]]:
    return [{"key": p["name"], "value": p["value"]} for p in li.properties]


for _name in ("originalPriceSet", "discountedPriceSet", "currentDiscountedPriceSet"):
    resolves("ShippingLine", _name)(lambda s, info, **_: money_bag(s.price))
resolves("ShippingLine", "custom", "isRemoved")(lambda s, info, **_: False)
resolves("ShippingLine", "carrierIdentifier")(lambda s, info, **_: None)
