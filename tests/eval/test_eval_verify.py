"""Verifiers (eval/verify.py): code runs in a limited child process, never in the harness; answers are
compared with math-verify; gym tasks are scored by their family. Real subprocesses, real packages."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from memcollab.eval.tasks import Task, gym_dataset, humaneval_canonical, load_tasks
from memcollab.eval.verify import extract_answer, math_equal, run_program, verify


@pytest.fixture(scope="module")
def humaneval():
    return load_tasks("humaneval", limit=3)[0]


def code_task(tests: str, entry: str | None = None) -> Task:
    return Task("jsonl/t", "write it", None, None, "code", {"tests": tests, "entry_point": entry})


def block(code: str) -> str:
    return f"Here you go:\n```python\n{code}\n```\n"


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The verifier's temp dirs go under a private parent, so other processes' files do not count."""
    parent = tmp_path / "tmp"
    parent.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(parent))
    return parent


def test_humaneval_canonical_passes_as_body_and_as_full_function(humaneval):
    for t in humaneval:
        body = humaneval_canonical(t)
        assert verify(t, body).correct, t.id
        assert verify(t, block(t.data["prompt"] + body)).correct, t.id  # the model repeats the whole function
    t = humaneval[0]
    dedented = "\n".join(line[4:] for line in humaneval_canonical(t).splitlines())
    assert verify(t, block(dedented)).correct  # a body the model gave without indentation


def test_humaneval_wrong_fails_with_the_failing_assertion(humaneval):
    t = humaneval[0]
    v = verify(t, block("def has_close_elements(numbers, threshold):\n    return True"))
    assert not v.correct
    assert v.feedback.startswith("AssertionError")
    assert "assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False" in v.feedback
    assert v.answer.startswith("def has_close_elements")
    v = verify(t, block("def has_close_elements(numbers, threshold):\n    return numbers[99]"))
    assert not v.correct and v.feedback.startswith("IndexError") and "assert candidate(" in v.feedback
    v = verify(humaneval[1], block("def separate_paren_groups(s)\n    return []"))
    assert not v.correct and v.feedback.startswith("SyntaxError")
    assert not verify(t, "I don't know").correct  # prose is not code
    assert verify(t, "").feedback.startswith("no code found")


def test_exit_before_tests_is_not_a_pass(humaneval):
    t = humaneval[0]
    v = verify(t, block("import sys\nsys.exit(0)\ndef has_close_elements(numbers, threshold):\n    return False"))
    assert not v.correct and "SystemExit" in v.feedback
    v = verify(t, block("import os\nos._exit(0)"))
    assert not v.correct and "exited (code 0) before the tests finished" in v.feedback
    ok = verify(t, block("def has_close_elements(numbers, threshold):\n"
                         "    return any(abs(a - b) < threshold for i, a in enumerate(numbers)\n"
                         "               for j, b in enumerate(numbers) if i != j)\n"
                         "if __name__ == '__main__':\n    raise SystemExit(1)\n"))
    assert ok.correct  # a __main__ block does not run


def test_infinite_loop_is_killed_and_counted_as_failure(private_tmp):
    v = verify(code_task("assert f() == 1", "f"), block("def f():\n    while True:\n        pass"), timeout=1.5)
    assert not v.correct and v.feedback.startswith("timed out after 1.5 s")
    assert list(private_tmp.iterdir()) == []  # its temp dir was removed


def test_memory_hog_is_stopped_and_counted_as_failure():
    hog = block("def f():\n    keep = []\n    while True:\n        keep.append(bytearray(10_000_000))")
    v = verify(code_task("assert f() == 1", "f"), hog, timeout=20, memory_mb=256)
    assert not v.correct and "memory" in v.feedback and "256 MB" in v.feedback
    v = verify(code_task("assert len(f()) > 0", "f"), block("def f():\n    return bytearray(2 * 1024**3)"),
               memory_mb=256)
    assert not v.correct and v.feedback.startswith("MemoryError")


