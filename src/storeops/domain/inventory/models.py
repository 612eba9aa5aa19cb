"""Inventory: stock levels, reservations, channel atp: the tables (see migration 0005)."""
