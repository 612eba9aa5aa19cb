"""The merchant's routing rules: JSON in, RoutingRule out, clear errors, and they route."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from storeops.core.errors import InvalidInput
from storeops.domain.orders import Address, FulfillmentCenter, Line, OrderFacts, route_order
from storeops.domain.orders.routing_rules import check_fc_ids, parse_routing_rules, routing_rules_view

FCS = [FulfillmentCenter(id="1", name="Ontario CA", lat=34.06, lon=-117.65),
       FulfillmentCenter(id="2", name="Toronto", lat=43.65, lon=-79.38)]


def order(country: str = "US", province: str = "CA", zip_code: str = "90012",
          destination: tuple[float, float] | None = None) -> OrderFacts:
    return OrderFacts(
        order_id="1001", lines=(Line(sku="A", quantity=1, grams=400),), destination=destination,
        shipping_address=Address(country_code=country, province_code=province, zip=zip_code, city="x"))


def test_rules_parse_normalise_and_round_trip() -> None:
    raw = {"rules": [
        {"name": "canada-from-toronto", "action": "force", "fc_ids": ["2"], "countries": ["ca"]},
        {"name": "vip-prefers-1", "action": "prefer", "fc_ids": "1", "tags": ["VIP"], "credit": "2.50"},
        {"name": "no-2-for-express", "action": "exclude", "fc_ids": ["2"], "service_levels": ["express"]}]}
    rules = parse_routing_rules(raw, version=3)
    assert [r.label for r in rules] == ["canada-from-toronto@3", "vip-prefers-1@3", "no-2-for-express@3"]
    assert rules[0].countries == ("CA",) and rules[1].fc_ids == ("1",) and rules[1].credit == Decimal("2.50")
    view = routing_rules_view(rules, 3)
    assert parse_routing_rules(view, 3) == rules


@pytest.mark.parametrize(("rule", "field", "says"), [
    ({"action": "force", "fc_ids": ["1"]}, "name", "name is required"),
    ({"name": "a", "action": "ship", "fc_ids": ["1"]}, "action", "one of force, exclude, prefer"),
    ({"name": "a", "action": "force"}, "fc_ids", "at least one"),
    ({"name": "a", "action": "force", "fc_ids": [""]}, "fc_ids", "non-empty"),
    ({"name": "a", "action": "force", "fc_ids": ["1"], "service_levels": ["ground"]}, "service_levels", "ground"),
    ({"name": "a", "action": "prefer", "fc_ids": ["1"], "credit": "lots"}, "credit", "an amount"),
    ({"name": "a", "action": "prefer", "fc_ids": ["1"], "credit": "-1"}, "credit", "0 or more"),
    ({"name": "a", "action": "force", "fc_ids": ["1"], "credit": "1"}, "credit", "only prefer"),
    ({"name": "a", "action": "exclude", "fc_ids": ["1"], "fallback": True}, "fallback", "only force"),
    ({"name": "a", "action": "force", "fc_ids": ["1"], "fallback": "yes"}, "fallback", "true or false"),
    ({"name": "a", "action": "force", "fc_ids": ["1"], "zone": 3}, "zone", "unknown field"),
])
def test_bad_rules_are_refused_with_the_field(rule: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as refused:
        parse_routing_rules({"rules": [rule]})
    assert refused.value.field == field


def test_the_rule_set_itself_is_checked() -> None:
    with pytest.raises(InvalidInput, match="two rules are named"):
        parse_routing_rules({"rules": [{"name": "a", "action": "force", "fc_ids": ["1"]}] * 2})
    with pytest.raises(InvalidInput, match="must be a list"):
        parse_routing_rules({"rules": {"name": "a"}})
    with pytest.raises(InvalidInput, match="an object"):
        parse_routing_rules({"rules": [], "extra": 1})
    assert parse_routing_rules(None) == () and parse_routing_rules({"rules": []}) == ()


def test_parsed_rules_route_canada_to_toronto_and_leave_the_rest_to_the_optimizer() -> None:
    rules = parse_routing_rules({"rules": [
        {"name": "canada-from-toronto", "action": "force", "fc_ids": ["2"], "countries": ["CA"]}]}, 1)
    stock = {(fc.id, "A"): 5 for fc in FCS}
    toronto = order(country="CA", province="ON", zip_code="M5V 2T6", destination=(43.64, -79.39))
    canada = route_order(toronto, FCS, stock, rules=rules)
    assert canada.ok and list(canada.assignments) == ["2"] and "canada-from-toronto@1" in canada.rules_fired
    california = route_order(order(), FCS, stock, rules=rules)
    assert california.ok and list(california.assignments) == ["1"]
    assert "canada-from-toronto@1" not in california.rules_fired


def test_rules_naming_an_fc_the_shop_has_not_got_are_refused_with_the_ones_it_has() -> None:
    rules = parse_routing_rules({"rules": [
        {"name": "ok", "action": "prefer", "fc_ids": ["1"]},
        {"name": "typo", "action": "exclude", "fc_ids": ["2", "22"]}]})
    known = {fc.id: fc.name for fc in FCS}
    with pytest.raises(InvalidInput) as refused:
        check_fc_ids(rules, known)
    assert refused.value.field == "fc_ids"
    assert str(refused.value) == ("rule 'typo': no fulfillment center 22 at ShipBob "
                                  "(the shop's are 1 (Ontario CA), 2 (Toronto))")
    check_fc_ids(rules[:1], known)  # nothing to say
