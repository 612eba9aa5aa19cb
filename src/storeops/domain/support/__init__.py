"""Support: tickets, triage results, replies, routing rules, escalation and grounding.

    records   CustomerRecord / OrderFact / TriageView: the only inputs a decision reads
    policy    SupportPolicy, route(), should_escalate(), routing rule validation
    replies   templates per routine intent, filled from the record only
    grounding fact_check() and the injection tripwire detect_injection()
    planner   plan_ticket(): the whole decision for one message, pure
    models    tables (migration 0007); services: settings, tickets, KPIs
"""

from storeops.domain.support.grounding import detect_injection, fact_check
from storeops.domain.support.planner import ESCALATE, REPLY, SupportPlan, plan_ticket
from storeops.domain.support.policy import DEFAULT_RULES, ROUTINE_INTENTS, SupportPolicy, route, should_escalate
from storeops.domain.support.records import CustomerRecord, OrderFact, ReturnFact, Routing, TriageView

__all__ = [
    "DEFAULT_RULES",
    "ESCALATE",
    "REPLY",
    "ROUTINE_INTENTS",
    "CustomerRecord",
    "OrderFact",
    "ReturnFact",
    "Routing",
    "SupportPlan",
    "SupportPolicy",
    "TriageView",
    "detect_injection",
    "fact_check",
    "plan_ticket",
    "route",
    "should_escalate",
]
