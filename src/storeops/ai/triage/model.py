"""`Triage`: intent, confidence, urgency, frustration, out-of-scope and language of each
incoming message, on CPU, offline, from the model files in `models/`."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from storeops.ai.triage.embedding import StaticEmbedding
from storeops.ai.triage.frustration import CustomerHistory, FrustrationScorer, ReviewModel, message_signals
from storeops.ai.triage.intents import OTHER, IntentModel
from storeops.ai.triage.language import detect_language
from storeops.ai.triage.training import (
    BASE_EXAMPLES_FILE,
    IntentTrainingConfig,
    LabelledExample,
    load_base_examples,
    retrain_intents,
    save_base_examples,
    validate_examples,
)
from storeops.ai.triage.urgency import urgency_for

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "models"
EMBEDDING_FILE = "static_embeddings.npz"
REVIEW_MODEL_FILE = "review_model.npz"
MAX_TEXT_CHARS = 5000


@dataclass(frozen=True)
class TriageResult:
    intent: str
    confidence: float  # probability of `intent` (for `other` from the floor: 1 - best intent's probability)
    urgency: str  # low | normal | high | urgent
    frustration: float  # 0..1
    out_of_scope: bool  # intent is `other`: none of the shop's intents
    language: str  # ISO 639-1, or "und"
    threats: tuple[str, ...] = ()  # chargeback / dispute / lawyer / bad-review wording found


class Triage:
    def __init__(self, intents: IntentModel, frustration: FrustrationScorer, *, source: Path | None = None,
                 base_examples: Sequence[LabelledExample] | None = None) -> None:
        self.intent_model = intents
        self.frustration = frustration
        self.source = source
        self._base_examples = list(base_examples) if base_examples is not None else None

    @property
    def intents(self) -> list[str]:
        return list(self.intent_model.labels)

    @property
    def version(self) -> str:
        """Changes whenever the intent weights do: what decision records cite."""
        digest = hashlib.sha256(self.intent_model.weights.tobytes())
        digest.update("\n".join(self.intent_model.labels).encode())
        return f"triage-{digest.hexdigest()[:12]}"

    def classify(self, text: str, history: CustomerHistory | None = None) -> TriageResult:
        return self.classify_many([text], [history])[0]

    def classify_many(self, texts: Sequence[str],
                      histories: Sequence[CustomerHistory | None] | None = None) -> list[TriageResult]:
        # Past a few thousand characters a message is a pasted thread or a log: its start
        # says what it is about, and classifying megabytes would stall the batch.
        texts = [t[:MAX_TEXT_CHARS] if isinstance(t, str) else "" for t in texts]
        if histories is not None and len(histories) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(histories)} histories")
        predictions = self.intent_model.predict(texts)
        all_signals = [message_signals(t) for t in texts]
        frustration = self.frustration.scores(texts, histories, all_signals)
        results = []
        for i, text in enumerate(texts):
            intent, confidence = predictions[i]
            signals = all_signals[i]
            history = histories[i] if histories is not None else None
            results.append(TriageResult(
                intent=intent,
                confidence=round(confidence, 4),
                urgency=urgency_for(text, intent, frustration[i], signals, history),
                frustration=frustration[i],
                out_of_scope=intent == OTHER,
                language=detect_language(text),
                threats=signals.threats,
            ))
        return results

    # -- retraining with a merchant's labelled tickets ------------------------------------
    def base_examples(self) -> list[LabelledExample]:
        if self._base_examples is None:
            if self.source is None or not (self.source / BASE_EXAMPLES_FILE).is_file():
                raise FileNotFoundError("this model has no training examples beside it to retrain from")
            self._base_examples = load_base_examples(self.source)
        return list(self._base_examples)

    def retrain(self, extra_examples: Iterable[LabelledExample | tuple[str, str]], *,
                base_examples: Sequence[LabelledExample] | None = None,
                config: IntentTrainingConfig | None = None) -> Triage:
        """A new Triage whose intents also learnt from `extra_examples` (text, intent): a new
        intent name adds an intent. `base_examples` defaults to the examples the model was
        trained on (shipped beside it); pass a subset for a quick experiment."""
        extra = validate_examples(extra_examples)
        base = list(base_examples) if base_examples is not None else self.base_examples()
        model = retrain_intents(self.intent_model, extra, base, config)
        return Triage(model, self.frustration, base_examples=[*base, *extra])

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.intent_model.save(directory)
        self.frustration.reviews.save(directory / REVIEW_MODEL_FILE)
        embedding = self.intent_model.features.embedding
        if embedding is not None:
            if self.source is not None and (self.source / EMBEDDING_FILE).is_file():
                if (self.source / EMBEDDING_FILE).resolve() != (directory / EMBEDDING_FILE).resolve():
                    shutil.copyfile(self.source / EMBEDDING_FILE, directory / EMBEDDING_FILE)
            else:
                embedding.save(directory / EMBEDDING_FILE)
        if self._base_examples is not None:
            save_base_examples(directory, self._base_examples)
        self.source = directory

    @classmethod
    def load(cls, directory: Path) -> Triage:
        missing = [n for n in ("intent_model.npz", "intent_model.json", REVIEW_MODEL_FILE)
                   if not (directory / n).is_file()]
        if missing:
            raise FileNotFoundError(f"{directory}: missing model files {', '.join(missing)}; "
                                    "train them with scripts/train_triage.py")
        embedding = StaticEmbedding.load(directory / EMBEDDING_FILE) if (directory / EMBEDDING_FILE).is_file() else None
        intents = IntentModel.load(directory, embedding)
        if intents.features.embedding_weight and embedding is None:
            raise FileNotFoundError(f"{directory}: the intent model needs {EMBEDDING_FILE}")
        return cls(intents, FrustrationScorer(ReviewModel.load(directory / REVIEW_MODEL_FILE)), source=directory)


@lru_cache(maxsize=1)
def load_default_model() -> Triage:
    """The model shipped in the package (loaded once per process, ~0.5 s)."""
    return Triage.load(DEFAULT_MODEL_DIR)


def train_triage_model(examples: Iterable[LabelledExample | tuple[str, str]], base: Triage | None = None, *,
                       base_examples: Sequence[LabelledExample] | None = None,
                       config: IntentTrainingConfig | None = None) -> Triage:
    """`base` (default: the shipped model) retrained with extra (text, intent) examples."""
    return (base or load_default_model()).retrain(examples, base_examples=base_examples, config=config)
