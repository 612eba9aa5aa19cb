"""The support decision for one customer message, as a pure function.

    plan_ticket(triage, message, record, policy, rules, capabilities) -> SupportPlan

Inputs the message may influence: the triage (intent, urgency, frustration...) and
which of *this customer's* orders the ticket is about (an order number it names that
the customer does not own is not looked up anywhere: the ticket goes to a person).
Inputs it never influences: the recipient (the flow replies to the ticket's customer),
the tools (an action is chosen by template and policy), the facts (the record).

`capabilities` names the actions storeops can take today ("cancel_order",
"change_address", "start_return"); a reply that would promise a missing one is not
sent: the ticket is escalated, saying what is missing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from storeops.domain.support import replies
from storeops.domain.support.grounding import detect_injection, fact_check
from storeops.domain.support.policy import ROUTINE_INTENTS, SupportPolicy, is_vip, route, should_escalate
from storeops.domain.support.records import CustomerRecord, OrderFact, Routing, TriageView

REPLY, ESCALATE = "reply", "escalate"
CAPABILITIES = ("cancel_order", "change_address", "start_return")
MISSING_CAPABILITY = {
    "cancel_order": "cancelling before shipment needs a person: storeops has no order-cancel action yet",
    "change_address": "changing the address before shipment needs a person: storeops has no address-change action "
                      "yet",
    "start_return": "starting a return needs a person: storeops.flows.returns.request_return is not available",
}
_MENTIONED_ORDER = re.compile(r"(?:#|\border\s*(?:no\.?|number|num)?\s*:?\s*#?)\s*(\d{3,})", re.IGNORECASE)
_START_RETURN = re.compile(r"\b(start|open|begin|make|initiate|create)\b.{0,20}\breturn|\breturn (it|them|this|"
                           r"my|the|an?)\b|\bsend (it|them|this) back\b|\breturn label\b", re.IGNORECASE | re.S)


@dataclass(frozen=True)
class SupportPlan:
    action: str  # reply | escalate
    reasons: tuple[str, ...]
    routing: Routing
    reply: replies.ComposedReply | None = None
    order: OrderFact | None = None
    injection: tuple[str, ...] = ()
    unsupported_facts: tuple[str, ...] = ()
    promised_action: str | None = None
    vip: bool = False
    rules: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "reasons": list(self.reasons), "routing": self.routing.as_dict(),
                "reply": self.reply.as_dict() if self.reply else None,
                "order": self.order.number if self.order else None, "injection": list(self.injection),
                "unsupported_facts": list(self.unsupported_facts), "promised_action": self.promised_action,
                "vip": self.vip}


def mentioned_orders(message: str) -> list[str]:
    return [m.group(1) for m in _MENTIONED_ORDER.finditer(message)]


def wants_to_start_return(message: str) -> bool:
    return bool(_START_RETURN.search(message))


def _which_order(message: str, record: CustomerRecord) -> tuple[OrderFact | None, str | None]:
    named = mentioned_orders(message)
    if named:
        for number in named:
            found = record.order(number)
            if found is not None:
                return found, None
        return None, "the order number in the message is not one of this customer's orders"
    if record.latest_order is None:
        return None, "no orders on record for this customer"
    return record.latest_order, None


def _compose(template: str, record: CustomerRecord, policy: SupportPolicy, order: OrderFact | None,
             message: str) -> replies.ComposedReply | None:
    if template == "return_policy":
        return replies.return_policy(record, policy, order, start_return=wants_to_start_return(message))
    if order is None:
        return None
    if template == "order_status":
        return replies.order_status(record, policy, order)
    if template == "cancellation":
        return replies.cancellation(record, policy, order)
    if template == "address_change":
        return replies.address_change(record, policy, order)
    if template == "invoice":
        return replies.invoice(record, policy, order)
    raise ValueError(f"no reply template named {template!r}")


def plan_ticket(triage: TriageView, message: str, record: CustomerRecord, policy: SupportPolicy,
                rules: list[dict[str, Any]], capabilities: frozenset[str] = frozenset()) -> SupportPlan:
    injection = detect_injection(message, record.email)
    reasons = should_escalate(triage, record, message, policy, injection=injection)
    template = ROUTINE_INTENTS.get(triage.intent) if triage.intent in policy.auto_reply_intents else None
    if template is None:
        if triage.intent == "get_refund":
            reasons.append("refund request: refunds are never automated; a person decides under the refund policy")
        elif not triage.out_of_scope:
            reasons.append(f"intent {triage.intent} is not answered automatically")
    order, problem = _which_order(message, record)
    reply = None
    unsupported: list[str] = []
    promised = None
    if template is not None:
        if problem and template != "return_policy":
            reasons.append(problem)
        elif problem and mentioned_orders(message):
            reasons.append(problem)  # never answer about an order this customer does not own
        else:
            reply = _compose(template, record, policy, order, message)
            if reply is None:
                reasons.append("no order to answer about")
            else:
                promised = reply.promises
                if promised is not None and promised not in capabilities:
                    reasons.append(MISSING_CAPABILITY.get(promised, f"{promised} is not available"))
                unsupported = fact_check(reply.body, record, policy)
                if unsupported:
                    reasons.append(f"reply not grounded: {', '.join(unsupported)}")
    vip = is_vip(record, policy)
    escalate = bool(reasons)
    routing = route(triage, record.lifetime_value, rules, vip=vip, escalated=escalate)
    return SupportPlan(
        action=ESCALATE if escalate else REPLY, reasons=tuple(reasons), routing=routing,
        reply=reply, order=order if order is not None and not problem else None, injection=tuple(injection),
        unsupported_facts=tuple(unsupported), promised_action=promised if not escalate else None, vip=vip,
        rules=("support_policy@1", "fact_check@1", *(f"route:{r}" for r in routing.rules_fired)))
