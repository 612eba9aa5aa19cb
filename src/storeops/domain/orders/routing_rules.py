"""The merchant's routing rules as JSON: validated into RoutingRule (routing.py), and back.

    {"rules": [{"name": "canada-from-toronto", "action": "force", "fc_ids": ["156"],
                "countries": ["CA"], "fallback": false}, ...]}

Fields of a rule: name (unique), action (force | exclude | prefer), fc_ids (one or more),
and the conditions, each a list of alternatives (empty: any): countries, states, tags,
service_levels (standard | express | overnight), shipping_methods (substrings of the
shipping line's title); prefer rules take a `credit` (money, default 1.00) and force rules
a `fallback` (let the optimizer use the other FCs when the forced ones cannot ship).
Rules apply in order; every rule is versioned with its rule set (name@version on decisions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from storeops.core.errors import InvalidInput
from storeops.domain.orders.routing import RoutingRule

ACTIONS = ("force", "exclude", "prefer")
SERVICE_LEVELS = ("standard", "express", "overnight")
_LISTS = ("fc_ids", "countries", "states", "tags", "service_levels", "shipping_methods")
_FIELDS = {"name", "action", "credit", "fallback", *_LISTS}
MAX_RULES = 200


def _texts(rule: Mapping[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = rule.get(name, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InvalidInput(f"{where}.{name} must be a list of non-empty texts", field=name)
    return tuple(v.strip() for v in value)


def parse_routing_rules(raw: Mapping[str, Any] | None, version: int = 0) -> tuple[RoutingRule, ...]:
    """Validate the merchant's JSON; a clear InvalidInput names the rule and the field."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or set(raw) - {"rules", "version"}:
        raise InvalidInput("routing rules are an object {\"rules\": [...]}", field="rules")
    listed = raw.get("rules", [])
    if not isinstance(listed, list):
        raise InvalidInput("rules must be a list", field="rules")
    if len(listed) > MAX_RULES:
        raise InvalidInput(f"at most {MAX_RULES} routing rules", field="rules")
    parsed: list[RoutingRule] = []
    names: set[str] = set()
    for index, rule in enumerate(listed):
        where = f"rules[{index}]"
        if not isinstance(rule, Mapping):
            raise InvalidInput(f"{where} must be an object", field="rules")
        unknown = set(rule) - _FIELDS
        if unknown:
            raise InvalidInput(f"{where}: unknown field(s) {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        name = rule.get("name")
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"{where}.name is required", field="name")
        name = name.strip()
        if name in names:
            raise InvalidInput(f"{where}: two rules are named {name!r}", field="name")
        names.add(name)
        where = f"rule {name!r}"
        action = rule.get("action")
        if action not in ACTIONS:
            raise InvalidInput(f"{where}: action must be one of {', '.join(ACTIONS)}", field="action")
        lists = {field: _texts(rule, field, where) for field in _LISTS}
        if not lists["fc_ids"]:
            raise InvalidInput(f"{where}: fc_ids names at least one fulfillment center", field="fc_ids")
        bad_levels = set(lists["service_levels"]) - set(SERVICE_LEVELS)
        if bad_levels:
            raise InvalidInput(f"{where}: unknown service level(s) {', '.join(sorted(bad_levels))} "
                               f"(one of {', '.join(SERVICE_LEVELS)})", field="service_levels")
        try:
            credit = Decimal(str(rule.get("credit", "1.00")))
        except InvalidOperation:
            raise InvalidInput(f"{where}: credit must be an amount", field="credit") from None
        if not credit.is_finite() or credit < 0:
            raise InvalidInput(f"{where}: credit must be an amount of 0 or more", field="credit")
        fallback = rule.get("fallback", False)
        if not isinstance(fallback, bool):
            raise InvalidInput(f"{where}: fallback must be true or false", field="fallback")
        if action != "prefer" and "credit" in rule:
            raise InvalidInput(f"{where}: only prefer rules take a credit", field="credit")
        if action != "force" and fallback:
            raise InvalidInput(f"{where}: only force rules take a fallback", field="fallback")
        parsed.append(RoutingRule(
            name=name, action=action, fc_ids=lists["fc_ids"],
            countries=tuple(c.upper() for c in lists["countries"]),
            states=tuple(s.upper() for s in lists["states"]), tags=lists["tags"],
            service_levels=lists["service_levels"], shipping_methods=lists["shipping_methods"],
            credit=credit, fallback=fallback, version=str(version)))
    return tuple(parsed)


def check_fc_ids(rules: Sequence[RoutingRule], known: Mapping[str, str]) -> None:
    """Every FC a rule names is one of `known` (id -> name, the shop's ShipBob FCs): a typo
    would otherwise force orders to an FC that does not exist, found only when ShipBob
    refuses them. InvalidInput names the rule and lists the FCs there are."""
    for rule in rules:
        unknown = [fc for fc in rule.fc_ids if fc not in known]
        if unknown:
            there = ", ".join(f"{fc} ({name})" for fc, name in sorted(known.items()))
            raise InvalidInput(f"rule {rule.name!r}: no fulfillment center {', '.join(unknown)} at ShipBob "
                               f"(the shop's are {there})", field="fc_ids")


def routing_rules_view(rules: Sequence[RoutingRule], version: int) -> dict[str, Any]:
    """The JSON the API shows (and accepts back unchanged)."""
    return {"version": version, "rules": [
        {"name": r.name, "action": r.action, "fc_ids": list(r.fc_ids), "countries": list(r.countries),
         "states": list(r.states), "tags": list(r.tags), "service_levels": list(r.service_levels),
         "shipping_methods": list(r.shipping_methods),
         **({"credit": str(r.credit)} if r.action == "prefer" else {}),
         **({"fallback": r.fallback} if r.action == "force" else {})} for r in rules]}
