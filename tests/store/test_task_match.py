"""store/task_match.py: when two task texts are the same task in other words (issue 21).

The rules one by one (with a similarity above the floor, so only the rule decides), then the calibration set
bench/data/match_set.jsonl through the real packaged embedding model: 0 near-miss merges, recall >= 0.8.
tests/server/test_task_matching.py covers the same decisions through the server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from memcollab.store.task_match import THRESHOLD, anchors, canonical, same_task, tags_agree

ROOT = Path(__file__).resolve().parents[2]
SET = ROOT / "bench" / "data" / "match_set.jsonl"
CLOSE = 0.99  # a similarity every rule below is judged at


def merges(a: str, b: str) -> bool:
    return same_task(a, b, CLOSE) is None


def test_numbers_in_words_and_in_digits_are_one_anchor():
    assert anchors("Tom has four apples and half a pie.").numbers == anchors("Tom has 4 apples and 1/2 a pie.").numbers
    assert anchors("three hundred sixty-one").numbers == {"361"}
    assert anchors("1,000 items, 4.0 kg, the 3rd item").numbers == {"1000", "4", "3"}
    assert anchors("Pick this one.").numbers == frozenset()  # "one" as a pronoun
    assert canonical("How many positive divisors does three hundred sixty have?") == \
        "How many positive divisors does 360 have?"


def test_identifiers_quoted_strings_and_directions_are_anchors():
    a = anchors("Fix `parse_range` so is_palindrome(s) returns 'abc' for --dry-run in utils/batch.py.")
    assert {"parse_range", "is_palindrome", "--dry-run", "utils/batch.py"} <= a.identifiers
    assert "abc" in a.quoted
    assert anchors("Sort the list in descending order.").directions == {"order:descending"}
    assert "negation:not" in anchors("It doesn't scroll.").directions


@pytest.mark.parametrize(("a", "b"), [
    ("How many positive divisors does 360 have?", "How many positive divisors does 350 have?"),
    ("Write is_palindrome(s).", "Write is_anagram(s)."),
    ("Count the letter 'a' in the word.", "Count the letter 'e' in the word."),
    ("Return the largest value of the list.", "Return the smallest value of the list."),
    ("What is 28 * 48?", "What is 28 + 48?"),
    ("Subtract 17 from 45.", "Subtract 45 from 17."),  # numbers in each other's places, order counts
    ("Compute 15 percent of 80.", "What is 80% of 15?"),
    ("Convert 100 degrees Fahrenheit to Celsius.", "Convert 100 degrees Celsius to Fahrenheit."),
    ("Take the first 3 items, then the last 2 items, then the first 4.",
     "Take the first 3 items, then the last 2 items, then the last 4."),  # one word used another number of times
    ("The signup page returns HTTP 403 after I submit the form.",
     "After submitting the form, the login page responds with HTTP 403."),  # another word in the same place
    ("Tom gives half of his 12 marbles to his sister. How many marbles does he have left?",
     "Tom had 12 marbles and gave half of them to his sister. How many marbles does his sister have?"),
    ("Sarah reads 20 pages a day. How many days does a 300-page book take her?",
     "Sarah writes 20 pages a day. How many days does a 300-page book take her?"),
])
def test_near_misses_are_never_merged(a, b):
    assert not merges(a, b), (a, b)
    assert not merges(b, a), (b, a)


@pytest.mark.parametrize(("a", "b"), [
    ("How many positive divisors does 360 have?", "Find the number of positive divisors of three hundred sixty."),
    ("Divide 144 by 12.", "What is 144 divided by 12?"),
    ("Solve the following multiplication: 28 * 48.", "Quick question. What is 28 * 48?"),
    ("What is the least common multiple of 8 and 12?", "Find the least common multiple of 12 and 8."),
    ("A train travels 120 km in 2 hours. What is its average speed?",
     "What is the average speed of a train that covers 120 km in two hours?"),
    ("The sidebar does not scroll to the top on mobile Safari after the window is resized.",
     "Help: On mobile Safari, after resizing the window, the sidebar no longer scrolls to the top."),
    ("`format_bytes` returns '1 KB' instead of '1.0 KB' for the input 1024.",
     "For the input 1024, format_bytes() gives '1 KB' but it should give '1.0 KB'."),
])
def test_paraphrases_are_merged(a, b):
    assert merges(a, b), same_task(a, b, CLOSE)
    assert merges(b, a), same_task(b, a, CLOSE)


def test_the_similarity_floor_and_the_tags():
    a, b = "Divide 144 by 12.", "What is 144 divided by 12?"
    assert same_task(a, b, THRESHOLD - 0.01) is not None and same_task(a, b, THRESHOLD) is None
    assert same_task(a, b, CLOSE, ("Math", "Division"), ("Code", None)) == "tags differ"
    assert same_task(a, b, CLOSE, ("Math", "Division"), (None, None)) is None  # one side untagged
    assert tags_agree(("math", "Division"), ("Math", None)) and not tags_agree(("Math", "A"), ("Math", "B"))


def load_set() -> list[dict]:
    return [json.loads(line) for line in SET.read_text("utf-8").splitlines() if line.strip()]


def test_the_calibration_set_is_its_scripts_output_and_covers_every_kind():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "match_set.py"), "--check"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    items = load_set()
    kinds = Counter(it["kind"] for it in items)
    assert kinds["paraphrase"] >= 200 and sum(v for k, v in kinds.items() if k != "paraphrase") >= 200
    assert {f"near-miss:{k}" for k in ("number", "identifier", "quoted", "direction", "entity", "order",
                                       "operator", "tags")} <= set(kinds)
    assert {it["domain"] for it in items} == {"math", "code", "debug"}
    assert all(it["same"] == (it["kind"] == "paraphrase") for it in items)


def test_the_calibration_set_meets_the_targets():
    """The real packaged model embeds the texts as the server does (bench/bench_match.py's `similarities`)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_match
    finally:
        sys.path.remove(str(ROOT / "bench"))
    items = load_set()
    decided = bench_match.decide(items, bench_match.similarities(items))
    merged = [it for it, d in zip(items, decided) if d is None and not it["same"]]
    assert merged == []
    same = [d for it, d in zip(items, decided) if it["same"]]
    assert sum(d is None for d in same) / len(same) >= 0.8
