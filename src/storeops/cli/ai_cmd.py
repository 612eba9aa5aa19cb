"""storeops ai classify-messages --in MESSAGES.csv --out LABELS.csv

MESSAGES needs columns id,text (others are ignored). LABELS gets id,intent,confidence,
urgency,frustration: one row per message, in input order. An empty text is `other`.

The triage model is imported inside the command: numpy and scipy would slow every other
`storeops` command down.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from storeops.cli.common import console, fail

app = typer.Typer(no_args_is_help=True)


@app.callback()
def ai() -> None:
    """AI: message triage."""

OUTPUT_COLUMNS = ("id", "intent", "confidence", "urgency", "frustration")
BATCH = 2000


def _batches(reader: csv.DictReader[str]) -> Iterator[list[dict[str, str]]]:
    batch: list[dict[str, str]] = []
    for row in reader:
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@app.command("classify-messages")
def classify_messages(
    in_path: Annotated[Path, typer.Option("--in", help="CSV with columns id,text (other columns ignored)")],
    out: Annotated[Path, typer.Option("--out", help="output CSV: id,intent,confidence,urgency,frustration")],
) -> None:
    """Intent, confidence, urgency and frustration of every message in a CSV."""
    if not in_path.is_file():
        raise fail(f"--in {in_path}: no such file")
    if out.exists() and out.is_dir():
        raise fail(f"--out {out} is a directory; give a file name")
    if not out.parent.exists():
        raise fail(f"--out {out}: folder {out.parent} does not exist")
    csv.field_size_limit(sys.maxsize)

    from storeops.ai.triage import load_default_model

    triage = load_default_model()
    counts: Counter[str] = Counter()
    total = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".labels-", suffix=".csv", dir=out.parent)
    try:
        with in_path.open(newline="", encoding="utf-8-sig") as source, \
                os.fdopen(fd, "w", newline="", encoding="utf-8") as target:
            reader = csv.DictReader(source)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in ("id", "text") if c not in columns]
            if missing:
                raise fail(f"--in {in_path}: missing column(s) {', '.join(missing)}; "
                           f"found {', '.join(columns) if columns else 'no header'} (need id,text)")
            reader.fieldnames = columns
            writer = csv.writer(target, lineterminator="\n")
            writer.writerow(OUTPUT_COLUMNS)
            for batch in _batches(reader):
                results = triage.classify_many([row.get("text") or "" for row in batch])
                for row, result in zip(batch, results, strict=True):
                    writer.writerow([row.get("id") or "", result.intent, f"{result.confidence:.4f}",
                                     result.urgency, f"{result.frustration:.4f}"])
                    counts[result.intent] += 1
                total += len(batch)
        os.replace(tmp_name, out)
    except UnicodeDecodeError as exc:
        raise fail(f"--in {in_path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise fail(f"--in {in_path}: not a readable CSV ({exc})") from None
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    top = ", ".join(f"{intent} {n}" for intent, n in counts.most_common(5))
    console.print(f"classified {total} messages -> {out} (model {triage.version}){': ' + top if top else ''}")