def test_files_stay_inside_the_temp_dir_and_it_is_removed(tmp_path, monkeypatch, private_tmp):
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)  # the harness's cwd: the child must not write here either
    relative = block("def f():\n    open('note.txt', 'w').write('hi')\n    return open('note.txt').read()")
    assert verify(code_task("assert f() == 'hi'", "f"), relative).correct  # writing inside its own dir works
    escapes = [
        "import os\nos.chdir('..')\nopen('escaped.txt', 'w').write('x')",
        f"open({str(outside / 'abs.txt')!r}, 'w').write('x')",
        "import os\nos.makedirs('../escaped-dir')",
        "import os\nos.symlink('/tmp', 'link')\nopen('link/escaped-via-link.txt', 'w').write('x')",
        f"import shutil\nshutil.rmtree({str(outside)!r})",
        "import os\nos.system('touch /tmp/escaped-by-shell.txt')",
        "import subprocess\nsubprocess.run(['touch', 'escaped-by-process.txt'])",
        "import os\nif os.fork() == 0:\n    open('/tmp/escaped-by-fork.txt', 'w').write('x')",
    ]
    for code in escapes:
        v = verify(code_task("assert True"), block(code))
        assert not v.correct and "PermissionError" in v.feedback, (code, v.feedback)
    assert outside.is_dir() and list(outside.iterdir()) == []
    assert list(private_tmp.iterdir()) == []  # nothing beside the temp dirs, and those were removed
    for name in ("escaped-by-shell.txt", "escaped-by-fork.txt", "escaped-via-link.txt"):
        assert not (Path("/tmp") / name).exists()


def test_no_secrets_in_the_child_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-the-child")
    ok = verify(code_task("import os\nassert 'OPENAI_API_KEY' not in os.environ\n"
                          "assert os.environ['HOME'] == os.getcwd() == os.environ['TMPDIR']"), block("x = 1"))
    assert ok.correct, ok.feedback


def test_run_program_reports_test_line_not_function_line():
    passed, feedback = run_program("def f(x):\n    return 1 / x\n\nassert f(1) == 1\nassert f(0) == 0\n", 4)
    assert not passed and feedback == "ZeroDivisionError: division by zero (at `assert f(0) == 0`)"


def test_user_code_task_with_entry_point_alias():
    t = code_task("assert add(1, 2) == 3\nassert candidate(2, 2) == 4", "add")
    assert verify(t, block("def add(a, b):\n    return a + b")).correct
    v = verify(t, block("def plus(a, b):\n    return a + b"))
    assert not v.correct and "NameError" in v.feedback and "add" in v.feedback


@pytest.mark.parametrize(("gold", "answer", "same"), [
    ("0.5", "1/2", True), ("\\frac{1}{2}", "0.5", True), ("1/2", "\\frac{1}{2}", True), ("72", "72.0", True),
    ("1,000", "1000", True), ("x+1", "1+x", True), ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}", True),
    ("Paris", "paris.", True), ("3", "4", False), ("3\\sqrt{3}", "3", False), ("\\frac{1}{2}", "2", False),
])
def test_math_equivalences(gold, answer, same):
    assert math_equal(gold, answer) is same


def test_answer_tasks_extract_and_never_reveal_the_reference():
    t = Task("jsonl/a", "What is 36/2?", None, None, "answer", {"answer": "18"})
    assert extract_answer(t, "work\n**Final answer:** $18$.") == "$18$."
    assert extract_answer(t, "so \\boxed{\\frac{36}{2}} it is") == "\\frac{36}{2}"
    assert extract_answer(t, "Final answer: 17\nFinal answer: 18\nsorry") == "18"
    assert extract_answer(t, "thinking...\n18") == "18"
    for reply in ("Final answer: 18", "\\boxed{18}", "Final answer: 36/2"):
        assert verify(t, reply).correct, reply
    wrong = verify(t, "Final answer: 17")
    assert not wrong.correct and wrong.feedback == "incorrect" and "18" not in wrong.feedback
    assert verify(t, "").feedback.startswith("no final answer")


def test_gym_tasks_scored_by_the_family():
    tasks, _ = load_tasks("reasoning-gym:basic_arithmetic,tower_of_hanoi", limit=4, seed=3)
    for t in tasks:
        d = t.data
        entry = gym_dataset(d["family"], d["seed"], d["size"])[d["index"]]
        assert verify(t, f"Let me work it out.\nFinal answer: {entry['answer']}").correct, t.id
        wrong = verify(t, "Final answer: 12345")
        assert not wrong.correct and wrong.feedback == "incorrect"
    hanoi = tasks[-1]
    assert "\n" in extract_answer(hanoi, "Final answer:\nMove disk 1 from Peg 1 to Peg 3\nMove disk 2 ...")


@pytest.mark.slow
def test_every_humaneval_canonical_solution_passes():
    tasks, _ = load_tasks("humaneval")
    failed = [t.id for t in tasks if not verify(t, humaneval_canonical(t)).correct]
    assert failed == []
