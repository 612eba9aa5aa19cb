"""storeops catalog import | audit | render | publish | consistency, in-process, against the sandboxes."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner, Result

from storeops.cli.main import app
from storeops.core.secrets import SecretBox
from storeops.db.session import Database, reset_database
from storeops.flows.demo import connect_demo_shop

from conftest import LiveServer


@pytest.fixture
def run(storeops_env: dict[str, str]) -> Iterator[Any]:
    runner = CliRunner()
    saved_structlog = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    cli_env = {k: v for k, v in storeops_env.items() if k.startswith("STOREOPS_")}

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args), env=cli_env, catch_exceptions=False)

    yield invoke
    structlog.configure(**saved_structlog)
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    reset_database()


@pytest.fixture
def shop(db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], live_app: LiveServer) -> str:
    connection = connect_demo_shop(db, box, sandboxes, live_app.url)
    assert connection.ok, connection.as_dict()
    return connection.shop_id


def test_catalog_commands_end_to_end(run: Any, shop: str, tmp_path: Path) -> None:
    imported = run("catalog", "import", "--shopify", "--query", "product_type:Bags", "--json")
    assert imported.exit_code == 0, imported.output
    created = json.loads(imported.stdout)["created"]
    assert created >= 5

    audit = run("catalog", "audit", "--json")
    assert audit.exit_code == 0, audit.output
    report = json.loads(audit.stdout)
    assert report["products"] == created and report["counts"]["missing_media"] == created

    shown = run("catalog", "render", "--sku", "24-MB01", "--channel", "amazon")
    assert shown.exit_code == 0, shown.output
    assert "listings.24-MB01.item_name: Joust Duffle Bag" in shown.stdout and "brand: Luma" in shown.stdout

    diff = run("catalog", "render", "--sku", "24-MB01", "--channel", "shopify", "--diff")
    assert diff.exit_code == 0, diff.output
    assert "+ seo.title: 'Joust Duffle Bag | Luma'" in diff.stdout

    published = run("catalog", "publish", "--handle", "joust-duffle-bag", "--json")
    assert published.exit_code == 0, published.output
    body = json.loads(published.stdout)
    assert body["compiled"]["invalid"] == [] and body["published"]["emitted"] == 3  # a worker sends them

    checked = run("catalog", "consistency", "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["channels"] == {}  # nothing has reached a channel yet

    bad = tmp_path / "bad.csv"
    bad.write_text("sku,name\nA,B\n")
    refused = run("catalog", "import", "--csv", str(bad))
    assert refused.exit_code == 2 and "not a Shopify product CSV" in refused.stderr
    assert run("catalog", "import").exit_code == 2
    unknown = run("catalog", "render", "--sku", "NOPE-1")
    assert unknown.exit_code == 2 and "NOPE-1" in unknown.stderr
