"""Catalog: canonical products, renditions: the tables (see migration 0006)."""
