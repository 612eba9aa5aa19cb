"""Frustration reads the customer's history as well as the words: an order far past its
delivery promise makes the same message score as more frustrated (and escalate sooner)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from storeops.core.clock import utcnow
from storeops.domain.support import DEFAULT_RULES, CustomerRecord, OrderFact, SupportPolicy
from storeops.flows import support

MESSAGE = "Hi, where is my order #1001? It still has not arrived."


def waiting_since(days: int) -> CustomerRecord:
    placed = utcnow() - timedelta(days=days)
    order = OrderFact("#1001", "5550001001", placed, Decimal("59.00"), "USD", "shipped",
                      tracking_number="1Z999AA10123456784", tracking_company="UPS")
    return CustomerRecord(email="ann@example.com", first_name="Ann", orders=(order,), lifetime_value=Decimal("59"))


def test_the_same_message_is_more_frustrated_when_the_order_is_late() -> None:
    policy = SupportPolicy(delivery_days=7)
    on_time, _ = support.decide_message(MESSAGE, waiting_since(3), DEFAULT_RULES, policy, caps=frozenset())
    late, _ = support.decide_message(MESSAGE, waiting_since(13), DEFAULT_RULES, policy, caps=frozenset())
    assert late.intent == on_time.intent
    assert late.frustration > on_time.frustration + 0.1, (on_time.frustration, late.frustration)
    # The promise is the shop's: with a 14-day promise the same order is not late yet.
    patient, _ = support.decide_message(MESSAGE, waiting_since(13), DEFAULT_RULES, SupportPolicy(delivery_days=14),
                                        caps=frozenset())
    assert patient.frustration == on_time.frustration
