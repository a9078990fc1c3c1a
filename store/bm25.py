"""BM25 in memory over one tag's cached records (the read lane's default ranking).

The text analysis follows LanceDB's native full-text index defaults (words, lower case, ASCII folding,
English stop words removed, Snowball English stemming, tokens over 40 characters dropped) and the scoring
is Okapi BM25 with k1 = 1.2, b = 0.75. The statistics (document frequencies, average length) are those of
the hard-filtered set, the records the query is ranked among — the paper's "filter, then rank by textual
similarity" — so an unchanged tag is ranked without touching LanceDB.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter

K1 = 1.2
B = 0.75
MAX_TOKEN = 40
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Lucene's / tantivy's English stop words
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split())

_stems: dict[str, str] = {}
_stem_lock = threading.Lock()
_stemmer = None


def _stem(word: str) -> str:
    global _stemmer
    s = _stems.get(word)
    if s is None:
        with _stem_lock:
            if _stemmer is None:
                import snowballstemmer

                _stemmer = snowballstemmer.stemmer("english")
            s = _stemmer.stemWord(word)
        if len(_stems) < 500_000:
            _stems[word] = s
    return s


def _fold(text: str) -> str:
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii") or text


def tokens(text: str) -> list[str]:
    out = []
    for w in _WORD.findall(_fold(text.lower())):
        if len(w) <= MAX_TOKEN and w not in STOP_WORDS:
            out.append(_stem(w))
    return out


class BM25:
    """An inverted index over a fixed list of documents; `scores(query)` → {doc index: score}."""

    def __init__(self, docs: list[str]):
        self.n = len(docs)
        self.postings: dict[str, list[tuple[int, int]]] = {}
        self.lengths: list[int] = []
        for i, doc in enumerate(docs):
            toks = tokens(doc)
            self.lengths.append(len(toks))
            for term, tf in Counter(toks).items():
                self.postings.setdefault(term, []).append((i, tf))
        self.avgdl = (sum(self.lengths) / self.n) if self.n else 0.0
        self.norm = [K1 * (1 - B + B * dl / self.avgdl) if self.avgdl else K1 for dl in self.lengths]

    def idf(self, term: str) -> float:
        df = len(self.postings.get(term, ()))
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> dict[int, float]:
        out: dict[int, float] = {}
        if not self.n:
            return out
        for term in dict.fromkeys(tokens(query)):
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = self.idf(term)
            for i, tf in posting:
                out[i] = out.get(i, 0.0) + idf * tf * (K1 + 1) / (tf + self.norm[i])
        return out

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """The k best (doc index, score), best first; ties by index (stable)."""
        s = self.scores(query)
        return sorted(s.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
