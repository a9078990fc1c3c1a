"""Small store contracts mutation testing found unguarded: BM25's idf, a token's strength, the taxonomy
file's error, group commit under concurrent callers (real threads, a plain batch function)."""

from __future__ import annotations

import math
import threading
import time

import pytest

from memcollab.store.bm25 import BM25
from memcollab.store.group_commit import GroupCommit
from memcollab.store.taxonomy import load_taxonomy
from memcollab.store.tokens import PREFIX, add_token


def test_bm25_idf_is_the_smoothed_okapi_form():
    index = BM25(["alpha beta", "alpha gamma", "delta"])
    assert index.idf("alpha") == pytest.approx(math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)))
    assert index.idf("delta") == pytest.approx(math.log(1 + (3 - 1 + 0.5) / (1 + 0.5)))
    assert index.idf("unseen") == pytest.approx(math.log(1 + 3.5 / 0.5))
    # one document, one term: score = idf * (k1 + 1) / (1 + k1) = idf
    assert BM25(["zeta"]).scores("zeta")[0] == pytest.approx(math.log(1 + 0.5 / 1.5))


def test_a_token_carries_256_random_bits(bank):
    token = add_token(bank, "ci", "read")
    assert token.startswith(PREFIX)
    assert len(token) == len(PREFIX) + 43  # token_urlsafe(32): 32 bytes, base64url without padding


def test_a_taxonomy_file_that_is_not_a_mapping_says_what_is_expected(tmp_path):
    f = tmp_path / "tax.json"
    f.write_text("[1, 2]")
    with pytest.raises(ValueError) as err:
        load_taxonomy(f)
    assert str(err.value) == f"taxonomy file {f}: expected a mapping with 'domain' or 'domains'"


def test_group_commit_lingers_for_concurrent_callers_and_answers_each():
    batches: list[list[int]] = []
    gate = threading.Event()

    def write(items: list[int]) -> list[int]:
        if not batches:
            gate.wait(60)  # hold the first commit so the other callers queue behind it
        batches.append(list(items))
        return [i * 10 for i in items]

    gc = GroupCommit(write, linger=0.05)
    results: dict[int, int] = {}

    def caller(i: int) -> None:
        results[i] = gc.submit(i)
        results[100 + i] = gc.submit(100 + i)  # a second write while others are still active

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(8)]
    deadline = time.monotonic() + 60
    for t in threads:
        t.start()
    while len(gc._queue) < 7 and time.monotonic() < deadline:  # the first caller commits, seven queue behind it
        time.sleep(0.005)
    gate.set()
    deadline = time.monotonic() + 60
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "callers still waiting for their commit"
    assert results == {i: i * 10 for i in [*range(8), *range(100, 108)]}
    assert sorted(i for b in batches for i in b) == [*range(8), *range(100, 108)]
    assert max(len(b) for b in batches) > 1 and gc.batches == len(batches) < 16
