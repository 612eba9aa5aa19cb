"""The accuracy in models/metrics.json is real: recompute it with the shipped model on the
held-out data in ../shared (skipped where the shared data is not there)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest

from storeops.ai.triage import DEFAULT_MODEL_DIR, OTHER, load_default_model

SUPPORT = Path("datasets/support-messages")


def _support_dir() -> Path | None:
    bases = [Path(os.environ["STOREOPS_SHARED_DIR"])] if os.environ.get("STOREOPS_SHARED_DIR") else []
    here = Path(__file__).resolve()
    bases += [parent / "shared" for parent in [Path.cwd(), *Path.cwd().parents, *here.parents]]
    for base in bases:
        if (base / SUPPORT / "bitext_dev.csv").is_file():
            return base / SUPPORT
    return None


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _held_out(row_id: str, share: float) -> bool:
    # the same fixed split as scripts/train_triage.py
    return int(hashlib.sha256(row_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


@pytest.fixture(scope="module")
def support() -> Path:
    path = _support_dir()
    if path is None:
        pytest.skip("shared/datasets/support-messages not found")
    return path


@pytest.fixture(scope="module")
def metrics() -> dict:
    return json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text())


def _macro_f1(truth: list[str], predicted: list[str]) -> float:
    scores = []
    for label in sorted(set(truth)):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def test_dev_accuracy_matches_metrics(support: Path, metrics: dict) -> None:
    rows = _rows(support / "bitext_dev.csv")
    assert len(rows) == metrics["data"]["bitext_dev"]
    truth = [r["intent"] for r in rows]
    predicted = [r.intent for r in load_default_model().classify_many([r["text"] for r in rows])]
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(rows)
    assert abs(accuracy - metrics["intent"]["accuracy"]) <= 0.005
    assert abs(_macro_f1(truth, predicted) - metrics["intent"]["macro_f1"]) <= 0.005


def test_held_out_out_of_scope_recall_matches_metrics(support: Path, metrics: dict) -> None:
    rows = [r for r in _rows(support / "out_of_scope_train.csv") if _held_out(r["id"], 0.5)]
    assert len(rows) == metrics["data"]["oos_held_out"]
    predicted = [r.intent for r in load_default_model().classify_many([r["text"] for r in rows])]
    recall = predicted.count(OTHER) / len(rows)
    assert abs(recall - metrics["out_of_scope"]["recall"]) <= 0.005
