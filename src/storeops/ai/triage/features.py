"""Text features for triage: TF-IDF over words and characters, written out here rather
than taken from scikit-learn so that the shipped model is plain arrays (no pickle) and
classification needs only numpy and scipy.

The arithmetic is scikit-learn's `TfidfVectorizer(sublinear_tf=True)` (smooth idf,
l2-normalised rows): word 1-2-grams with the `\\b\\w\\w+\\b` token pattern, and
`char_wb` n-grams (each whitespace-separated word padded with one space on each side).
Character n-grams are what make the model robust to the typos the Bitext data is full
of ("cancle", "regisger", "sak an agentz").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

_WORD = re.compile(r"(?u)\b\w\w+\b")
_SPACES = re.compile(r"\s\s+")
_CACHE_LIMIT = 200_000


def normalize(text: str) -> str:
    return _SPACES.sub(" ", text.lower())


def word_ngrams(text: str, max_n: int) -> list[str]:
    tokens = _WORD.findall(text)
    grams = list(tokens)
    for n in range(2, max_n + 1):
        grams.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, min_n: int, max_n: int) -> list[str]:
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        length = len(padded)
        for n in range(min_n, max_n + 1):
            if n >= length:
                # as scikit-learn: a padded word no longer than n is one gram, counted once
                grams.append(padded)
                break
            grams.extend(padded[i:i + n] for i in range(length - n + 1))
    return grams


@dataclass
class TfidfBlock:
    """One vectorizer: `kind` is "word" (n-grams 1..max_n) or "char" (min_n..max_n)."""

    kind: str
    min_n: int
    max_n: int
    vocabulary: dict[str, int]
    idf: np.ndarray
    _cache: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    def _columns(self, text: str) -> list[int]:
        vocab = self.vocabulary
        if self.kind == "word":
            return [c for c in map(vocab.get, word_ngrams(text, self.max_n)) if c is not None]
        # Character n-grams never cross a word boundary: cache each word's columns (support
        # messages reuse a small vocabulary, so the cache makes this 3-4x faster).
        cache = self._cache
        out: list[int] = []
        for word in text.split():
            cached = cache.get(word)
            if cached is None:
                grams = char_wb_ngrams(word, self.min_n, self.max_n)
                cached = tuple(c for c in map(vocab.get, grams) if c is not None)
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[word] = cached
            out.extend(cached)
        return out

    def analyze(self, text: str) -> list[str]:
        if self.kind == "word":
            return word_ngrams(text, self.max_n)
        return char_wb_ngrams(text, self.min_n, self.max_n)

    @classmethod
    def fit(cls, texts: Sequence[str], kind: str, min_n: int, max_n: int, min_df: int = 2) -> TfidfBlock:
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(_analyze(kind, min_n, max_n, normalize(text))))
        terms = sorted(term for term, count in df.items() if count >= min_df)
        n_docs = len(texts)
        idf = np.array([math.log((1 + n_docs) / (1 + df[t])) + 1.0 for t in terms], dtype=np.float32)
        return cls(kind, min_n, max_n, {t: i for i, t in enumerate(terms)}, idf)

    def transform(self, normalized_texts: Sequence[str]) -> sp.csr_matrix:
        rows, columns, values = self.entries(normalized_texts)
        return sp.csr_matrix((values, (rows, columns)), shape=(len(normalized_texts), len(self.vocabulary)))

    def entries(self, normalized_texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, value) of the non-zero TF-IDF entries, rows l2-normalised. Built
        with plain arrays: scipy's sparse operations cost ~1 ms per call in overhead,
        which is the whole budget of one message."""
        lengths: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        for text in normalized_texts:
            row = Counter(self._columns(text))
            lengths.append(len(row))
            columns.extend(row.keys())
            counts.extend(row.values())
        column_array = np.asarray(columns, dtype=np.int64)
        values = (np.log(np.asarray(counts, dtype=np.float32)) + 1.0) * self.idf[column_array]
        row_array = np.repeat(np.arange(len(lengths)), lengths)
        norms = np.sqrt(np.bincount(row_array, weights=values * values, minlength=len(lengths)))
        values = values / norms[row_array] if values.size else values
        return row_array, column_array, values.astype(np.float32)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        terms = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {f"{prefix}_terms": np.array(terms, dtype=str), f"{prefix}_idf": self.idf,
                f"{prefix}_config": np.array([self.min_n, self.max_n], dtype=np.int32)}

    @classmethod
    def from_arrays(cls, kind: str, prefix: str, arrays: Any) -> TfidfBlock:
        terms = [str(t) for t in arrays[f"{prefix}_terms"]]
        min_n, max_n = (int(v) for v in arrays[f"{prefix}_config"])
        return cls(kind, min_n, max_n, {t: i for i, t in enumerate(terms)},
                   np.asarray(arrays[f"{prefix}_idf"], dtype=np.float32))


def _analyze(kind: str, min_n: int, max_n: int, text: str) -> list[str]:
    return word_ngrams(text, max_n) if kind == "word" else char_wb_ngrams(text, min_n, max_n)


@dataclass
class TextFeatures:
    """Word and character TF-IDF, side by side, plus (optionally) a dense sentence vector
    from `StaticEmbedding`, scaled by `embedding_weight`."""

    blocks: list[TfidfBlock]
    embedding: Any = None  # StaticEmbedding | None; Any keeps this module free of a cycle
    embedding_weight: float = 0.0

    @property
    def n_features(self) -> int:
        dense = self.embedding.dim if self.embedding is not None and self.embedding_weight else 0
        return sum(len(b.vocabulary) for b in self.blocks) + dense

    def transform(self, texts: Iterable[str]) -> sp.csr_matrix:
        normalized = [normalize(t) for t in texts]
        rows, columns, values = [], [], []
        offset = 0
        for block in self.blocks:
            r, c, v = block.entries(normalized)
            rows.append(r)
            columns.append(c + offset)
            values.append(v)
            offset += len(block.vocabulary)
        if self.embedding is not None and self.embedding_weight:
            dense = self.embedding.sentence_vectors(normalized) * self.embedding_weight
            r, c = np.nonzero(dense)
            rows.append(r)
            columns.append(c + offset)
            values.append(dense[r, c].astype(np.float32))
            offset += self.embedding.dim
        return sp.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))),
                             shape=(len(normalized), offset), dtype=np.float32)

    @classmethod
    def fit(cls, texts: Sequence[str], *, word_max_n: int = 2, char_range: tuple[int, int] = (2, 5),
            min_df: int = 2, embedding: Any = None, embedding_weight: float = 0.0) -> TextFeatures:
        blocks = [TfidfBlock.fit(texts, "word", 1, word_max_n, min_df),
                  TfidfBlock.fit(texts, "char", char_range[0], char_range[1], min_df)]
        return cls(blocks, embedding, embedding_weight)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {**self.blocks[0].to_arrays("word"), **self.blocks[1].to_arrays("char")}
        arrays["embedding_weight"] = np.array(self.embedding_weight, dtype=np.float32)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Any, embedding: Any = None) -> TextFeatures:
        blocks = [TfidfBlock.from_arrays("word", "word", arrays), TfidfBlock.from_arrays("char", "char", arrays)]
        return cls(blocks, embedding, float(arrays["embedding_weight"]))
