"""BM25 (store/bm25.py): the smoothed idf, term frequency normalised by length, folding."""

from __future__ import annotations

import math

import pytest

from memcollab.store.bm25 import B, BM25, K1, tokens


def test_bm25_idf_is_the_smoothed_okapi_form():
    index = BM25(["alpha beta", "alpha gamma", "delta"])
    assert index.idf("alpha") == pytest.approx(math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)))
    assert index.idf("delta") == pytest.approx(math.log(1 + (3 - 1 + 0.5) / (1 + 0.5)))
    assert index.idf("unseen") == pytest.approx(math.log(1 + 3.5 / 0.5))
    # one document, one term: score = idf * (k1 + 1) / (1 + k1) = idf
    assert BM25(["zeta"]).scores("zeta")[0] == pytest.approx(math.log(1 + 0.5 / 1.5))


def test_accented_words_fold_to_ascii():
    assert tokens("Café Ñandú") == tokens("cafe nandu") == ["cafe", "nandu"]


def test_an_empty_index_scores_nothing():
    index = BM25([])
    assert (index.n, index.avgdl) == (0, 0.0)
    assert index.top("anything", 3) == []


def test_bm25_normalises_term_frequency_by_document_length():
    index = BM25(["alpha beta gamma", "alpha"])  # lengths 3 and 1: average 2
    idf = math.log(1 + (2 - 2 + 0.5) / (2 + 0.5))
    long_doc = idf * (K1 + 1) / (1 + K1 * (1 - B + B * 3 / 2))
    short_doc = idf * (K1 + 1) / (1 + K1 * (1 - B + B * 1 / 2))
    assert index.scores("alpha") == {0: pytest.approx(long_doc), 1: pytest.approx(short_doc)}
