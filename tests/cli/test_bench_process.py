"""storeops bench process: the worker's throughput benchmark measures real processing."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import on_postgres


def test_bench_process_drains_exactly_its_events(database_url: str) -> None:
    args = [sys.executable, "-m", "storeops.cli.main", "bench", "process", "--count", "400", "--json"]
    if on_postgres():  # on SQLite the bench's embedded default (in the test's own directory)
        args += ["--database-url", database_url]
    done = subprocess.run(args, capture_output=True, text=True, timeout=180, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "process"
    assert result["processed"] == result["events"] == 400
    assert result["events_per_s"] > 0
    assert result["database"] == ("postgresql" if on_postgres() else "sqlite")
