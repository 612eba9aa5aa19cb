"""Fitting the intent model: used by scripts/train_triage.py for the shipped model and by
`Triage.retrain` when a merchant adds intents from their own labelled tickets.

scikit-learn is imported inside the functions: classifying needs only numpy and scipy.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from storeops.ai.triage.embedding import StaticEmbedding
from storeops.ai.triage.features import TextFeatures
from storeops.ai.triage.intents import OTHER, IntentModel, softmax

INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
BASE_EXAMPLES_FILE = "training_examples.csv.gz"


class InvalidTrainingData(ValueError):
    """Labelled examples that cannot train a model; the message says which and why."""


@dataclass(frozen=True)
class LabelledExample:
    text: str
    intent: str


@dataclass(frozen=True)
class IntentTrainingConfig:
    """C and the embedding weight: chosen by 3-fold cross-validation inside the training
    data (scripts/train_triage.py --search, one-standard-error rule).

    `oos_floor` is a prior, not tuned: below 0.25 no intent is a plausible reading of the
    message. Tuning it on out-of-fold training predictions picks 0.95, because inside the
    training distribution the model is almost never unsure; on a model trained on
    bitext_train alone that floor turned a fifth of bitext_dev requests into `other`.
    Out-of-scope detection is mostly the trained `other` class's work."""

    c: float = 0.1
    embedding_weight: float = 2.0
    word_max_n: int = 2
    char_min_n: int = 2
    char_max_n: int = 5
    min_df: int = 2
    gibberish_examples: int = 300
    oos_floor: float = 0.25
    seed: int = 0


def validate_examples(examples: Iterable[LabelledExample | tuple[str, str]]) -> list[LabelledExample]:
    out: list[LabelledExample] = []
    for position, example in enumerate(examples):
        text, intent = (example.text, example.intent) if isinstance(example, LabelledExample) else example
        if not isinstance(text, str) or not text.strip():
            raise InvalidTrainingData(f"example {position}: empty text")
        if not isinstance(intent, str) or not INTENT_NAME.match(intent):
            raise InvalidTrainingData(f"example {position}: intent {intent!r} is not a lowercase name "
                                      "like product_question (letters, digits, _; at most 64)")
        out.append(LabelledExample(text, intent))
    return out


def gibberish(count: int, seed: int) -> list[str]:
    """Keyboard mash and random letters: messages with no intent at all, as `other`."""
    rng = random.Random(seed)
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
    out: list[str] = []
    for _ in range(count):
        words = []
        for _ in range(rng.randint(1, 5)):
            if rng.random() < 0.4:
                row = rng.choice(rows)
                start = rng.randrange(len(row) - 2)
                word = row[start:start + rng.randint(3, 7)]
            else:
                word = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(2, 9)))
            words.append(word.upper() if rng.random() < 0.1 else word)
        text = " ".join(words)
        if rng.random() < 0.2:
            text += rng.choice(["?", "!", "!!", "...", " 123", " :)"])
        out.append(text)
    return out


def fit_linear(texts: Sequence[str], labels: Sequence[str], embedding: StaticEmbedding | None,
               config: IntentTrainingConfig) -> IntentModel:
    """One linear SVM (one-vs-rest, classes weighted to equal total weight: the generator's
    sampling rates in the Bitext file are not a merchant's real intent frequencies)."""
    from sklearn.svm import LinearSVC

    features = TextFeatures.fit(texts, word_max_n=config.word_max_n, char_range=(config.char_min_n, config.char_max_n),
                                min_df=config.min_df, embedding=embedding, embedding_weight=config.embedding_weight)
    matrix = features.transform(texts)
    classifier = LinearSVC(C=config.c, class_weight="balanced", random_state=config.seed, max_iter=5000)
    classifier.fit(matrix, list(labels))
    classes = [str(c) for c in classifier.classes_]
    if len(classes) < 3:
        raise InvalidTrainingData("need at least three intents (counting `other`) to train")
    return IntentModel(classes, features, classifier.coef_.T.astype(np.float32),
                       classifier.intercept_.astype(np.float32))


