"""Classifying an untagged task into (category, subcategory), server-side.

kNN vote: the K nearest tagged tasks and records in the bank vote for their tag, weighted by cosine
similarity (over the in-memory vector matrix, store/vectors.py). The taxonomy's own subcategory descriptions vote too, each with weight TAXONOMY_WEIGHT × its
similarity, so a thin bank still classifies. `confidence` is the winning subcategory's share of the votes.
Below CONFIDENCE_THRESHOLD the answer is the winning *category* only (retrieval then filters at category
level and says so).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .bank import Bank
from .vectors import nearest

K = 15
TAXONOMY_WEIGHT = 0.5
TAXONOMY_K = 5
CONFIDENCE_THRESHOLD = 0.35


@dataclass
class Classification:
    category: str
    subcategory: str | None
    confidence: float


_cache: dict[tuple[int, int], tuple[list[tuple[str, str]], Any]] = {}


def _taxonomy_vectors(embedder: Any, taxonomy: Any) -> tuple[list[tuple[str, str]], Any]:
    key = (id(embedder), id(taxonomy))
    if key not in _cache:
        entries = taxonomy.entries()
        _cache[key] = ([(c, s) for c, s, _ in entries], embedder.encode([text for _, _, text in entries]))
    return _cache[key]


def classify(bank: Bank, embedder: Any, task: str, taxonomy: Any | None = None,
             threshold: float = CONFIDENCE_THRESHOLD, vec: Any = None) -> Classification | None:
    """`vec`: the task's embedding when the caller already has it."""
    vec = embedder.encode([task])[0] if vec is None else vec
    votes: dict[tuple[str, str], float] = defaultdict(float)
    for row, sim in nearest(bank, embedder, vec, K):
        if sim > 0:
            votes[(row["category"], row["subcategory"] or "")] += sim
    if taxonomy is not None:
        tags, mat = _taxonomy_vectors(embedder, taxonomy)
        sims = mat @ vec
        for i in sims.argsort()[::-1][:TAXONOMY_K]:
            if sims[i] > 0:
                votes[tags[i]] += TAXONOMY_WEIGHT * float(sims[i])
    if not votes:
        return None
    total = sum(votes.values())
    (cat, sub), best = max(votes.items(), key=lambda kv: kv[1])
    confidence = best / total
    if confidence >= threshold:
        return Classification(cat, sub or None, round(confidence, 4))
    by_cat: dict[str, float] = defaultdict(float)
    for (c, _), v in votes.items():
        by_cat[c] += v
    cat, v = max(by_cat.items(), key=lambda kv: kv[1])
    return Classification(cat, None, round(v / total, 4))
