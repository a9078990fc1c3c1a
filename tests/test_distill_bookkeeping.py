"""Distillation's bookkeeping on the pairs and verdicts, through litellm against the stand-in LLM server
(tests/support/fake_llm.py — the one boundary these tests stand in for): the work list's order and limit,
attempts counted on every outcome, every verdict of a reply kept."""

from __future__ import annotations

import json

from memcollab.distill.run import work_list
from support.fake_llm import FakeLLM, Reply
from test_distill import GOOD, distill, seed


def test_pending_pairs_come_before_failed_ones_and_the_limit_holds(bank):
    seed(bank, 3)
    first = sorted(bank.pairs(), key=lambda p: (p.created_at, p.id))[0]
    bank.set_pair(first.id, status="failed", attempts=1, last_error="earlier")
    order = work_list(bank)
    assert [p.status for p in order] == ["pending", "pending", "failed"] and order[-1].id == first.id
    assert [p.id for p in work_list(bank, limit=2)] == [p.id for p in order[:2]]


def test_attempts_are_counted_and_the_summary_says_what_was_considered(bank):
    seed(bank, 2)
    nothing = {"category": "Algebra", "subcategory": "Linear Equations", "constraints": [
        {"when": "using qwen2.5-32b", "enforce": "trust it", "avoid": "llama-3-8b answers"}]}
    with FakeLLM(lambda body: json.dumps(GOOD) if "variant 0" in json.dumps(body) else json.dumps(nothing)) as llm:
        s = distill(bank, llm, concurrency=1)
    assert s["pairs_considered"] == 2 and isinstance(s["seconds"], float) and s["seconds"] >= 0
    by_status = {p.status: p for p in bank.pairs()}
    assert by_status["distilled"].attempts == 1 and by_status["skipped"].attempts == 1
    assert by_status["skipped"].last_error.startswith("no constraint survived validation: ")


def test_every_verdict_of_a_reply_is_kept(bank):
    seed(bank, 2)
    with FakeLLM([json.dumps(GOOD)]) as llm:
        distill(bank, llm, concurrency=1)  # the second pair's constraints merge into the first pair's record
    kinds = sorted(v["verdict"] for v in bank._select("verdicts"))
    assert kinds.count("stored") == 2 and kinds.count("merged") == 2
    mixed = dict(GOOD, constraints=[*GOOD["constraints"], {"when": "the equation is 3x + 7 = 22",
                                                           "enforce": "x equals 5", "avoid": "answering 9.67"}])
    seed(bank, 1, prefix="Solve 5x - 2 = 13")
    with FakeLLM([json.dumps(mixed)]) as llm:
        distill(bank, llm, concurrency=1)
    kinds = sorted(v["verdict"] for v in bank._select("verdicts"))
    assert kinds.count("merged") == 4 and kinds.count("rejected") == 1 and kinds.count("stored") == 2
