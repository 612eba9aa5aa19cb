"""Support: tickets, triage results, replies: the tables (see migration 0007)."""
