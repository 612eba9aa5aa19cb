"""Grounding and injection checks for replies.

`fact_check` lists every fact in a reply that the customer's own record (or the shop's
published policy) does not hold: order numbers, dates, amounts, tracking numbers and
other long identifiers, links and email addresses. A reply is sent only when the list
is empty.

`detect_injection` flags messages that try to instruct the automation. It is a tripwire
for escalation and the dashboard, not the defence: replies are composed from templates
chosen by intent and filled from the ticket's customer record only, the recipient is
always the ticket's customer as Gorgias names it, and no text of the message is ever
copied into a reply, a tool choice or a recipient (see replies.py, flows/support.py).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from decimal import Decimal, InvalidOperation

from storeops.domain.support.policy import SupportPolicy
from storeops.domain.support.records import CustomerRecord

URL = re.compile(r"https?://[^\s<>\"'()\[\]]+", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ORDER_NUMBER = re.compile(r"#\s?(\d+)")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
WORD_DATE = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?"
                       r",?\s+\d{4}\b|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
                       r"\d{4}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b", re.IGNORECASE)
AMOUNT = re.compile(r"(?:[$€£¥]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*\.\d{2}\b)")
IDENTIFIER = re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{7,}\b")
LONG_NUMBER = re.compile(r"\b\d{5,}\b")
PLACEHOLDER = re.compile(r"[{}]|\$\{|<\|")


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(re.sub(r"[^\d.]", "", text))
    except InvalidOperation:
        return None


def allowed_facts(record: CustomerRecord, policy: SupportPolicy) -> dict[str, set[str]]:
    orders = record.orders
    return {
        "urls": {u for o in orders if (u := o.tracking_url)} | ({policy.return_policy_url}
                                                                 if policy.return_policy_url else set()),
        "emails": {record.email.lower()} | ({policy.support_email.lower()} if policy.support_email else set()),
        "order_numbers": {o.digits for o in orders} | {o.external_id for o in orders},
        "dates": {o.placed_at.date().isoformat() for o in orders}
        | {r.created_at.date().isoformat() for r in record.returns if r.created_at},
        "identifiers": {o.tracking_number.upper() for o in orders if o.tracking_number}
        | {o.external_id for o in orders} | {o.digits for o in orders}
        | {r.reference.upper() for r in record.returns},
        "amounts": {str(o.total.normalize()) for o in orders} | {str(record.lifetime_value.normalize())},
    }


def fact_check(reply_text: str, record: CustomerRecord, policy: SupportPolicy | None = None) -> list[str]:
    """Facts in `reply_text` that are not in the customer's record: empty means grounded."""
    allowed = allowed_facts(record, policy or SupportPolicy())
    unsupported: list[str] = []
    text = reply_text
    for match in URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?")
        if url not in allowed["urls"]:
            unsupported.append(f"link {url}")
    without_urls = URL.sub(" ", text)
    for match in EMAIL.finditer(without_urls):
        if match.group(0).lower() not in allowed["emails"]:
            unsupported.append(f"email {match.group(0)}")
    plain = EMAIL.sub(" ", without_urls)
    for match in ORDER_NUMBER.finditer(plain):
        if match.group(1) not in allowed["order_numbers"]:
            unsupported.append(f"order #{match.group(1)}")
    for match in ISO_DATE.finditer(plain):
        if match.group(0) not in allowed["dates"]:
            unsupported.append(f"date {match.group(0)}")
    for match in WORD_DATE.finditer(plain):
        unsupported.append(f"date {match.group(0)}")  # templates write ISO dates only
    no_dates = WORD_DATE.sub(" ", ISO_DATE.sub(" ", plain))
    for match in AMOUNT.finditer(no_dates):
        value = _amount(match.group(0))
        if value is None or str(value.normalize()) not in allowed["amounts"]:
            unsupported.append(f"amount {match.group(0)}")
    no_amounts = AMOUNT.sub(" ", no_dates)
    for match in IDENTIFIER.finditer(no_amounts.upper()):
        if match.group(0) not in allowed["identifiers"]:
            unsupported.append(f"identifier {match.group(0)}")
    for match in LONG_NUMBER.finditer(ORDER_NUMBER.sub(" ", no_amounts)):
        if match.group(0) not in allowed["identifiers"]:
            unsupported.append(f"number {match.group(0)}")
    if PLACEHOLDER.search(text):
        unsupported.append("template syntax")
    return sorted(set(unsupported))


# --- injection tripwire -------------------------------------------------------------------

_HIDDEN = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
           "\u2066", "\u2067", "\u2068", "\u2069", "\u00ad"}
