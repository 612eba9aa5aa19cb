"""Webhook payloads in Shopify's REST shape (what HTTPS webhook deliveries carry).

Field sets follow the 2026-07 payload examples and schemas in
shared/vendor-specs/shopify/webhooks-2026-07/ (topic-metadata/<topic>.json "response",
payload-schemas/<topic>.json). Ids are exact 64-bit integers next to their
admin_graphql_api_id. Money is strings with two decimals; times carry the shop's offset.
The sandbox charges no tax and no duties, so those lists are empty and those sets zero.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from storeops.sandbox.shopify.ids import CURRENCY, gid, iso_rest, money_str, rest_money_set
from storeops.sandbox.shopify.records import (
    Address,
    Checkout,
    Customer,
    Fulfillment,
    InventoryLevel,
    LineItem,
    Order,
    Product,
    Refund,
    Transaction,
    Variant,
)

if TYPE_CHECKING:
    from storeops.sandbox.shopify.store import Store

ZERO = Decimal("0")


def order_address(a: Address | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"first_name": a.first_name, "address1": a.address1, "phone": a.phone, "city": a.city, "zip": a.zip,
            "province": a.province, "country": a.country, "last_name": a.last_name, "address2": a.address2,
            "company": a.company, "latitude": a.latitude, "longitude": a.longitude, "name": a.name,
            "country_code": a.country_code, "province_code": a.province_code}


def customer_address(a: Address, customer_id: int, default: bool) -> dict[str, Any]:
    return {"id": a.id, "customer_id": customer_id, "first_name": a.first_name, "last_name": a.last_name,
            "company": a.company, "address1": a.address1, "address2": a.address2, "city": a.city,
            "province": a.province, "country": a.country, "zip": a.zip, "phone": a.phone, "name": a.name,
            "province_code": a.province_code, "country_code": a.country_code, "country_name": a.country,
            "default": default}


def customer_payload(c: Customer, *, full: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": c.id, "email": c.email, "created_at": iso_rest(c.created_at), "updated_at": iso_rest(c.updated_at),
        "first_name": c.first_name, "last_name": c.last_name, "state": c.state.lower(), "note": c.note,
        "verified_email": c.verified_email, "multipass_identifier": None, "tax_exempt": c.tax_exempt,
        "phone": c.phone, "currency": CURRENCY, "tax_exemptions": [],
        "admin_graphql_api_id": c.gid,
        "default_address": customer_address(c.addresses[0], c.id, True) if c.addresses else None,
        "email_marketing_consent": {
            "state": "subscribed" if c.accepts_marketing else "not_subscribed",
            "opt_in_level": "single_opt_in", "consent_updated_at": iso_rest(c.created_at)},
        "tags": ", ".join(c.tags),
    }
    if full:
        body["addresses"] = [customer_address(a, c.id, i == 0) for i, a in enumerate(c.addresses)]
    return body


def _line_status(li: LineItem) -> str | None:
    if li.fulfilled_quantity == 0:
        return None
    return "fulfilled" if li.fulfilled_quantity >= li.quantity - li.refunded_quantity else "partial"


def line_item_payload(li: LineItem) -> dict[str, Any]:
    return {
        "id": li.id, "admin_graphql_api_id": li.gid, "attributed_staffs": [],
        "current_quantity": li.quantity - li.refunded_quantity,
        "fulfillable_quantity": max(0, li.quantity - li.refunded_quantity - li.fulfilled_quantity),
        "fulfillment_service": "manual", "fulfillment_status": _line_status(li), "gift_card": False,
        "grams": li.grams, "name": li.name, "price": money_str(li.price), "price_set": rest_money_set(li.price),
        "product_exists": li.product_id is not None, "product_id": li.product_id, "properties": li.properties,
        "quantity": li.quantity, "requires_shipping": li.requires_shipping, "sales_line_item_group_id": None,
        "sku": li.sku or "", "taxable": li.taxable, "title": li.title, "total_discount": "0.00",
        "total_discount_set": rest_money_set(ZERO), "variant_id": li.variant_id,
        "variant_inventory_management": "shopify", "variant_title": li.variant_title, "vendor": li.vendor,
        "tax_lines": [], "duties": [], "discount_allocations": [],
    }


def transaction_payload(t: Transaction, order: Order) -> dict[str, Any]:
    return {
        "id": t.id, "admin_graphql_api_id": t.gid, "amount": money_str(t.amount), "amount_rounding": None,
        "authorization": None, "created_at": iso_rest(t.created_at), "currency": CURRENCY, "device_id": None,
        "error_code": None, "gateway": t.gateway, "kind": t.kind, "location_id": None,
        "manual_payment_gateway": t.gateway == "manual", "message": None, "order_id": order.id,
        "parent_id": t.parent_id, "payment_id": f"c{order.id}.{t.id}", "processed_at": iso_rest(t.created_at),
        "receipt": {}, "source_name": "web", "status": t.status, "test": order.test,
        # Transactions name the currency "currency" here, not "currency_code" (refunds/create example).
        "total_unsettled_set": {"presentment_money": {"amount": "0.00", "currency": CURRENCY},
                                "shop_money": {"amount": "0.00", "currency": CURRENCY}}, "user_id": None,
    }


def fulfillment_payload(store: Store, f: Fulfillment) -> dict[str, Any]:
    order = store.orders[f.order_id]
    lines = {li.id: li for li in order.line_items}
    items = []
    for fli in f.line_items:
        body = line_item_payload(lines[fli.line_item_id])
        body["quantity"] = fli.quantity
        items.append(body)
    return {
        "id": f.id, "admin_graphql_api_id": f.gid, "created_at": iso_rest(f.created_at),
        "location_id": f.location_id, "name": f.name, "order_id": f.order_id, "origin_address": {},
        "receipt": {}, "service": "manual", "shipment_status": f.shipment_status, "status": f.status.lower(),
        "tracking_company": f.tracking_company, "tracking_number": f.tracking_numbers[0] if f.tracking_numbers
        else None, "tracking_numbers": f.tracking_numbers,
        "tracking_url": f.tracking_urls[0] if f.tracking_urls else None, "tracking_urls": f.tracking_urls,
        "updated_at": iso_rest(f.updated_at), "line_items": items,
        "destination": order_address(order.shipping_address), "email": order.email,
    }


def refund_payload(store: Store, r: Refund) -> dict[str, Any]:
    order = store.orders[r.order_id]
    lines = {li.id: li for li in order.line_items}
    return {
        "id": r.id, "admin_graphql_api_id": r.gid, "created_at": iso_rest(r.created_at), "note": r.note,
        "order_id": r.order_id, "processed_at": iso_rest(r.created_at),
        "restock": any(rl.restock_type != "NO_RESTOCK" for rl in r.line_items),
        "total_duties_set": rest_money_set(ZERO), "user_id": None, "order_adjustments": [], "duties": [],
        "transactions": [transaction_payload(t, order) for t in r.transactions],
        "refund_line_items": [{
            "id": rl.id, "line_item_id": rl.line_item_id, "location_id": rl.location_id, "quantity": rl.quantity,
            "restock_type": rl.restock_type.lower(), "subtotal": float(rl.subtotal),
            "subtotal_set": rest_money_set(rl.subtotal), "total_tax": 0.0, "total_tax_set": rest_money_set(ZERO),
            "line_item": line_item_payload(lines[rl.line_item_id])} for rl in r.line_items],
        "refund_shipping_lines": [],
        "return": {"id": r.return_id, "admin_graphql_api_id": gid("Return", r.return_id)} if r.return_id else None,
    }


def order_payload(store: Store, o: Order) -> dict[str, Any]:
    from storeops.sandbox.shopify.orders import fulfillment_status, received, refunded, subtotal, total

    sub = subtotal(o)
    ship = o.shipping_line.price if o.shipping_line else ZERO
    gross = total(o)
    back = refunded(store, o)
    outstanding = max(ZERO, gross - received(o))
    current_sub = sum((li.price * (li.quantity - li.refunded_quantity) for li in o.line_items), ZERO)
    current_total = max(ZERO, gross - back)
    customer = store.customers.get(o.customer_id or 0)
    shop_key = base64.b64encode(str(store.shop_id).encode()).decode().rstrip("=")
    return {
        "id": o.id, "admin_graphql_api_id": o.gid, "app_id": None, "browser_ip": "203.0.113.7",
        "buyer_accepts_marketing": o.buyer_accepts_marketing, "cancel_reason": o.cancel_reason,
        "cancelled_at": iso_rest(o.cancelled_at), "cart_token": o.cart_token, "checkout_token": o.checkout_token,
        "client_details": {"accept_language": "en-US", "browser_height": None, "browser_ip": "203.0.113.7",
                           "browser_width": None, "session_hash": None,
                           "user_agent": "Mozilla/5.0 (storeops sandbox storefront)"},
        "closed_at": iso_rest(o.closed_at), "confirmation_number": f"C{o.id % 10**9:09d}"[:10],
        "confirmed": True, "contact_email": o.email, "created_at": iso_rest(o.created_at), "currency": CURRENCY,
        "current_shipping_price_set": rest_money_set(ship), "current_subtotal_price": money_str(current_sub),
        "current_subtotal_price_set": rest_money_set(current_sub),
        "current_total_additional_fees_set": None, "current_total_discounts": "0.00",
        "current_total_discounts_set": rest_money_set(ZERO), "current_total_duties_set": None,
        "current_total_price": money_str(current_total), "current_total_price_set": rest_money_set(current_total),
        "current_total_tax": "0.00", "current_total_tax_set": rest_money_set(ZERO),
        "customer": customer_payload(customer, full=False) if customer else None, "customer_locale": "en",
        "device_id": None, "discount_applications": [], "discount_codes": [], "duties_included": False,
        "email": o.email, "estimated_taxes": False, "financial_status": o.financial_status,
        "fulfillment_status": fulfillment_status(o),
        "fulfillments": [fulfillment_payload(store, store.fulfillments[f]) for f in o.fulfillment_ids],
        "landing_site": "/", "landing_site_ref": None, "line_item_groups": [],
        "line_items": [line_item_payload(li) for li in o.line_items], "location_id": None,
        "merchant_business_entity_id": shop_key, "merchant_of_record_app_id": None, "name": o.name,
        "note": o.note, "note_attributes": o.note_attributes, "number": o.number - 1000, "order_number": o.number,
        "order_status_url": f"https://{store.shop_domain}/{store.shop_id}/orders/{o.token}/authenticate?key={o.token[:16]}",
        "original_total_additional_fees_set": None, "original_total_duties_set": None,
        "payment_gateway_names": [o.gateway], "payment_terms": None, "phone": o.phone, "po_number": None,
        "presentment_currency": CURRENCY, "processed_at": iso_rest(o.processed_at), "reference": None,
        "referring_site": None,
        "refunds": [refund_payload(store, store.refunds[r]) for r in o.refund_ids],
        "returns": [], "billing_address": order_address(o.billing_address),
        "shipping_address": order_address(o.shipping_address),
        "shipping_lines": [] if o.shipping_line is None else [{
            "id": o.shipping_line.id, "carrier_identifier": None, "code": o.shipping_line.code,
            "current_discounted_price_set": rest_money_set(ship), "discount_allocations": [],
            "discounted_price": money_str(ship), "discounted_price_set": rest_money_set(ship), "is_removed": False,
            "phone": None, "price": money_str(ship), "price_set": rest_money_set(ship),
            "requested_fulfillment_service_id": None, "source": o.shipping_line.source,
            "title": o.shipping_line.title, "tax_lines": []}],
        "source_identifier": None, "source_name": o.source_name, "source_url": None,
        "subtotal_price": money_str(sub), "subtotal_price_set": rest_money_set(sub), "tags": ", ".join(o.tags),
        "tax_exempt": False, "tax_lines": [], "taxes_included": False, "test": o.test, "token": o.token,
        "total_cash_rounding_payment_adjustment_set": rest_money_set(ZERO),
        "total_cash_rounding_refund_adjustment_set": rest_money_set(ZERO), "total_discounts": "0.00",
        "total_discounts_set": rest_money_set(ZERO), "total_line_items_price": money_str(sub),
        "total_line_items_price_set": rest_money_set(sub), "total_outstanding": money_str(outstanding),
        "total_price": money_str(gross), "total_price_set": rest_money_set(gross),
        "total_shipping_price_set": rest_money_set(ship), "total_tax": "0.00", "total_tax_set": rest_money_set(ZERO),
        "total_tip_received": "0.00", "total_weight": sum(li.grams * li.quantity for li in o.line_items),
        "updated_at": iso_rest(o.updated_at), "user_id": None,
    }


def variant_payload(store: Store, v: Variant) -> dict[str, Any]:
    opts = list(v.options.values()) + [None, None, None]
    return {
        "admin_graphql_api_id": v.gid, "barcode": v.barcode,
        "compare_at_price": money_str(v.compare_at_price) if v.compare_at_price is not None else None,
        "created_at": iso_rest(v.created_at), "id": v.id, "image_id": None, "inventory_item_id": v.inventory_item_id,
        "inventory_policy": v.inventory_policy.lower(), "inventory_quantity": store.available_total(v),
        "old_inventory_quantity": store.available_total(v), "option1": opts[0], "option2": opts[1],
        "option3": opts[2], "position": v.position, "price": money_str(v.price), "product_id": v.product_id,
        "sku": v.sku, "taxable": v.taxable, "title": v.title, "updated_at": iso_rest(v.updated_at),
    }


def product_payload(store: Store, p: Product) -> dict[str, Any]:
    variants = [store.variants[v] for v in p.variant_ids]
    return {
        "admin_graphql_api_id": p.gid, "body_html": p.description_html, "category": None,
        "created_at": iso_rest(p.created_at), "handle": p.handle, "has_variants_that_requires_components": False,
        "id": p.id, "image": None, "images": [], "media": [],
        "options": [{"id": option_id(p, i), "name": name, "position": i, "product_id": p.id, "values": values}
                    for i, (name, values) in enumerate(p.options, start=1)],
        "product_type": p.product_type, "published_at": iso_rest(p.published_at), "published_scope": "global",
        "status": p.status.lower(), "tags": ", ".join(p.tags), "template_suffix": None, "title": p.title,
        "updated_at": iso_rest(p.updated_at),
        "variant_gids": [{"admin_graphql_api_id": v.gid, "updated_at": iso_rest(v.updated_at)} for v in variants],
        "variants": [variant_payload(store, v) for v in variants], "vendor": p.vendor,
    }


def option_id(p: Product, position: int) -> int:
    return p.id * 10 + position


def inventory_level_payload(level: InventoryLevel) -> dict[str, Any]:
    return {"inventory_item_id": level.item_id, "location_id": level.location_id,
            "available": level.quantities["available"], "updated_at": iso_rest(level.updated_at),
            "admin_graphql_api_id": level.gid}


def checkout_payload(store: Store, c: Checkout) -> dict[str, Any]:
    sub = sum((li.price * li.quantity for li in c.line_items), ZERO)
    ship = c.shipping_line.price
    customer = store.customers.get(c.customer_id or 0)
    address = order_address(c.shipping_address)
    return {
        "id": c.id, "token": c.token, "cart_token": c.cart_token, "email": c.email, "gateway": c.gateway,
        "buyer_accepts_marketing": bool(customer and customer.accepts_marketing),
        "buyer_accepts_sms_marketing": False, "created_at": iso_rest(c.created_at),
        "updated_at": iso_rest(c.updated_at), "landing_site": "/", "note": None, "note_attributes": [],
        "referring_site": None, "shipping_lines": [{
            "code": c.shipping_line.code, "price": money_str(ship), "original_shop_price": money_str(ship),
            "original_shop_markup": "0.00", "source": c.shipping_line.source, "title": c.shipping_line.title,
            "presentment_title": c.shipping_line.title, "phone": None, "tax_lines": [], "custom_tax_lines": None,
            "markup": "0.00", "carrier_identifier": None, "carrier_service_id": None, "api_client_id": None,
            "id": f"shopify-{c.shipping_line.code}-{money_str(ship)}", "applied_discounts": [],
            "delivery_category": None, "delivery_expectation_range": None, "delivery_expectation_type": None,
            "requested_fulfillment_service_id": None, "validation_context": None}],
        "taxes_included": False, "total_weight": sum(li.grams * li.quantity for li in c.line_items),
        "currency": CURRENCY, "completed_at": iso_rest(c.completed_at), "closed_at": None, "user_id": None,
        "location_id": None, "source_identifier": None, "source_url": None, "device_id": None, "phone": None,
        "customer_locale": "en", "line_items": [{
            "applied_discounts": [], "discount_allocations": [], "key": f"{li.variant_id}:{li.id}",
            "destination_location_id": None, "fulfillment_service": "manual", "gift_card": False,
            "grams": li.grams, "origin_location_id": None, "presentment_title": li.title,
            "presentment_variant_title": li.variant_title or "", "product_id": li.product_id,
            "properties": li.properties, "quantity": li.quantity, "requires_shipping": li.requires_shipping,
            "sku": li.sku or "", "tax_lines": [], "taxable": li.taxable, "title": li.title,
            "variant_id": li.variant_id, "variant_title": li.variant_title or "", "variant_price": money_str(li.price),
            "vendor": li.vendor or "", "unit_price_measurement": {
                "measured_type": None, "quantity_value": None, "quantity_unit": None, "reference_value": None,
                "reference_unit": None},
            "compare_at_price": None, "line_price": money_str(li.price * li.quantity), "price": money_str(li.price),
            "rank": None, "user_id": None} for li in c.line_items],
        "name": f"#{c.id}", "source": None, "abandoned_checkout_url":
            f"https://{store.shop_domain}/{store.shop_id}/checkouts/{c.token}/recover?key={c.cart_token}",
        "discount_codes": [], "tax_lines": [], "source_name": "web", "presentment_currency": CURRENCY,
        "buyer_accepts_purchase_order": False, "total_discounts": "0.00",
        "total_line_items_price": money_str(sub), "total_price": money_str(sub + ship), "total_tax": "0.00",
        "subtotal_price": money_str(sub), "total_duties": None, "reservation_token": None,
        "sms_marketing_phone": None, "billing_address": address, "shipping_address": address,
        "customer": customer_payload(customer, full=False) if customer else None,
    }
