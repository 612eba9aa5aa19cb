"""Priority and risk rules: each one firing and not firing, with its version in the flag."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from storeops.domain.orders import (
    DEFAULT_RULES,
    Address,
    CustomerHistory,
    Line,
    OrderFacts,
    score_order,
    service_level_of,
)
from storeops.domain.orders.risk import HighOrderValue, VipCustomer

HOME = Address("350 5th Ave", "New York", "NY", "10118", "US")
ORDER = OrderFacts(order_id="1001", lines=(Line("SKU-1", 1, 453, Decimal("40.00")),), shipping_address=HOME,
                   billing_address=HOME, total=Decimal("40.00"), shipping_method="Standard", customer_id="c1")
REGULAR = CustomerHistory(customer_id="c1", orders_count=3, lifetime_value=Decimal("180.00"))


def fired(order: OrderFacts, history: CustomerHistory = REGULAR) -> set[str]:
    return score_order(order, history).rules_fired


def test_plain_order_raises_no_flag() -> None:
    assessment = score_order(ORDER, REGULAR)
    assert assessment.flags == []
    assert assessment.priority == "normal"
    assert (assessment.score, assessment.risk_score, assessment.hold) == (0, 0, False)
    assert "vip_customer@1" in assessment.evaluated


def test_every_flag_names_its_rule_and_version() -> None:
    order = replace(ORDER, total=Decimal("900.00"), shipping_method="UPS Next Day Air", payment_state="authorized",
                    billing_address=replace(HOME, zip="10001"))
    assessment = score_order(order, CustomerHistory(tags=("VIP",)))
    assert {f.rule for f in assessment.flags} == {rule.name for rule in DEFAULT_RULES}
    for flag in assessment.flags:
        assert flag.version
        assert flag.reason
        assert set(flag.as_dict()) >= {"rule", "version", "reason"}


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        (replace(REGULAR, lifetime_value=Decimal("1000.00")), True),
        (replace(REGULAR, lifetime_value=Decimal("999.99")), False),
        (replace(REGULAR, tags=("wholesale", " VIP ")), True),
        (replace(REGULAR, tags=("wholesale",)), False),
    ],
)
def test_vip_customer(history: CustomerHistory, expected: bool) -> None:
    assert ("vip_customer" in fired(ORDER, history)) is expected


def test_vip_alone_makes_an_order_high_priority() -> None:
    assessment = score_order(ORDER, replace(REGULAR, tags=("vip",)))
    assert assessment.priority == "high"


def test_vip_rule_is_configurable() -> None:
    rules = (VipCustomer(lifetime_value=Decimal("100"), tags=("gold",), version="2"),)
    assessment = score_order(ORDER, REGULAR, rules)
    [flag] = assessment.flags
    assert (flag.rule, flag.version) == ("vip_customer", "2")


def test_high_order_value() -> None:
    assert "high_order_value" in fired(replace(ORDER, total=Decimal("500.00")))
    assert "high_order_value" not in fired(replace(ORDER, total=Decimal("499.99")))
    custom = score_order(replace(ORDER, total=Decimal("150")), REGULAR, (HighOrderValue(threshold=Decimal("100")),))
    assert custom.rules_fired == {"high_order_value"}


@pytest.mark.parametrize(
    ("method", "level", "priority"),
    [
        ("UPS Next Day Air", "standard", "urgent"),
        ("FedEx 2Day", "standard", "high"),
        ("Standard", "overnight", "urgent"),
        ("Express shipping", "standard", "high"),
    ],
)
def test_expedited_shipping(method: str, level: str, priority: str) -> None:
    assessment = score_order(replace(ORDER, shipping_method=method, service_level=level), REGULAR)
    assert assessment.rules_fired == {"expedited_shipping"}
    assert assessment.priority == priority


def test_standard_shipping_is_not_expedited() -> None:
    assert "expedited_shipping" not in fired(replace(ORDER, shipping_method="USPS Ground Advantage"))


def test_service_level_of_shipping_line_titles() -> None:
    assert service_level_of("UPS Next Day Air Saver") == "overnight"
    assert service_level_of("Priority Mail Express 1-Day") == "overnight"
    assert service_level_of("FedEx 2Day") == "express"
    assert service_level_of("Free shipping") is None


def test_first_order() -> None:
    assert "first_order" in fired(ORDER, CustomerHistory(customer_id="c1", orders_count=0))
    assert "first_order" in fired(replace(ORDER, customer_id=None), CustomerHistory())
    assert "first_order" not in fired(ORDER, REGULAR)


def test_billing_equal_to_shipping_after_normalization_is_not_a_mismatch() -> None:
    billing = Address("350 5TH AVE.", "new york", "ny", "10118-0110", "us")
    assert "billing_shipping_mismatch" not in fired(replace(ORDER, billing_address=billing))
    spelled_out = replace(HOME, address1="350 5th Avenue")
    assert "billing_shipping_mismatch" not in fired(replace(ORDER, billing_address=spelled_out))
    assert "billing_shipping_mismatch" not in fired(replace(ORDER, billing_address=None))


def test_billing_elsewhere_is_a_mismatch() -> None:
    assessment = score_order(replace(ORDER, billing_address=Address("1 Main St", "Buffalo", "NY", "14202", "US")),
                             REGULAR)
    [flag] = assessment.flags
    assert flag.rule == "billing_shipping_mismatch"
    assert "street" in flag.reason and "postal code" in flag.reason
    assert not assessment.hold  # one risk signal alone does not hold an order


def test_first_order_with_other_billing_address_is_held_for_review() -> None:
    order = replace(ORDER, billing_address=Address("1 Main St", "Buffalo", "NY", "14202", "US"))
    assessment = score_order(order, CustomerHistory())
    assert assessment.rules_fired == {"first_order", "billing_shipping_mismatch"}
    assert assessment.hold
    assert assessment.priority == "low"


@pytest.mark.parametrize(
    ("state", "flagged", "hold"),
    [
        ("paid", False, False),
        ("partially_refunded", False, False),
        ("authorized", True, False),
        ("pending", True, True),
        ("failed", True, True),
        ("voided", True, True),
        ("something-new", True, True),
    ],
)
def test_payment_state(state: str, flagged: bool, hold: bool) -> None:
    assessment = score_order(replace(ORDER, payment_state=state), REGULAR)
    assert ("payment_state" in assessment.rules_fired) is flagged
    assert assessment.hold is hold


def test_vip_overnight_high_value_order_is_urgent() -> None:
    order = replace(ORDER, total=Decimal("1200"), service_level="overnight")
    assessment = score_order(order, replace(REGULAR, lifetime_value=Decimal("5000")))
    assert assessment.priority == "urgent"
    assert assessment.score == 30 + 20 + 60
