"""Catalog: canonical products, the data-quality audit, per-channel renditions and consistency.

    records.py      ProductRecord / VariantRecord (plain values), facts_of, content_hash
    csv_import.py   Shopify product CSV -> records
    audit.py        audit(products) -> AuditReport
    channels.py     render / validate / diff for shopify, amazon, klaviyo, email
    services.py     imports, edits, renditions, snapshots (a shop's session)
    models.py       the tables (migration 0006)
"""

from storeops.domain.catalog.audit import AuditIssue, AuditReport, IssueKind, audit
from storeops.domain.catalog.channels import (
    CHANNELS,
    PUBLISHED_CHANNELS,
    diff,
    eligible_channels,
    render,
    render_all,
    validate,
)
from storeops.domain.catalog.csv_import import parse_shopify_csv
from storeops.domain.catalog.records import ProductRecord, VariantRecord, content_hash, facts_of, plain_text

__all__ = ["CHANNELS", "PUBLISHED_CHANNELS", "AuditIssue", "AuditReport", "IssueKind", "ProductRecord",
           "VariantRecord", "audit", "content_hash", "diff", "eligible_channels", "facts_of", "parse_shopify_csv",
           "plain_text", "render", "render_all", "validate"]
