"""Urgency of a message: low / normal / high / urgent, by rules a support lead can read.

Rules, first match wins:

- urgent: a threat that costs money or reputation (chargeback, dispute, lawyer, BBB, bad
  review); a security or fraud problem (hacked account, unauthorised charge); or
  frustration >= 0.85 from a customer who contacted us in the last 7 days or has an
  order exception open.
- high: a time-critical intent (payment problem; cancel or change an order or its
  shipping address: a few hours decide whether the parcel leaves), a complaint, asking
  for a person while frustrated (>= 0.4), chasing a late shipment, the words "urgent",
  "asap", "immediately", "today"...; or frustration >= 0.6.
- low: an intent that can wait (review, newsletter, payment methods, delivery options,
  refund policy, cancellation fee, `other`) with frustration < 0.3.
- normal: everything else.
"""

from __future__ import annotations

import re

from storeops.ai.triage.frustration import CustomerHistory, MessageSignals

URGENCY_LEVELS = ("low", "normal", "high", "urgent")

TIME_CRITICAL_INTENTS = frozenset({"payment_issue", "cancel_order", "change_order", "change_shipping_address"})
CAN_WAIT_INTENTS = frozenset({"review", "newsletter_subscription", "check_payment_methods", "delivery_options",
                              "check_refund_policy", "check_cancellation_fee", "other"})
SECURITY = re.compile(
    r"\b(?:hack(?:ed|er|ers)?|unauthori[sz]ed|stolen (?:card|identity|account)|identity theft|fraudulent charge|"
    r"didn'?t (?:make|authori[sz]e) (?:this|that|the) (?:purchase|order|charge)|someone (?:else )?(?:used|logged))\b",
    re.IGNORECASE)
URGENT_WORDS = re.compile(
    r"\b(?:urgent(?:ly)?|asap|a\.s\.a\.p|immediately|right now|right away|emergency|today|tonight|"
    r"as soon as possible|time[- ]sensitive|deadline)\b", re.IGNORECASE)


def urgency_for(text: str, intent: str, frustration: float, signals: MessageSignals,
                history: CustomerHistory | None = None) -> str:
    history = history or CustomerHistory()
    returning = history.contacts_last_7_days > 0 or history.open_exceptions > 0
    if signals.threat or SECURITY.search(text) or (frustration >= 0.85 and returning):
        return "urgent"
    chasing_late_parcel = intent == "track_order" and history.days_shipment_late > 0
    if (intent in TIME_CRITICAL_INTENTS or intent == "complaint" or chasing_late_parcel
            or (intent == "contact_human_agent" and frustration >= 0.4)
            or URGENT_WORDS.search(text) or frustration >= 0.6):
        return "high"
    if intent in CAN_WAIT_INTENTS and frustration < 0.3:
        return "low"
    return "normal"
