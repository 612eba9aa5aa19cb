"""The seeded start state: agents and teams, customers, and tickets about real catalog
products (storeops.sandbox.catalog), spread over the month before the seed time (the
sandbox's start, to the hour, unless a test pins it).

Seeded through the Helpdesk's own create/update rules, so seeded tickets look exactly
like API-created ones (and leave events behind, as Gorgias's history would).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from storeops.sandbox.catalog import products
from storeops.sandbox.gorgias.helpdesk import Helpdesk
from storeops.sandbox.gorgias.records import Team, User

SEED_CUSTOMERS = 40
SEED_TICKETS = 75  # more than two pages of 30, so pagination is exercised

_FIRST = ["Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas", "Mia", "Mateo",
          "Amelia", "Levi", "Harper", "Ethan", "Evelyn", "Kai", "Aria", "Leo"]
_LAST = ["Nguyen", "Garcia", "Smith", "Kowalski", "Okafor", "Rossi", "Haddad", "Johansson", "Tanaka", "Silva",
         "Murphy", "Dubois", "Patel", "Novak", "Cohen"]

# (tag, subject, body) — {title}, {sku}, {size}, {color}, {order} come from a catalog variant.
_TOPICS = [
    ("order-status", "Where is my order #{order}?",
     "Hi, I ordered the {title} ({sku}) last week and it still hasn't arrived. Order #{order}. Can you check?"),
    ("returns", "Return for order #{order}",
     "The {title} in size {size} doesn't fit me. How do I send it back for a refund? Order #{order}."),
    ("wrong-item", "Wrong item in order #{order}",
     "I ordered the {title} in {color} but received a different colour. Order #{order}."),
    ("product-question", "Question about the {title}",
     "Hello! Is the {title} available in {color}, size {size}? When will it be back in stock?"),
    ("damaged", "Damaged {title}",
     "My {title} ({sku}) arrived with a torn seam. Can I get a replacement? Order #{order}."),
]
_REPLY = "Hi {first}, thanks for reaching out! I'm looking into order #{order} now and will get back to you shortly."


def seed_helpdesk(desk: Helpdesk, rng: random.Random, *, api_user_email: str, seed_time: datetime) -> None:
    clock = [seed_time - timedelta(days=45)]
    desk.now = lambda: clock[0]

    agents = [
        ("Storeops", "Admin", "admin", api_user_email),
        ("Maya", "Patel", "agent", f"maya@{desk.domain}.example.com"),
        ("Jonas", "Berg", "agent", f"jonas@{desk.domain}.example.com"),
        ("Lena", "Ortiz", "agent", f"lena@{desk.domain}.example.com"),
        ("Sam", "Okafor", "lead-agent", f"sam@{desk.domain}.example.com"),
    ]
    for first, last, role, email in agents:
        user = User(id=desk.next_id("user"), email=email, firstname=first, lastname=last, role=role)
        desk.users[user.id] = user
    for name, emoji, members in (("Tier 1", "wave", [2, 3]), ("Returns", "package", [4]), ("VIP", "star", [5, 2])):
        team = Team(id=desk.next_id("team"), name=name, emoji=emoji, member_ids=members)
        desk.teams[team.id] = team
    for tag_name, color in (("order-status", "#2b8a3e"), ("returns", "#e67700"), ("wrong-item", "#c92a2a"),
                            ("product-question", "#1971c2"), ("damaged", "#862e9c"), ("vip", "#f08c00")):
        desk.tag_by_name(tag_name).color = color

    customers = []
    for index in range(SEED_CUSTOMERS):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        email = f"{first}.{last}.{index}@example.com".lower()
        customers.append(desk.create_customer(email, f"{first} {last}", external_id=f"shopify-{7000 + index}"))

    catalog = [p for p in products() if p.get("variants")]
    api_user = desk.users[1]
    start = seed_time - timedelta(days=30)
    for index in range(SEED_TICKETS):
        clock[0] = start + timedelta(minutes=index * 571 + rng.randrange(0, 240))
        customer = rng.choice(customers)
        product = rng.choice(catalog)
        variant = rng.choice(product["variants"])
        options = variant.get("options") or {}
        words = {"title": product["title"], "sku": variant["sku"], "size": options.get("size", "M"),
                 "color": options.get("color", "black"), "order": 1000 + index, "first": customer.firstname}
        tag, subject, body = rng.choice(_TOPICS)
        ticket = desk.create_ticket({
            "channel": "email", "via": "email", "from_agent": False, "customer": {"id": customer.id},
            "subject": subject.format(**words), "tags": [{"name": tag}],
            "messages": [_incoming(customer.email, subject.format(**words), body.format(**words))],
        }, actor=api_user)
        roll = rng.random()
        if roll < 0.5:
            clock[0] += timedelta(hours=rng.randrange(1, 20))
            agent = desk.users[rng.choice([2, 3, 4, 5])]
            desk.add_message(ticket, {"channel": "email", "via": "helpdesk", "from_agent": True,
                                      "sender": {"id": agent.id}, "body_text": _REPLY.format(**words)}, actor=agent)
            update: dict[str, Any] = {"assignee_user": {"id": agent.id}}
            if tag == "returns":
                update["assignee_team"] = {"id": 2}
            if roll < 0.25:
                update["status"] = "closed"
            clock[0] += timedelta(minutes=5)
            desk.update_ticket(ticket, update, actor=agent)
        elif roll < 0.6:
            desk.update_ticket(ticket, {"assignee_team": {"id": 3}, "priority": "high",
                                        "tags": [{"name": tag}, {"name": "vip"}]}, actor=api_user)


def _incoming(email: str, subject: str, body: str) -> dict[str, Any]:
    return {"channel": "email", "via": "email", "from_agent": False, "sender": {"email": email},
            "subject": subject, "body_text": body, "body_html": f"<p>{body}</p>"}
