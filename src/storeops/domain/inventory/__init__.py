"""Inventory: stock levels, reservations, channel atp."""
