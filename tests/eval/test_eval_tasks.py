"""Task sources for build/eval: HumanEval, reasoning-gym, the user's JSONL (eval/tasks.py)."""

from __future__ import annotations

import json

import pytest

from memcollab.eval.tasks import (
    TaskSourceError,
    answer_format,
    humaneval_tag,
    load_tasks,
)
from memcollab.store.taxonomy import load_taxonomy


def test_humaneval_all_164_tagged_with_code_taxonomy_names():
    tasks, problems = load_tasks("humaneval")
    assert problems == []
    assert len(tasks) == 164 and len({t.id for t in tasks}) == 164
    assert tasks[0].id == "humaneval/HumanEval/0" and tasks[-1].id == "humaneval/HumanEval/163"
    taxonomy = load_taxonomy(None)
    for t in tasks:
        assert t.kind == "code" and t.data["entry_point"] and "def check" in t.data["test"]
        assert "def check(candidate)" not in t.text  # the tests are not shown to the model
        assert taxonomy.find(t.category, t.subcategory) == (t.category, t.subcategory), t.id
    assert len({t.category for t in tasks}) >= 5  # the rule spreads problems over the taxonomy
    assert [t.id for t in load_tasks("humaneval", limit=3)[0]] == [f"humaneval/HumanEval/{i}" for i in range(3)]


def test_humaneval_rule_order():
    assert humaneval_tag("def f(s):\n    '''Is s a palindrome string?'''") == ("String Manipulation",
                                                                             "Palindromes & Reversal")
    assert humaneval_tag("from typing import List\ndef f(x):\n    '''Return x squared'''") == (
        "Math & Number Functions", "Arithmetic & Rounding")  # the import's "List" does not count
    assert humaneval_tag("def f(xs):\n    '''Sort the list'''") == ("Sorting & Searching", "Custom Sorting")


def test_gym_deterministic_and_spread_over_families():
    tasks, problems = load_tasks("reasoning-gym:basic_arithmetic,spell_backward,gcd", limit=7, seed=5)
    assert problems == []
    assert [t.category for t in tasks] == ["basic_arithmetic"] * 3 + ["spell_backward"] * 2 + ["gcd"] * 2
    assert tasks[0].id == "rg/basic_arithmetic/5/0" and tasks[3].id == "rg/spell_backward/5/0"
    assert all(t.kind == "gym" for t in tasks)
    again, _ = load_tasks("reasoning-gym:basic_arithmetic,spell_backward,gcd", limit=7, seed=5)
    assert [t.text for t in again] == [t.text for t in tasks]
    other, _ = load_tasks("reasoning-gym:basic_arithmetic,spell_backward,gcd", limit=7, seed=6)
    assert [t.text for t in other] != [t.text for t in tasks]
    assert len(load_tasks("reasoning-gym:gcd")[0]) == 50


def test_unknown_sources_raise_one_line_errors(tmp_path):
    for spec, words in (("nonsense", "unknown task source"), ("reasoning-gym:no_such_family", "no_such_family"),
                        (f"jsonl:{tmp_path / 'missing.jsonl'}", "not found"), (f"jsonl:{tmp_path}", "not a file")):
        with pytest.raises(TaskSourceError) as err:
            load_tasks(spec)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_jsonl_good_and_bad_lines_reported_with_numbers(tmp_path):
    path = tmp_path / "tasks.jsonl"
    lines = [
        json.dumps({"task": "What is 1/2 + 0?", "answer": "0.5", "category": "Prealgebra",
                    "subcategory": "Fractions & Decimals", "id": "half"}),      # 1 ok
        "{not json",                                                             # 2
        json.dumps({"task": "no reference"}),                                    # 3
        json.dumps({"task": "", "answer": "1"}),                                 # 4
        json.dumps({"task": "x", "answer": ["a"]}),                              # 5
        json.dumps({"task": "x", "tests": []}),                                  # 6
        json.dumps(["a list"]),                                                  # 7
        "",                                                                      # blank: skipped silently
        json.dumps({"task": "Write add(a, b).", "tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"],
                    "entry_point": "add"}),                                      # 9 ok
        json.dumps({"task": "dup", "answer": 2, "id": "half"}),                  # 10 duplicate id
        json.dumps({"task": "x", "answer": "1", "tests": "assert True"}),        # 11 both
        json.dumps({"task": "x", "answer": "1", "subcategory": "S"}),            # 12 sub without category
        json.dumps({"task": "x", "tests": "assert f(1)", "entry_point": "f; import os"}),  # 13
        json.dumps({"task": "Six times seven?", "answer": 42}),                  # 14 ok, id from content
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tasks, problems = load_tasks(f"jsonl:{path}")
    assert [t.kind for t in tasks] == ["answer", "code", "answer"]
    half, add, six = tasks
    assert half.id == "jsonl/half" and half.data == {"answer": "0.5"}
    assert (half.category, half.subcategory) == ("Prealgebra", "Fractions & Decimals")
    assert add.data == {"tests": "assert add(1, 2) == 3\nassert add(0, 0) == 0", "entry_point": "add"}
    assert six.data == {"answer": "42"} and six.id.startswith("jsonl/") and len(six.id) == len("jsonl/") + 16
    assert [p.split(":")[0] for p in problems] == [f"tasks.jsonl line {n}" for n in (2, 3, 4, 5, 6, 7, 10, 11, 12, 13)]
    assert "not valid JSON" in problems[0]
    assert 'missing "answer" or "tests"' in problems[1]
    assert "duplicate id 'half' (first on line 1)" in problems[6]
    # ids from content are stable across loads; --limit keeps the first valid ones
    assert load_tasks(f"jsonl:{path}")[0][2].id == six.id
    assert [t.id for t in load_tasks(f"jsonl:{path}", limit=2)[0]] == [half.id, add.id]


def test_answer_format_names_what_extraction_looks_for():
    code, _ = load_tasks("humaneval", limit=1)
    assert "```python" in answer_format(code[0]) and "has_close_elements" in answer_format(code[0])
    gym, _ = load_tasks("reasoning-gym:gcd", limit=1)
    assert "Final answer:" in answer_format(gym[0])
