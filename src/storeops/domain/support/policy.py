"""Support policy, routing rules and escalation: pure functions over plain data.

Routing rules are JSON the merchant edits (dashboard / API), evaluated top to bottom:

    {"name": "vip", "when": {"vip": true}, "tags": ["vip"], "priority": "high", "team": "VIP"}

`when` keys (all optional, all must hold): intent (list), urgency (list), min_value
(lifetime value, a decimal string), vip (bool), escalated (bool), language (list).
Every matching rule adds its tags; the first matching rule that sets priority, team or
assignee decides that field. Nothing in a rule is ever read from a customer's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from storeops.domain.support.records import CustomerRecord, Routing, TriageView

PRIORITIES = ("low", "normal", "high", "critical")
URGENCY_PRIORITY = {"low": "low", "normal": "normal", "high": "high", "urgent": "critical"}
RULE_KEYS = frozenset({"name", "when", "tags", "priority", "team", "assignee"})
WHEN_KEYS = frozenset({"intent", "urgency", "min_value", "vip", "escalated", "language"})

# Intents storeops may answer on its own (Bitext intent names, as ai/triage labels them),
# mapped to the reply template that answers them.
ROUTINE_INTENTS: dict[str, str] = {
    "track_order": "order_status",
    "delivery_period": "order_status",
    "check_refund_policy": "return_policy",
    "cancel_order": "cancellation",
    "change_shipping_address": "address_change",
    "set_up_shipping_address": "address_change",
    "get_invoice": "invoice",
    "check_invoice": "invoice",
}

# Legal and safety wording: a person must read these, whatever the intent (not a guardrail:
# escalation on content, the injection defence is structural; see grounding.py).
_LEGAL_SAFETY = re.compile(
    r"\b(lawyer|attorney|solicitor|lawsuit|sue|suing|court|legal action|small claims|chargeback|dispute|"
    r"fraud|police|injur\w*|hurt|burn(?:ed|t)?|fire|allerg\w*|hospital|unsafe|danger\w*|recall|"
    r"gdpr|data protection|consumer protection|trading standards|bbb|attorney general)\b", re.IGNORECASE)

DEFAULT_RULES: list[dict[str, Any]] = [
    {"name": "escalated", "when": {"escalated": True}, "tags": ["storeops:escalated"], "priority": "high"},
    {"name": "vip", "when": {"vip": True}, "tags": ["vip"], "team": "VIP"},
    {"name": "urgent", "when": {"urgency": ["urgent"]}, "tags": ["urgent"], "priority": "critical"},
    {"name": "returns", "when": {"intent": ["check_refund_policy", "get_refund", "track_refund"]},
     "tags": ["returns"], "team": "Returns"},
    {"name": "order-status", "when": {"intent": ["track_order", "delivery_period"]}, "tags": ["order-status"]},
    {"name": "order-change", "when": {"intent": ["cancel_order", "change_order", "change_shipping_address"]},
     "tags": ["order-change"]},
    {"name": "tier-1", "when": {}, "team": "Tier 1"},
]


@dataclass(frozen=True)
class SupportPolicy:
    """What the merchant allows the automation to do (stored per shop, edited as JSON)."""

    auto_reply_intents: tuple[str, ...] = tuple(ROUTINE_INTENTS)
    min_confidence: float = 0.6
    max_frustration: float = 0.5
    vip_lifetime_value: Decimal = Decimal("1000")
    vip_tags: tuple[str, ...] = ("vip",)
    repeat_contacts: int = 3  # this many earlier contacts in 7 days: a person takes over
    return_window_days: int = 30
    delivery_days: int = 7  # an order not delivered this many days after it was placed is late
    return_policy_url: str | None = None
    support_email: str | None = None
    sla_hours: dict[str, float] = field(default_factory=lambda: {"urgent": 1.0, "high": 4.0, "normal": 24.0,
                                                                   "low": 48.0})

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SupportPolicy:
        data = dict(data or {})
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown policy fields: {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name in ("auto_reply_intents", "vip_tags"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{name} must be a list of strings")
                kwargs[name] = tuple(value)
            elif name == "vip_lifetime_value":
                kwargs[name] = _decimal(value, name)
            elif name in ("min_confidence", "max_frustration"):
                if not isinstance(value, int | float) or not 0 <= value <= 1:
                    raise ValueError(f"{name} must be a number from 0 to 1")
                kwargs[name] = float(value)
            elif name in ("repeat_contacts", "return_window_days", "delivery_days"):
                if not isinstance(value, int) or value < 0:
                    raise ValueError(f"{name} must be a whole number >= 0")
                kwargs[name] = value
            elif name == "sla_hours":
                if not isinstance(value, dict) or not all(isinstance(v, int | float) and v > 0 for v in value.values()):
                    raise ValueError("sla_hours must map urgency to hours > 0")
                kwargs[name] = {str(k): float(v) for k, v in value.items()}
            else:
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"{name} must be text")
                kwargs[name] = value
        unknown_intents = set(kwargs.get("auto_reply_intents", ())) - set(ROUTINE_INTENTS)
        if unknown_intents:
            raise ValueError(f"no reply template for intents: {', '.join(sorted(unknown_intents))}")
        return cls(**kwargs)

    def as_json(self) -> dict[str, Any]:
        return {"auto_reply_intents": list(self.auto_reply_intents), "min_confidence": self.min_confidence,
                "max_frustration": self.max_frustration, "vip_lifetime_value": str(self.vip_lifetime_value),
                "vip_tags": list(self.vip_tags), "repeat_contacts": self.repeat_contacts,
                "return_window_days": self.return_window_days, "delivery_days": self.delivery_days,
                "return_policy_url": self.return_policy_url,
                "support_email": self.support_email, "sla_hours": dict(self.sla_hours)}


def _decimal(value: Any, name: str) -> Decimal:
    try:
        parsed = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{name} must be a decimal amount") from None
    if not parsed.is_finite() or parsed < 0:
        raise ValueError(f"{name} must be a decimal amount >= 0")
    return parsed


def validate_rules(rules: Any) -> list[dict[str, Any]]:
    """Check merchant-edited rules; raises ValueError naming the first problem."""
    if not isinstance(rules, list):
        raise ValueError("rules must be a list")
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict):
            raise ValueError(f"{where} must be an object")
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
        when = rule.get("when", {})
        if not isinstance(when, dict) or set(when) - WHEN_KEYS:
            raise ValueError(f"{where}.when: keys must be among {', '.join(sorted(WHEN_KEYS))}")
        for key in ("intent", "urgency", "language"):
            if key in when and not (isinstance(when[key], list) and all(isinstance(v, str) for v in when[key])):
                raise ValueError(f"{where}.when.{key} must be a list of strings")
        for key in ("vip", "escalated"):
            if key in when and not isinstance(when[key], bool):
                raise ValueError(f"{where}.when.{key} must be true or false")
        if "min_value" in when:
            _decimal(when["min_value"], f"{where}.when.min_value")
        if "priority" in rule and rule["priority"] not in PRIORITIES:
            raise ValueError(f"{where}.priority must be one of {', '.join(PRIORITIES)}")
        tags = rule.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise ValueError(f"{where}.tags must be a list of tag names")
        for key in ("team", "assignee", "name"):
            if key in rule and not isinstance(rule[key], str):
                raise ValueError(f"{where}.{key} must be text")
    return rules


def is_vip(record: CustomerRecord, policy: SupportPolicy) -> bool:
    tags = {t.lower() for t in record.tags}
    return record.lifetime_value >= policy.vip_lifetime_value or any(t.lower() in tags for t in policy.vip_tags)


def _matches(when: dict[str, Any], triage: TriageView, value: Decimal, vip: bool, escalated: bool) -> bool:
    if "intent" in when and triage.intent not in when["intent"]:
        return False
    if "urgency" in when and triage.urgency not in when["urgency"]:
        return False
    if "language" in when and triage.language not in when["language"]:
        return False
    if "min_value" in when and value < Decimal(str(when["min_value"])):
        return False
    if "vip" in when and bool(when["vip"]) != vip:
        return False
    return not ("escalated" in when and bool(when["escalated"]) != escalated)


def route(triage: TriageView, customer_value: Decimal, rules: list[dict[str, Any]], *, vip: bool = False,
          escalated: bool = False) -> Routing:
    """Tags, priority, team and assignee for a ticket from the merchant's rules."""
    tags: list[str] = [f"intent:{triage.intent}"]
    priority: str | None = None
    team: str | None = None
    assignee: str | None = None
    fired: list[str] = []
    for index, rule in enumerate(rules):
        if not _matches(rule.get("when") or {}, triage, customer_value, vip, escalated):
            continue
        fired.append(str(rule.get("name") or f"rule-{index}"))
        tags += [t for t in rule.get("tags", []) if t not in tags]
        priority = priority or rule.get("priority")
        team = team or rule.get("team")
        assignee = assignee or rule.get("assignee")
    if priority is None:
        priority = URGENCY_PRIORITY.get(triage.urgency, "normal")
    return Routing(tags=tuple(tags), priority=priority, team=team, assignee=assignee, rules_fired=tuple(fired))


