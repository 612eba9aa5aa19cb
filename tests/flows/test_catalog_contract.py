"""The catalog's Shopify documents (in connectors/shopify/client.py) validate against Shopify's
FULL Admin 2026-07 schema, with the variables the client sends (skipped without ../shared)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema, parse, validate
from graphql.execution.values import get_variable_values
from graphql.language import OperationDefinitionNode

from storeops.connectors.shopify import client

FULL_SDL = Path(__file__).resolve().parents[2].parent / "shared" / "vendor-specs" / "shopify" / "admin-2026-07.graphql"
pytestmark = pytest.mark.skipif(not FULL_SDL.exists(), reason="../shared/vendor-specs/shopify is not here")

SENT: list[tuple[str, dict[str, Any]]] = [
    (client.CATALOG_PRODUCTS, {"first": 8, "after": None, "query": "product_type:Bags"}),
    (client.CATALOG_VARIANTS, {"id": "gid://shopify/Product/1", "first": 50, "after": "abc"}),
    (client.PRODUCT_CONTENT, {"id": "gid://shopify/Product/1"}),
    (client.PRODUCT_UPDATE, {"product": {"id": "gid://shopify/Product/1", "title": "T", "descriptionHtml": "<p>d</p>",
                                         "seo": {"title": "s", "description": "m"}}}),
]


def test_catalog_documents_and_variables_validate_against_the_full_schema() -> None:
    schema = build_schema(FULL_SDL.read_text(encoding="utf-8"), assume_valid_sdl=True)
    for document, variables in SENT:
        ast = parse(document)
        assert validate(schema, ast) == [], document
        [operation] = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
        coerced = get_variable_values(schema, operation.variable_definitions or [], variables)
        assert not isinstance(coerced, list), (document, coerced)
