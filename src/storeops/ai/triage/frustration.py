"""Frustration score 0-1 of a customer message, from its text and the customer's history.

score = sigmoid(review model + message signals + history), all in log-odds:

- review model: logistic regression on word 1-2-gram TF-IDF, fitted on 80% of the
  13,434 real shop reviews in reviews_train.csv with 1-2 stars as "frustrated" (10% of
  them). It reads general negativity ("disappointed", "poor quality", "sent it back").
  Alone it gives a neutral support question about 0.1.
- message signals, weights set by hand (reviews are not support messages: in reviews
  "!!!" and CAPS mostly mean delight, so they cannot be learned there): anger words,
  complaint words (half weight: "complaint", "damaged", "missing", "late"), profanity,
  shouting in capitals, "!!"/"?!" runs, repetition ("again", "third time", "still"),
  and threats (chargeback, dispute, lawyer, BBB, bad review, "never again"): the
  strongest sign a merchant has that a ticket is about to cost money.
- history: earlier contacts from the same customer in the last 7 days, order exceptions
  still open, days the newest shipment is past its promised date.

The weights are priors, not measurements: only the review part is fitted. What is
measured (scripts/train_triage.py, models/metrics.json): the message score's ROC AUC on
held-out reviews, and on bitext_dev how it separates the "offensive" Bitext variants and
complaints from the rest.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from storeops.ai.triage.features import TfidfBlock, normalize


@dataclass(frozen=True)
class CustomerHistory:
    """What we know about the customer beyond this message (all optional)."""

    contacts_last_7_days: int = 0  # earlier tickets or messages, not counting this one
    open_exceptions: int = 0  # order exceptions still open: failed payment, stockout, address problem...
    days_shipment_late: int = 0  # newest undelivered shipment, days past its promised delivery date


def _words(*groups: str) -> frozenset[str]:
    return frozenset(w for g in groups for w in g.split())


ANGER = _words(
    "angry furious livid outraged upset annoyed frustrated frustrating fed disgusted disgusting disappointed "
    "disappointing unacceptable ridiculous absurd outrageous terrible horrible awful worst pathetic useless "
    "incompetent rubbish garbage joke scam scammed scammers fraud fraudulent stolen stealing thieves liars lied "
    "lying ripped rip-off ripoff unprofessional appalling shocking shameful disgrace nightmare hopeless clueless "
    "ignored ignoring unhelpful rude horrendous dreadful inexcusable worthless waste wasted")
# Dissatisfaction short of anger: half the weight of ANGER.
COMPLAINT = _words("complaint complaints complain complaining complained dissatisfied unhappy unsatisfied "
                   "poor bad wrong broken damaged faulty defective missing late delayed lost refused")
PROFANITY = _words("fuck fucking fucked fuckin shit shitty crap crappy damn damned goddamn bloody hell wtf "
                   "bullshit bs ass asshole idiots idiot moron morons stupid sucks")
POLITE = _words("please thanks thank appreciate appreciated kindly grateful regards")
_THREATS = [
    r"charge ?backs?", r"dispute", r"disputing", r"lawyers?", r"attorneys?", r"solicitors?", r"\bsue\b", r"suing",
    r"legal action", r"small claims", r"court", r"\bbbb\b", r"better business bureau", r"trading standards",
    r"consumer protection", r"attorney general", r"report (?:you|this|your)", r"bad review", r"negative review",
    r"(?:1|one)[- ]star", r"trustpilot", r"yelp", r"(?:all over )?social media", r"never (?:again|order|buy|shop)",
    r"call(?:ing)? my bank", r"contact(?:ing)? my bank", r"cancel(?:ling)? my card", r"paypal claim",
]
THREAT = re.compile(r"\b(?:" + "|".join(_THREATS) + r")\b", re.IGNORECASE)
_REPEATS = [
    r"again", r"still", r"(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time", r"how many times",
    r"(?:several|multiple|many) times", r"already (?:asked|contacted|emailed|called|wrote|written|told)",
    r"no (?:one|body) (?:has )?(?:answered|replied|responded|got back)", r"nobody", r"no response", r"no reply",
    r"(?:weeks|days) (?:ago|now|later)", r"haven'?t (?:heard|received|got)", r"never (?:received|arrived|got)",
]
REPEAT = re.compile(r"\b(?:" + "|".join(_REPEATS) + r")\b", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)?")
_LETTERS = re.compile(r"[A-Za-z]")
_BANG_RUN = re.compile(r"[!?]*![!?]+|\?{2,}")


@dataclass(frozen=True)
class MessageSignals:
    anger_words: int = 0
    complaint_words: int = 0
    profanity: int = 0
    threats: tuple[str, ...] = ()
    shouting: float = 0.0  # share of letters in capitals, 0 when the message is too short to tell
    punctuation_runs: int = 0
    repeat_phrases: int = 0
    repeated_words: int = 0
    polite: bool = False

    @property
    def threat(self) -> bool:
        return bool(self.threats)


def message_signals(text: str) -> MessageSignals:
    lowered = text.lower()
    tokens = _TOKEN.findall(lowered)
    letters = _LETTERS.findall(text)
    shouting = sum(c.isupper() for c in letters) / len(letters) if len(letters) >= 8 else 0.0
    counts = Counter(t for t in tokens if len(t) > 3)
    return MessageSignals(
        anger_words=sum(t in ANGER for t in tokens),
        complaint_words=sum(t in COMPLAINT for t in tokens),
        profanity=sum(t in PROFANITY for t in tokens),
        threats=tuple(sorted({m.group(0).lower() for m in THREAT.finditer(text)})),
        shouting=shouting,
        punctuation_runs=len(_BANG_RUN.findall(text)),
        repeat_phrases=len(REPEAT.findall(text)),
        repeated_words=sum(1 for c in counts.values() if c >= 3),
        polite=any(t in POLITE for t in tokens),
    )


def signals_logit(s: MessageSignals) -> float:
    """Hand-set log-odds for the message signals (see the module docstring)."""
    logit = 0.8 * min(s.anger_words, 3) + 0.4 * min(s.complaint_words, 3) + 1.0 * min(s.profanity, 2)
    if s.threats:
        logit += 2.0 + 0.5 * min(len(s.threats) - 1, 2)
    if s.shouting >= 0.6:
        logit += 1.0
    elif s.shouting >= 0.3:
        logit += 0.4
    logit += 0.5 * min(s.punctuation_runs, 2) + 0.5 * min(s.repeat_phrases, 3) + 0.3 * min(s.repeated_words, 2)
    if s.polite and not (s.anger_words or s.profanity or s.threats):
        logit -= 0.3
    return logit


def history_logit(h: CustomerHistory | None) -> float:
    if h is None:
        return 0.0
    return (0.6 * min(max(h.contacts_last_7_days, 0), 3) + 0.5 * min(max(h.open_exceptions, 0), 2)
            + 0.25 * min(max(h.days_shipment_late, 0), 6))


@dataclass
class ReviewModel:
    """Log-odds that a text reads like a 1-2 star review."""

    block: TfidfBlock
    coef: np.ndarray
    intercept: float
    info: dict[str, object] = field(default_factory=dict)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        matrix = self.block.transform([normalize(t) for t in texts])
        return np.asarray(matrix @ self.coef, dtype=np.float64).ravel() + self.intercept

    def save(self, path: Path) -> None:
        arrays: dict[str, Any] = {"coef": self.coef.astype(np.float32), "intercept": np.array(self.intercept),
                                  **self.block.to_arrays("word")}
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: Path) -> ReviewModel:
        with np.load(path, allow_pickle=False) as arrays:
            return cls(TfidfBlock.from_arrays("word", "word", arrays), np.asarray(arrays["coef"], dtype=np.float32),
                       float(arrays["intercept"]))


@dataclass
class FrustrationScorer:
    reviews: ReviewModel

    def message_logits(self, texts: Sequence[str], signals: Sequence[MessageSignals] | None = None) -> np.ndarray:
        base = self.reviews.logits(texts)
        signals = signals if signals is not None else [message_signals(t) for t in texts]
        return np.array([b + signals_logit(s) for b, s in zip(base, signals, strict=True)])

    def scores(self, texts: Sequence[str], histories: Sequence[CustomerHistory | None] | None = None,
               signals: Sequence[MessageSignals] | None = None) -> list[float]:
        logits = self.message_logits(texts, signals)
        histories = histories if histories is not None else [None] * len(texts)
        out = []
        for text, logit, history in zip(texts, logits, histories, strict=True):
            if not text.strip():
                logit = self.reviews.intercept  # no words: only the base rate and the history speak
            out.append(round(_sigmoid(float(logit) + history_logit(history)), 4))
        return out


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