def legal_or_safety(text: str) -> list[str]:
    return sorted({m.group(0).lower() for m in _LEGAL_SAFETY.finditer(text)})


def should_escalate(triage: TriageView, record: CustomerRecord, message: str, policy: SupportPolicy, *,
                    injection: list[str] | None = None) -> list[str]:
    """Why a person must take this ticket (empty: the automation may answer)."""
    reasons: list[str] = []
    if triage.frustration > policy.max_frustration:
        reasons.append(f"frustrated ({triage.frustration:.2f} > {policy.max_frustration:.2f})")
    if is_vip(record, policy):
        reasons.append(f"high-value customer (lifetime value {record.lifetime_value} {record.currency})")
    if triage.out_of_scope:
        reasons.append("out of scope: not a request storeops knows")
    elif triage.confidence < policy.min_confidence:
        reasons.append(f"low confidence ({triage.confidence:.2f} < {policy.min_confidence:.2f})")
    words = legal_or_safety(message)
    if words or triage.threats:
        reasons.append(f"legal or safety wording: {', '.join(sorted({*words, *triage.threats}))}")
    if record.contacts_last_7_days >= policy.repeat_contacts:
        reasons.append(f"repeat contact ({record.contacts_last_7_days} earlier contacts in 7 days)")
    if triage.urgency == "urgent":
        reasons.append("urgent")
    if injection:
        reasons.append(f"possible prompt injection: {', '.join(injection)}")
    return reasons
