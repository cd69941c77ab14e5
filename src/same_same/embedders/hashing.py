"""The default ``local`` text embedder: feature hashing, no model, no heavy dependency.

Words (lightly stemmed), word bigrams and character trigrams are hashed into a
fixed number of signed buckets with sublinear term frequency, then L2-normalised.
Unlike TF-IDF it needs no corpus statistics, so a vector never changes once
written and ingest and query processes agree without sharing state.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..normalization import normalized_rows
from ..records import EmbeddingSpace
from .base import EmbedderBase, EmbedderOptions

MODEL_NAME = "hashing-v1"
DEFAULT_DIM = 512

_WORD = re.compile(r"[^\W_]+", re.UNICODE)

STOPWORDS = frozenset(
    """a an and are as at be but by for from has have he her his i if in into is it its
    me my of on or our she so than that the their them then there these they this to
    was we were what when which who will with you your""".split()
)

_FEATURE_WEIGHTS = {"w": 1.0, "b": 0.5, "c": 0.25}


def stem(word: str) -> str:
    """A deliberately small suffix stripper: 'sunsets' -> 'sunset', 'running' -> 'runn'."""
    for suffix in ("ingly", "ings", "ing", "edly", "ies", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def tokenize(text: str) -> list[str]:
    """Lowercased, stemmed content words."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def extract_features(text: str) -> Counter[str]:
    words = tokenize(text)
    features: Counter[str] = Counter()
    for word in words:
        features["w:" + word] += 1
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            features["c:" + padded[i : i + 3]] += 1
    for left, right in zip(words, words[1:], strict=False):
        features[f"b:{left} {right}"] += 1
    return features


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    digest = zlib.crc32(feature.encode("utf-8"))
    sign = 1.0 if (digest >> 31) & 1 else -1.0
    return digest % dim, sign


class HashingEmbedder(EmbedderBase):
    name = "local"

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        self.dim = dim
        self._space = EmbeddingSpace("local", MODEL_NAME, "", dim)

    @classmethod
    def from_options(cls, options: EmbedderOptions) -> HashingEmbedder:
        # A recorded space of an older/other size still reloads with its own dim.
        return cls(dim=options.dim or DEFAULT_DIM)

    @property
    def space(self) -> EmbeddingSpace:
        return self._space

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, count in extract_features(text).items():
                index, sign = _bucket(feature, self.dim)
                weight = _FEATURE_WEIGHTS[feature[0]] * (1.0 + math.log(count))
                out[row, index] += sign * weight
        return normalized_rows(out)