_SIGNALS: list[tuple[str, re.Pattern[str]]] = [
    ("instruction override", re.compile(
        r"\b(ignore|disregard|forget|override|bypass|skip)\b.{0,40}\b(previous|prior|above|earlier|all|your|the|any)"
        r"\b.{0,30}\b(instruction|rule|prompt|direction|polic|guideline|setting|restriction)", re.S)),
    ("instruction override", re.compile(
        r"(ignora|ignorez|ignoriere|ignorer|ignorar|negeer|dimentica|oublie|vergiss|olvida)\b.{0,40}"
        r"(instruc|anweisung|istruzion|regl|regel|consign|instructies)", re.S)),
    ("instruction override", re.compile(r"(忽略|无视|忘记).{0,10}(指令|指示|说明|规则)|以前の指示|指示を無視", re.S)),
    ("role play", re.compile(r"\b(you are now|act as|pretend (to be|you are)|from now on you|developer mode|"
                             r"jailbreak|\bdan\b mode|new persona|roleplay)\b")),
    ("system prompt probe", re.compile(r"(system|hidden|initial|original|internal)\s*(prompt|instruction|message|"
                                       r"template|config)|\bprompt\b.{0,20}\b(reveal|show|print|repeat|leak)|"
                                       r"(reveal|show|print|repeat|leak|output|dump).{0,30}(prompt|instructions|"
                                       r"template|configuration|api key|password|secret|token)", re.S)),
    ("role markers", re.compile(r"(^|\n)\s*(system|assistant|developer|tool)\s*:|\[/?inst\]|<\|im_(start|end)\|>|"
                                r"###\s*(instruction|system)|<\s*/?\s*(system|script)\b")),
    ("other customer's data", re.compile(
        r"\b(another|other|different|someone else'?s?|all)\b.{0,20}\b(customer|user|account|order)s?\b.{0,40}"
        r"\b(data|details|orders?|address|email|info)", re.S)),
    ("tool or action request", re.compile(r"\b(call|run|execute|invoke|use)\b.{0,20}\b(tool|function|api|command|"
                                          r"endpoint|refund_|cancel_)|\b(issue|process|approve|grant)\b.{0,20}"
                                          r"\b(a |the |my |full )?(refund|credit|discount|coupon)\b.{0,30}"
                                          r"\b(now|immediately|automatically|without)\b", re.S)),
    ("claims authority", re.compile(r"\b(authori[sz]ation code|admin[- ]override|i am (the|an?) (admin|owner|"
                                    r"manager|developer)|as (an? )?(admin|administrator|developer)|"
                                    r"the user is an? (admin|administrator))\b")),
    ("encoded payload", re.compile(r"\b[a-z0-9+/]{40,}={0,2}(\s|$)")),
]


_REDIRECT = re.compile(r"\b(?:send|forward|email|mail|cc|bcc|copy|deliver|reply)\b.{0,40}?\b(?:to|at)\b\W{0,10}"
                       r"([\w.+-]+@[\w-]+(?:\.[\w-]+)+)", re.S)


def normalize_message(text: str) -> str:
    """NFKC (full-width and styled letters to plain), hidden characters dropped, lowercase."""
    folded = unicodedata.normalize("NFKC", text)
    folded = "".join(ch for ch in folded if ch not in _HIDDEN)
    return folded.lower()


def detect_injection(text: str, customer_email: str | None = None) -> list[str]:
    """Signals that the message tries to steer the automation (for escalation and review)."""
    found: list[str] = []
    if any(ch in _HIDDEN for ch in text):
        found.append("hidden characters")
    plain = normalize_message(text)
    # Leetspeak and spacing tricks ("1gn0re", "i g n o r e"): a second, squeezed reading.
    squeezed = re.sub(r"(?<=\b\w) (?=\w\b)", "", plain.translate(str.maketrans("013457@$!|", "oieastasii")))
    for name, pattern in _SIGNALS:
        if (pattern.search(plain) or pattern.search(squeezed)) and name not in found:
            found.append(name)
    own = (customer_email or "").lower()
    for match in _REDIRECT.finditer(plain):
        if match.group(1).rstrip(".") != own and "redirect recipient" not in found:
            found.append("redirect recipient")
    others = {m.group(0).lower().rstrip(".") for m in EMAIL.finditer(plain)} - {own}
    if others and "another email address" not in found:
        found.append("another email address")
    if re.search(r"\[[^\]]+\]\([^)]+\)|<a\s+href|!\[", plain):
        found.append("markup or links")
    return found


def iso_day(value: datetime) -> str:
    return value.date().isoformat()
