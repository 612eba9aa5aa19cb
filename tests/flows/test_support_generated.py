"""Hundreds of generated tickets over many customers with real order data: no reply that
would be sent states a fact that is not in that customer's own record.

Orders: the first customers of the UCI Online Retail data set (shared/datasets/retail: real
invoices, lines, prices and dates), stored as storeops orders with varied fulfilment states.
Messages: real customer messages from Bitext's held-out set, some naming one of the
customer's orders, some naming another customer's. Each ticket goes through the flow's
decision path against the database (customer 360 from the tables, triage, plan, decision
record, reply rows, outbox rows), then every reply row is checked against the database
directly, not against the record the decision used.
"""

from __future__ import annotations

import csv
import gzip
import random
import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from storeops.connectors.gorgias.models import Ticket as GorgiasTicket
from storeops.db.session import Database
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.orders.models import Order
from storeops.domain.support import ROUTINE_INTENTS, fact_check
from storeops.domain.support import services as support_services
from storeops.domain.support.models import SupportTicket, TicketReply
from storeops.flows import support

from conftest import SHARED

CUSTOMERS = 150
TICKETS = 400
STATES = ["new", "routed", "held", "shipped", "shipped", "delivered", "cancelled"]
CARRIERS = ["UPS", "USPS", "FedEx", "DHL"]


RETAIL = SHARED / "datasets" / "retail" / "online_retail_sales_until_2011-09-30.csv.gz"
BITEXT = SHARED / "datasets" / "support-messages" / "bitext_dev.csv"


def retail_customers(rows: int = 120_000) -> dict[str, list[dict[str, Any]]]:
    """customer id -> orders (id, date, lines) of the first customers with 2+ orders in the
    first `rows` lines of the real data set (credit notes, ids starting "C", skipped)."""
    orders: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    with gzip.open(RETAIL, "rt", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f)):
            if n >= rows:
                break
            if not row["customer_id"] or row["order_id"].startswith("C"):
                continue
            order = orders[row["customer_id"]].setdefault(row["order_id"], {
                "id": row["order_id"], "date": datetime.fromisoformat(row["date"]).replace(tzinfo=UTC), "lines": []})
            order["lines"].append({"sku": row["sku"], "quantity": int(row["quantity"]),
                                   "price": str(Decimal(row["price"])), "name": row["description"]})
    repeat = [(cid, list(found.values())[:6]) for cid, found in orders.items() if len(found) >= 2]
    return dict(repeat[:CUSTOMERS])


def messages() -> tuple[list[str], list[str]]:
    """Bitext's held-out messages: (routine intents storeops may answer, everything else)."""
    with BITEXT.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return ([r["text"] for r in rows if r["intent"] in ROUTINE_INTENTS],
            [r["text"] for r in rows if r["intent"] not in ROUTINE_INTENTS])


def seed(db: Database, shop_id: str, rng: random.Random) -> dict[str, list[Order]]:
    by_email: dict[str, list[Order]] = {}
    with db.session(shop_id) as session:
        for cid, found in retail_customers().items():
            email = f"customer{cid}@example.com"
            rows = []
            for o in found:
                total = sum((Decimal(line["price"]) * line["quantity"] for line in o["lines"]), Decimal("0"))
                status = rng.choice(STATES)
                shipped = status in ("shipped", "delivered")
                tracking = f"1Z{rng.randrange(10**15, 10**16)}" if shipped else None
                row = Order(shop_id=shop_id, external_id=o["id"], name=f"#{o['id']}", email=email,
                            customer_external_id=cid, currency="GBP", total=str(total.quantize(Decimal("0.01"))),
                            financial_status="paid", status=status, lines=o["lines"], created_at=o["date"],
                            tracking_number=tracking, tracking_company=rng.choice(CARRIERS) if shipped else None,
                            tracking_url=f"https://track.example.com/{tracking}" if shipped else None)
                session.add(row)
                rows.append(row)
            by_email[email] = rows
        session.flush()
        session.expunge_all()
    return by_email


@pytest.mark.skipif(not (RETAIL.is_file() and BITEXT.is_file()), reason=f"shared data not found: {RETAIL}, {BITEXT}")
def test_no_sent_reply_states_a_fact_absent_from_the_customers_record(db: Database, shop_id: str) -> None:
    rng = random.Random(6)
    by_email = seed(db, shop_id, rng)
    assert len(by_email) == CUSTOMERS and sum(len(v) for v in by_email.values()) >= 2 * CUSTOMERS
    routine, other = messages()
    emails = sorted(by_email)
    # A wholesale shop: its VIPs spend more than 100,000. Its orders are from 2010-2011: with
    # the default 7-day delivery promise every undelivered one would be 15 years late, and
    # lateness (rightly) escalates most tickets; this test is about grounding, not lateness.
    with db.session(shop_id) as session:
        support_services.save_settings(session, shop_id, policy={"vip_lifetime_value": "100000",
                                                                  "delivery_days": 10_000})
    for n in range(TICKETS):
        email = rng.choice(emails)
        text = rng.choice(routine if rng.random() < 0.7 else other)
        pick = rng.random()
        if pick < 0.35:
            text += f" Order {rng.choice(by_email[email]).name}."
        elif pick < 0.5:
            other = rng.choice([e for e in emails if e != email])
            text += f" It's about order {rng.choice(by_email[other]).name}."
        ticket = GorgiasTicket.from_api({"id": 9000 + n, "status": "open", "subject": "Help", "channel": "email",
                                         "customer": {"id": 100 + emails.index(email), "email": email},
                                         "messages": [], "created_datetime": "2026-11-27T10:00:00"})
        message = {"id": 50000 + n, "from_agent": False, "public": True, "body_text": text, "source": None}
        with db.session(shop_id) as session:
            record = support.customer_record(session, email)
            support._decide(session, shop_id, ticket, message, str(message["id"]), text, record, key=f"gen-{n}")

    with db.session(shop_id) as session:
        replies = list(session.scalars(select(TicketReply).where(TicketReply.kind == "reply")))
        tickets = {t.gorgias_ticket_id: t for t in session.scalars(select(SupportTicket))}
        decided = session.scalar(select(DecisionRecord.id).order_by(DecisionRecord.id.desc()).limit(1))
        orders = {o.name: o for o in session.scalars(select(Order))}
        problems = []
        for reply in replies:
            email = tickets[reply.gorgias_ticket_id].customer_email
            assert email is not None and reply.recipient == email
            record = support.customer_record(session, email)
            problems += [f"{reply.gorgias_ticket_id}: {f}" for f in fact_check(reply.body, record)]
            # Independently of the checker: each order number and tracking number in the
            # reply belongs to this customer in the orders table.
            for number in re.findall(r"#\d+", reply.body):
                if orders[number].email != email:
                    problems.append(f"{reply.gorgias_ticket_id}: {number} belongs to {orders[number].email}")
            for tracking in re.findall(r"\b1Z\d{16}\b", reply.body):
                owner = next(o.email for o in orders.values() if o.tracking_number == tracking)
                if owner != email:
                    problems.append(f"{reply.gorgias_ticket_id}: tracking {tracking} belongs to {owner}")
    assert problems == []
    assert decided is not None and len(tickets) == TICKETS
    # Enough replies to mean something, and enough tickets sent to a person.
    assert len(replies) >= 100, len(replies)
    assert sum(t.escalated for t in tickets.values()) >= 100