def out_of_fold_scores(texts: Sequence[str], labels: Sequence[str], embedding: StaticEmbedding | None,
                       config: IntentTrainingConfig, folds: int = 3) -> tuple[np.ndarray, list[str]]:
    """Decision scores of each example from a model that did not see it (stratified k-fold);
    features are refitted inside each fold so the idf does not leak either."""
    from sklearn.model_selection import StratifiedKFold

    labels_array = np.asarray(labels)
    classes = sorted(set(labels))
    out = np.zeros((len(texts), len(classes)), dtype=np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    for train_index, test_index in splitter.split(np.zeros(len(texts)), labels_array):
        model = fit_linear([texts[i] for i in train_index], labels_array[train_index].tolist(), embedding, config)
        columns = [classes.index(label) for label in model.labels]
        out[np.ix_(test_index, columns)] = model.scores([texts[i] for i in test_index])
    return out, classes


def fit_temperature(scores: np.ndarray, targets: np.ndarray) -> float:
    """The temperature T minimising the log-loss of softmax(scores / T) (a 1-D search)."""
    candidates = np.exp(np.linspace(np.log(0.02), np.log(5.0), 200))
    losses = []
    for t in candidates:
        probabilities = softmax(scores / t)
        losses.append(-np.mean(np.log(probabilities[np.arange(len(targets)), targets] + 1e-12)))
    return float(candidates[int(np.argmin(losses))])


def choose_oos_threshold(in_scope_probabilities: np.ndarray, in_scope_targets: np.ndarray, other_index: int,
                         max_in_scope_loss: float) -> float:
    """Highest confidence floor whose cost in in-scope accuracy stays within
    `max_in_scope_loss` (absolute), on out-of-fold probabilities."""
    def in_scope_accuracy(threshold: float) -> float:
        best = in_scope_probabilities.argmax(axis=1)
        kept = in_scope_probabilities.max(axis=1) >= threshold
        return float(np.mean((best == in_scope_targets) & kept & (best != other_index)))

    base = in_scope_accuracy(0.0)
    chosen = 0.0
    for threshold in np.linspace(0.0, 0.95, 96):
        if in_scope_accuracy(float(threshold)) >= base - max_in_scope_loss:
            chosen = float(threshold)
    return round(chosen, 2)


def load_base_examples(directory: Path) -> list[LabelledExample]:
    """The examples the shipped model was trained on (Bitext train + the training part of
    the CLINC150 out-of-scope queries), shipped beside it so that retraining works offline."""
    raw = gzip.decompress((directory / BASE_EXAMPLES_FILE).read_bytes()).decode("utf-8")
    return [LabelledExample(row["text"], row["intent"]) for row in csv.DictReader(io.StringIO(raw))]


def save_base_examples(directory: Path, examples: Sequence[LabelledExample]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "intent"])
    for example in examples:
        writer.writerow([example.text, example.intent])
    # mtime=0: the same examples give the same bytes (no spurious diff in git)
    (directory / BASE_EXAMPLES_FILE).write_bytes(gzip.compress(buffer.getvalue().encode("utf-8"), mtime=0))


def retrain_intents(base: IntentModel, extra: Sequence[LabelledExample], base_examples: Sequence[LabelledExample],
                    config: IntentTrainingConfig | None = None) -> IntentModel:
    """A new intent model from the base examples plus a merchant's labelled tickets; new
    intent names become new classes. The base model's temperature and out-of-scope floor
    are kept (recalibrating would need a cross-validation per retrain)."""
    config = config or IntentTrainingConfig(**{k: v for k, v in base.info.get("config", {}).items()
                                               if k in IntentTrainingConfig.__dataclass_fields__})
    if not extra:
        raise InvalidTrainingData("no labelled examples given")
    examples = [*base_examples, *extra]
    texts = [e.text for e in examples] + gibberish(config.gibberish_examples, config.seed)
    labels = [e.intent for e in examples] + [OTHER] * config.gibberish_examples
    model = fit_linear(texts, labels, base.features.embedding, config)
    model.temperature = base.temperature
    model.oos_threshold = base.oos_threshold
    added = sorted(set(model.labels) - set(base.labels))
    model.info = {**base.info, "retrained_with": len(extra), "added_intents": added}
    return model
