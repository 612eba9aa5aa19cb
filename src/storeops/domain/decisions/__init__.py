"""Decision records and automation modes: what an automation decided, why, and what it did.

Cross-domain on purpose (orders today; returns, tickets, stock later), so it lives apart
from any one domain and refers to its subject by a string such as "order:<id>".
"""
