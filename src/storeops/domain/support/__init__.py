"""Support: tickets, triage results, replies."""
