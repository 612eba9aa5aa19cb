"""Returns: the tables (see migration 0004)."""
