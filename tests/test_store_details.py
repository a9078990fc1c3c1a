"""Small store contracts mutation testing found unguarded: BM25's idf, a token's strength, the taxonomy
file's error, group commit under concurrent callers (tasks in one event loop, a plain batch function)."""

from __future__ import annotations

import math
import threading

import anyio
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


@pytest.mark.anyio
async def test_group_commit_lingers_for_concurrent_callers_and_answers_each():
    batches: list[list[int]] = []
    gate = threading.Event()

    def write(items: list[int]) -> list[int]:  # in a worker thread
        if not batches:
            gate.wait(60)  # hold the first commit so the other callers queue behind it
        batches.append(list(items))
        return [i * 10 for i in items]

    gc = GroupCommit(write, linger=0.05)
    results: dict[int, int] = {}

    async def caller(i: int) -> None:
        results[i] = await gc.submit(i)
        results[100 + i] = await gc.submit(100 + i)  # a second write while others are still active

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(caller, i)
            while len(gc._queue) < 7:  # the first caller commits, seven queue behind it
                await anyio.sleep(0.005)
            gate.set()
    assert results == {i: i * 10 for i in [*range(8), *range(100, 108)]}
    assert sorted(i for b in batches for i in b) == [*range(8), *range(100, 108)]
    assert batches[0] == [0] and set(range(1, 8)) <= set(batches[1])  # the seven queued went together
    assert len(batches) == gc.batches <= 4  # sixteen writes, at most four commits
