"""Intent classifier: one linear model over `TextFeatures`, softmax with a fitted
temperature for the confidence, and a confidence floor below which a message is `other`.

Out-of-scope messages are caught twice: `other` is a class of its own (trained on
CLINC150 out-of-scope queries and generated gibberish), and any message whose best
intent is less likely than `oos_threshold` is `other` too, since an unfamiliar message
spreads its probability over many intents.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from storeops.ai.triage.embedding import StaticEmbedding
from storeops.ai.triage.features import TextFeatures

OTHER = "other"
FORMAT_VERSION = 1


@dataclass
class IntentModel:
    labels: list[str]
    features: TextFeatures
    weights: np.ndarray  # (n_features, n_labels)
    bias: np.ndarray  # (n_labels,)
    temperature: float = 1.0
    oos_threshold: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.features.transform(texts) @ self.weights, dtype=np.float32) + self.bias

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return softmax(self.scores(texts) / self.temperature)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """(intent, confidence) per text; `other` when the best intent is below the floor."""
        if not texts:
            return []
        probabilities = self.probabilities(texts)
        best = probabilities.argmax(axis=1)
        out: list[tuple[str, float]] = []
        for text, row, index in zip(texts, probabilities, best, strict=True):
            confidence = float(row[index])
            if not text.strip():
                out.append((OTHER, 1.0))  # nothing to act on: certainly not one of the intents
            elif confidence < self.oos_threshold and self.labels[index] != OTHER:
                out.append((OTHER, 1.0 - confidence))
            else:
                out.append((self.labels[index], confidence))
        return out

    # -- files: plain arrays and JSON, never pickle ------------------------------------
    def save(self, directory: Path, name: str = "intent_model") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = {"weights": self.weights.astype(np.float32), "bias": self.bias.astype(np.float32),
                                  "labels": np.array(self.labels, dtype=str), **self.features.to_arrays()}
        np.savez_compressed(directory / f"{name}.npz", **arrays)
        meta = {"format_version": FORMAT_VERSION, "temperature": self.temperature,
                "oos_threshold": self.oos_threshold, "labels": self.labels, "info": self.info}
        (directory / f"{name}.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: Path, embedding: StaticEmbedding | None, name: str = "intent_model") -> IntentModel:
        meta = json.loads((directory / f"{name}.json").read_text())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{directory / name}: model format {meta.get('format_version')}, "
                             f"this code reads {FORMAT_VERSION}; retrain with scripts/train_triage.py")
        with np.load(directory / f"{name}.npz", allow_pickle=False) as arrays:
            features = TextFeatures.from_arrays(arrays, embedding)
            return cls([str(label) for label in arrays["labels"]], features,
                       np.asarray(arrays["weights"], dtype=np.float32), np.asarray(arrays["bias"], dtype=np.float32),
                       float(meta["temperature"]), float(meta["oos_threshold"]), meta.get("info", {}))


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
