"""The stock-shortage rules: parsing the merchant's JSON and planning a shortage (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from storeops.core.errors import InvalidInput
from storeops.domain.orders.substitution import (
    BACKORDER,
    CONSENT,
    IN_STOCK,
    PARTIAL,
    SUBSTITUTED,
    parse_rules,
    plan_shortage,
)


def rules(**raw: Any) -> Any:
    return parse_rules(raw)


def test_defaults_back_order_and_ask_before_substituting() -> None:
    default = parse_rules(None)
    assert (default.version, default.requires_consent, default.same_product_other_variant, default.allow_partial) == (
        0, True, False, False)
    plan = plan_shortage([("MH01-XS-Orange", 1)], {"MH01-XS-Gray": 5}, default)
    assert plan.outcome == BACKORDER and plan.rule == "substitution@0"
    assert [line.action for line in plan.lines] == ["short"] and plan.shippable == []
    assert "0 of 1 in stock" in plan.reasons[0]


def test_listed_substitutes_are_tried_in_order_and_need_stock_for_the_whole_quantity() -> None:
    r = rules(version=4, skus={"A-1": {"substitutes": ["B-1", "C-1", "D-1"], "requires_consent": False}})
    plan = plan_shortage([("A-1", 3)], {"A-1": 2, "B-1": 2, "C-1": 3, "D-1": 9}, r)
    assert plan.outcome == SUBSTITUTED and plan.rule == "substitution@4"
    [line] = plan.lines
    assert (line.action, line.ship_sku, line.source, line.needs_consent) == ("substitute", "C-1", "listed", False)


def test_same_product_other_variant_only_when_the_rule_allows_it() -> None:
    stock = {"MH01-S-Black": 4, "MH02-XS-Orange": 9}
    assert plan_shortage([("MH01-XS-Orange", 1)], stock, rules()).outcome == BACKORDER
    plan = plan_shortage([("MH01-XS-Orange", 1)], stock, rules(same_product_other_variant=True))
    assert plan.outcome == CONSENT  # the default asks the customer first
    [line] = plan.lines
    assert (line.ship_sku, line.source, line.needs_consent) == ("MH01-S-Black", "same_product", True)
    per_sku = rules(skus={"MH01-XS-Orange": {"same_product_other_variant": True, "requires_consent": False}})
    assert plan_shortage([("MH01-XS-Orange", 1)], stock, per_sku).outcome == SUBSTITUTED


def test_stock_is_not_promised_twice_across_lines() -> None:
    r = rules(requires_consent=False, skus={"A-1": {"substitutes": ["S-1"]}, "B-1": {"substitutes": ["S-1"]}})
    plan = plan_shortage([("A-1", 2), ("B-1", 2)], {"S-1": 3}, r)
    assert [(p.action, p.ship_sku) for p in plan.lines] == [("substitute", "S-1"), ("short", None)]
    assert plan.outcome == BACKORDER  # partial shipments are off by default


def test_partial_shipment_when_allowed() -> None:
    r = rules(allow_partial=True)
    plan = plan_shortage([("A-1", 1), ("B-1", 2)], {"A-1": 1, "B-1": 1}, r)
    assert plan.outcome == PARTIAL
    assert [p.sku for p in plan.shippable] == ["A-1"] and [p.sku for p in plan.short] == ["B-1"]
    assert plan_shortage([("B-1", 2)], {"B-1": 1}, r).outcome == BACKORDER  # nothing at all to ship


def test_everything_in_stock_again() -> None:
    assert plan_shortage([("A-1", 2)], {"A-1": 2}, rules()).outcome == IN_STOCK


def test_plan_as_dict_round_trips_the_lines() -> None:
    plan = plan_shortage([("A-1", 1)], {"B-1": 1}, rules(skus={"A-1": {"substitutes": ["B-1"]}}))
    assert plan.as_dict() == {"outcome": "consent", "rule": "substitution@0",
                              "reasons": ["A-1: substitute B-1 (listed), customer consent required"],
                              "lines": [{"sku": "A-1", "quantity": 1, "action": "substitute", "ship_sku": "B-1",
                                         "needs_consent": True, "source": "listed"}]}


@pytest.mark.parametrize(("raw", "message"), [
    ({"skus": []}, "skus must be an object"),
    ({"colour": "red"}, "unknown rule field(s): colour"),
    ({"version": -1}, "version must be a whole number"),
    ({"requires_consent": "yes"}, "requires_consent must be true or false"),
    ({"skus": {"A": {"substitutes": "B"}}}, "substitutes must be a list"),
    ({"skus": {"A": {"substitutes": ["A"]}}}, "cannot substitute itself"),
    ({"skus": {"A": {"substitutes": [], "weird": 1}}}, "unknown field(s) weird"),
    ({"skus": {"A": {"requires_consent": 1}}}, "skus.A.requires_consent must be true or false"),
])
def test_bad_rules_are_clear_errors(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=None) as caught:
        parse_rules(raw)
    assert message in str(caught.value)


def test_a_non_positive_quantity_is_refused() -> None:
    with pytest.raises(InvalidInput):
        plan_shortage([("A-1", 0)], {}, rules())
