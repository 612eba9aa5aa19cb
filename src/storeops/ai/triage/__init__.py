"""Triage of incoming support messages: intent, confidence, urgency, frustration,
out-of-scope detection and language, on CPU and offline.

    from storeops.ai.triage import CustomerHistory, load_default_model

    triage = load_default_model()
    result = triage.classify("where is my parcel?? 3rd time asking", CustomerHistory(contacts_last_7_days=2))
    result.intent, result.confidence, result.urgency, result.frustration, result.language

The shipped model (models/, about 6 MB) is trained by scripts/train_triage.py from the
shared Bitext, CLINC150 and review data; models/metrics.json holds its measured accuracy
(on the held-out test part of bitext_dev.csv: see models/README.md for the protocol).
Merchants add intents with `triage.retrain([(text, intent), ...])`.

Modules: features (TF-IDF), embedding (static MiniLM word pieces), intents (linear model,
confidence, out-of-scope floor), training (fitting, retraining), frustration, urgency,
language, model (`Triage`), splits (the fixed calibration / test split of bitext_dev).
"""

from storeops.ai.triage.frustration import CustomerHistory, MessageSignals, message_signals
from storeops.ai.triage.intents import OTHER
from storeops.ai.triage.language import detect_language
from storeops.ai.triage.model import DEFAULT_MODEL_DIR, Triage, TriageResult, load_default_model, train_triage_model
from storeops.ai.triage.training import (
    IntentTrainingConfig,
    InvalidTrainingData,
    LabelledExample,
    validate_examples,
)
from storeops.ai.triage.urgency import URGENCY_LEVELS

__all__ = [
    "DEFAULT_MODEL_DIR",
    "OTHER",
    "URGENCY_LEVELS",
    "CustomerHistory",
    "IntentTrainingConfig",
    "InvalidTrainingData",
    "LabelledExample",
    "MessageSignals",
    "Triage",
    "TriageResult",
    "detect_language",
    "load_default_model",
    "message_signals",
    "train_triage_model",
    "validate_examples",
]

