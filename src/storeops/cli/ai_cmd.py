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
    """AI: message triage (classify, retrain with the shop's intents) and demand forecasts."""

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


HOLDOUT_SHARE = 0.2  # of each intent's examples (with at least 5), kept out to measure the new model


def _read_examples(path: Path) -> list[tuple[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as source:
            reader = csv.DictReader(source)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in ("text", "intent") if c not in columns]
            if missing:
                raise fail(f"--examples {path}: missing column(s) {', '.join(missing)}; "
                           f"found {', '.join(columns) if columns else 'no header'} (need text,intent)")
            reader.fieldnames = columns
            return [((row.get("text") or "").strip(), (row.get("intent") or "").strip()) for row in reader]
    except UnicodeDecodeError as exc:
        raise fail(f"--examples {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise fail(f"--examples {path}: not a readable CSV ({exc})") from None


def _holdout(examples: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every 5th example of each intent that has at least 5, in file order: (train, held out)."""
    by_intent: dict[str, list[tuple[str, str]]] = {}
    for example in examples:
        by_intent.setdefault(example[1], []).append(example)
    train: list[tuple[str, str]] = []
    held: list[tuple[str, str]] = []
    step = round(1 / HOLDOUT_SHARE)
    for rows in by_intent.values():
        for n, row in enumerate(rows):
            (held if len(rows) >= step and n % step == step - 1 else train).append(row)
    return train, held


@app.command("train-intents")
def train_intents(
    examples_path: Annotated[Path, typer.Option("--examples", help="CSV with columns text,intent (others ignored)")],
    out: Annotated[Path, typer.Option("--out", help="folder for the new model (set STOREOPS_TRIAGE_MODEL_DIR to it)")],
    base_sample: Annotated[int | None, typer.Option(
        help="train on this many of the shipped examples only (a quick trial; default: all)")] = None,
) -> None:
    """Retrain the intent model with the shop's own labelled tickets; a new intent name adds an intent.

    A fifth of each intent's examples (intents with 5 or more) is held out and the new model
    is scored on them before it is trained again on everything and saved."""
    if not examples_path.is_file():
        raise fail(f"--examples {examples_path}: no such file")
    if out.exists() and not out.is_dir():
        raise fail(f"--out {out} is a file; give a folder")
    rows = _read_examples(examples_path)
    if not rows:
        raise fail(f"--examples {examples_path}: no examples")

    from storeops.ai.triage import InvalidTrainingData, load_default_model

    shipped = load_default_model()
    base = shipped.base_examples()
    if base_sample is not None:
        base = base[::max(1, len(base) // max(1, base_sample))][:base_sample]
    try:
        train, held = _holdout(rows)
        scored = None
        if held:
            trial = shipped.retrain(train, base_examples=base)
            hits = sum(trial.classify(text).intent == intent for text, intent in held)
            scored = hits / len(held)
        model = shipped.retrain(rows, base_examples=base)
    except InvalidTrainingData as exc:
        raise fail(f"--examples {examples_path}: {exc}") from None
    model.save(out)
    added = sorted(set(model.intents) - set(shipped.intents))
    summary = f"trained {model.version} on {len(base)} shipped + {len(rows)} shop examples -> {out}"
    if added:
        summary += f"; new intents: {', '.join(added)}"
    if scored is not None:
        summary += f"; accuracy on {len(held)} held-out shop examples: {scored:.3f}"
    console.print(summary)
    console.print(f"use it: STOREOPS_TRIAGE_MODEL_DIR={out}")
