"""Catalog: canonical products, renditions."""
