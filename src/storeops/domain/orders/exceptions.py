"""Order exceptions queue: the tables (see migration 0003)."""
