"""The retrieval proof on a small slice of real task sets (HumanEval + reasoning-gym families); the full run
with all figures is bench/bench_retrieval.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_retrieval  # noqa: E402
import tasksets  # noqa: E402


def test_targets_hold_on_a_slice(tmp_path):
    bank, test = bench_retrieval.build(tmp_path / "s", per_family=8, families=tasksets.FAMILIES[:10])
    res = bench_retrieval.evaluate(bank, test)
    assert res["caller-tagged"]["precision@3"] >= 0.95
    assert res["server-classified"]["precision@3"] >= 0.85
    assert res["server-classified"]["classification"] >= 0.85
    assert res["global BM25 top-3"]["precision@3"] < 1.0 or res["plain embedding top-3"]["precision@3"] < 1.0


def test_humaneval_keyword_rule():
    assert tasksets.humaneval_subcategory("def f(s: str):\n  '''Return the string reversed'''") == "String Manipulation"
    assert tasksets.humaneval_subcategory("def f(n):\n  '''Is n a prime number?'''") == "Math & Number Functions"
    assert tasksets.humaneval_subcategory("def f(xs):\n  '''Sort the list'''") == "Sorting & Searching"
