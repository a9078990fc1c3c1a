"""`memcollab contrast`: tasks one model saw are answered by other models, judged, submitted over MCP, paired.

The LLM provider is the stand-in (tests/support/fake_llm.py): a local OpenAI-compatible HTTP server with
scripted replies, reached through litellm exactly as a real provider is. It is the only stand-in: the store
is a real LanceDB store in tmp_path, the submissions go through a real MCP client to a real `memcollab serve`
subprocess over stdio, and the command is the real CLI (in process, or as a subprocess for Ctrl-C).

The stand-in answers a task with the answer in ANSWERS for its model (the truth for a model not listed), and
as the judge it says "correct" exactly when the fenced final answer is the task's TRUTH.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import MEMCOLLAB
from support.fake_llm import FakeLLM, Reply, last_user_message

from memcollab.eval.contrast import AGENT, model_key, select_tasks
from memcollab.eval.judge import JUDGE_PROMPT_VERSION
from memcollab.server.cli import main as cli_main
from memcollab.store.bank import Bank
from memcollab.store.models import Trajectory, TrajectoryIn

A, B, C, D = "openai/model-a", "openai/model-b", "openai/model-c", "openai/model-d"
J = "openai/stand-in-judge"
PRICED = "openai/gpt-4o-mini"  # in litellm's cost map: --dry-run prices it
SOURCE = f"judge:{J}:{JUDGE_PROMPT_VERSION}"
TRUTH = {"What is 17 + 25?": "42", "What is 9 * 8?": "72", "What is 100 - 37?": "63",
         "What is 144 / 12?": "12", "What is 2 ** 10?": "1024", "What is 7 * 13?": "91"}
T1, T2, T3, T4, T5, T6 = TRUTH
# what each model answers (the truth when not listed: D and PRICED are always right)
ANSWERS = {B: {T1: "41", T3: "64"}, C: {T2: "70"}, PRICED: {}}


def judging(body: dict[str, Any]) -> bool:
    return body["messages"][0]["content"].startswith("You grade one AI agent's answer")


def task_of(text: str) -> str:
    return next(t for t in TRUTH if t in text)


def script(body: dict[str, Any]) -> str:
    text = last_user_message(body)
    task = task_of(text)
    if judging(body):
        ok = re.search(rf"final answer: {re.escape(TRUTH[task])}\s*\n</data-", text)
        return json.dumps({"outcome": "correct" if ok else "incorrect", "reason": "recomputed it"})
    answer = ANSWERS.get(f"openai/{body['model']}", {}).get(task, TRUTH[task])
    return f"Working it out step by step.\nFinal answer: {answer}"


def seed(store: Path, *items: tuple[str, str, str, str]) -> Bank:
    """Trajectories already in the bank: (task, model, outcome, answer), written straight to the store."""
    bank = Bank(store)
    bank.add_trajectories([TrajectoryIn(task=task, model=model, outcome=outcome, final_answer=answer,
                                        steps=[f"{model} computed it"], agent="desktop").to_trajectory()
                           for task, model, outcome, answer in items])
    return bank


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("MEMCOLLAB_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-stand-in-not-a-real-key")  # litellm's convention; ignored
    monkeypatch.setenv("MEMCOLLAB_EMBEDDINGS", "off")  # the spawned server loads no embedding model


def contrast(cap: pytest.CaptureFixture[str], fake: FakeLLM, store: Path, cache: Path, *args: str,
             code: int = 0) -> dict[str, Any]:
    cap.readouterr()
    rc = cli_main(["contrast", *args, "--store", str(store), "--cache", str(cache), "--api-base", fake.api_base])
    out, err = cap.readouterr()
    assert rc == code, err[-3000:]
    return json.loads(out)


def new_trajectories(bank: Bank) -> list[Trajectory]:
    return [t for t in bank.trajectories() if t.agent == AGENT]


def outcomes(bank: Bank) -> dict[tuple[str, str], tuple[str, str]]:
    return {(t.model, t.task): (t.outcome, t.outcome_source) for t in bank.trajectories()}


def pairs(bank: Bank) -> set[tuple[str, str, str]]:
    tasks = {t.id: t.task for t in bank.trajectories()}
    return {(tasks[p.preferred_id], p.preferred_model, p.unpreferred_model) for p in bank.pairs()}


def a_alone(store: Path) -> Bank:
    """Model A solved T1 and T3 right, T2 wrong, and never learned whether T4 was right (it was)."""
    return seed(store, (T1, A, "correct", "42"), (T2, A, "incorrect", "71"), (T3, A, "correct", "63"),
                (T4, A, "unknown", "12"))


def test_a_model_answers_what_another_solved_alone_and_the_judged_pairs_form(tmp_path, capfd):
    store, cache = tmp_path / "store", tmp_path / "cache.sqlite"
    bank = a_alone(store)
    with FakeLLM(script) as fake:
        summary = contrast(capfd, fake, store, cache, "--models", B, "--judge", J)
    # B answered the four tasks once each; the judge graded B's four answers and A's unknown one
    solves = [b for b in fake.requests if not judging(b)]
    assert sorted(task_of(last_user_message(b)) for b in solves) == sorted([T1, T2, T3, T4])
    assert {b["model"] for b in solves} == {"model-b"} and {b["model"] for b in fake.requests if judging(b)} == {
        "stand-in-judge"}
    assert summary["tasks"] == {"selected": 4, "contrasted": 4, "paired_by_judging": 0}
    assert summary["calls"] == {"solve": 4, "judge": 5, "cached": 0, "failed": 0}
    assert summary["trajectories"] == {B: {"correct": 2, "incorrect": 2, "unknown": 0, "failed": 0}}
    assert summary["judged_existing"] == {"correct": 1, "incorrect": 0, "undecided": 0, "invalid": 0, "failed": 0}
    assert summary["pairs_formed"] == 3
    assert (summary["tokens_in"], summary["tokens_out"]) == (900, 450)  # the stand-in's usage: 100 / 50 a call
    assert summary["judge"] == J and summary["prompt_version"] == JUDGE_PROMPT_VERSION

    got = outcomes(bank)
    assert got[B, T1] == ("incorrect", SOURCE) and got[B, T2] == ("correct", SOURCE)
    assert got[B, T3] == ("incorrect", SOURCE) and got[B, T4] == ("correct", SOURCE)
    assert got[A, T4] == ("correct", SOURCE)  # A's own unknown, judged first
    assert got[A, T1] == ("correct", "caller")  # a caller's label is never re-judged
    # B's trajectories joined A's tasks (the stored task ids) and say how they were labelled
    task_ids = {t.task: t.task_id for t in bank.trajectories() if t.model == A}
    for t in new_trajectories(bank):
        assert t.task_id == task_ids[t.task] and t.metadata["label_source"] == "judge"
        assert t.task_match is not None and t.task_match.by == "id"
    assert pairs(bank) == {(T1, A, B), (T2, B, A), (T3, A, B)}  # T4: both correct, no pair

    # the pairs distil like any other, and the records remember that a judge decided
    distilled = {"category": "Arithmetic Word Problems", "subcategory": "Rates & Work", "constraints": [
        {"when": "an arithmetic result is asked", "enforce": "recompute the operation before answering",
         "avoid": "trusting a first mental estimate"}]}
    with FakeLLM([json.dumps(distilled)]) as fake:
        import asyncio

        from memcollab.distill.run import run as distill_run

        asyncio.run(distill_run(bank, "openai/stand-in-distiller", fake.api_base, taxonomy_text="t",
                                progress=io.StringIO()))
    assert bank.records() and all(SOURCE in r.outcome_sources and r.judged for r in bank.records())


def test_unknown_own_trajectories_are_judged_first_and_a_split_needs_no_new_model(tmp_path, capfd):
    """Two models tried T1 without knowing the outcome: judging them forms the split, nobody new answers it.
    T2 is judged too but both are right: C answers it (and is wrong)."""
    store, cache = tmp_path / "store", tmp_path / "cache.sqlite"
    bank = seed(store, (T1, A, "unknown", "42"), (T1, B, "unknown", "41"),
                (T2, A, "unknown", "72"), (T2, B, "unknown", "72"))
    with FakeLLM(script) as fake:
        summary = contrast(capfd, fake, store, cache, "--models", C, "--judge", J)
        order = [("judge" if judging(b) else b["model"], task_of(last_user_message(b))) for b in fake.requests]
    assert summary["judged_existing"]["correct"] == 3 and summary["judged_existing"]["incorrect"] == 1
    assert summary["tasks"] == {"selected": 2, "contrasted": 1, "paired_by_judging": 1}
    assert ("model-c", T1) not in order
    assert [r for r in order if r[1] == T2] == [("judge", T2), ("judge", T2), ("model-c", T2), ("judge", T2)]
    assert summary["trajectories"] == {C: {"correct": 0, "incorrect": 1, "unknown": 0, "failed": 0}}
    assert pairs(bank) == {(T1, A, B), (T2, A, C)} and summary["pairs_formed"] == 2


def test_seen_by_one_leaves_tasks_several_models_tried(tmp_path, capfd):
    store, cache = tmp_path / "store", tmp_path / "cache.sqlite"
    bank = seed(store, (T1, A, "correct", "42"), (T1, B, "correct", "42"), (T2, A, "incorrect", "70"))
    texts = {t.task_id: t.task for t in bank.trajectories()}
    assert sorted(texts[v.task_id] for v in select_tasks(bank.trajectories(), [C], seen_by_one=False)) == sorted([T1, T2])
    assert [texts[v.task_id] for v in select_tasks(bank.trajectories(), [C], seen_by_one=True)] == [T2]
    with FakeLLM(script) as fake:
        summary = contrast(capfd, fake, store, cache, "--models", D, "--judge", J, "--tasks-seen-by-one")
    assert summary["tasks"]["selected"] == 1 and {task_of(last_user_message(b)) for b in fake.requests} == {T2}
    assert pairs(bank) == {(T2, D, A)}  # D is always right


def test_a_model_never_contrasts_with_itself(tmp_path, capfd):
    """The bank's names come from clients ("gpt-4o-mini", "Model-B"); --models are litellm strings. A model
    that already tried a task — under any provider prefix or case — is not asked it again."""
    store, cache = tmp_path / "store", tmp_path / "cache.sqlite"
    bank = seed(store, (T4, "gpt-4o-mini", "incorrect", "40"), (T5, "Model-B", "incorrect", "70"),
                (T6, A, "incorrect", "60"))
    with FakeLLM(script) as fake:
        summary = contrast(capfd, fake, store, cache, "--models", f"{PRICED},{B}", "--judge", J)
        asked = {(b["model"], task_of(last_user_message(b))) for b in fake.requests if not judging(b)}
    assert asked == {("model-b", T4), ("gpt-4o-mini", T5), ("gpt-4o-mini", T6), ("model-b", T6)}
    assert summary["trajectories"][PRICED]["correct"] == 2 and summary["trajectories"][B]["correct"] == 2
    for p in bank.pairs():
        assert model_key(p.preferred_model) != model_key(p.unpreferred_model), p
    got = pairs(bank)
    assert {(T4, B, "gpt-4o-mini"), (T5, PRICED, "Model-B")} < got and len(got) == 3
    assert {(t, neg) for t, _, neg in got} == {(T4, "gpt-4o-mini"), (T5, "Model-B"), (T6, A)}


def test_dry_run_calls_nothing_and_prints_counts_and_cost(tmp_path, capfd):
    store, cache = tmp_path / "store", tmp_path / "cache.sqlite"
    bank = a_alone(store)
    before = bank.count("trajectories")
    with FakeLLM(script) as fake:
        report = contrast(capfd, fake, store, cache, "--models", f"{PRICED},{B}", "--judge", J, "--dry-run")
        assert fake.calls == 0
    assert report["tasks"] == 4 and report["judge_existing"] == 1
    assert report["calls"] == {"solve": 8, "judge": 9, "cached": 0}
    assert report["by_model"] == {PRICED: 4, B: 4}
    est = report["estimate"]
    assert est["cost_usd"] > 0 and est["unpriced_models"] == [B, J]
    assert est["tokens_in"] > 4 * 8 and est["tokens_out"] == 8 * 500 + 9 * 60
    import litellm

    # only the priced model's four answers cost anything: at most the cost map's price of all tokens in/out
    p_in, p_out = litellm.cost_per_token(model=PRICED, prompt_tokens=est["tokens_in"], completion_tokens=4 * 500)
    assert est["cost_usd"] < p_in + p_out
    assert bank.count("trajectories") == before and bank.count("pairs") == 0 and not cache.exists()
    assert report["dry_run"] is True

    # --limit counts only the first tasks
    with FakeLLM(script) as fake:
        limited = contrast(capfd, fake, store, cache, "--models", B, "--dry-run", "--limit", "2")
    assert limited["tasks"] == 2 and limited["calls"]["solve"] == 2


def test_a_rerun_costs_nothing(tmp_path, capfd):
    store, cache = tmp_path / "store", tmp_path / "cache.sqlite"
    a_alone(store)
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    with FakeLLM(script) as fake:
        first = contrast(capfd, fake, store, cache, "--models", B, "--judge", J)
        asked = fake.calls
    assert asked == 9
    # the same bank: every task has been tried by B, nothing is left unknown
    with FakeLLM(script) as fake:
        again = contrast(capfd, fake, store, cache, "--models", B, "--judge", J)
        assert fake.calls == 0
    assert again["tasks"]["selected"] == 0 and again["pairs_formed"] == 0
    # the same tasks in a fresh copy of the bank: every answer and every verdict comes from the cache
    with FakeLLM(script) as fake:
        dry = contrast(capfd, fake, copy, cache, "--models", B, "--judge", J, "--dry-run")
        assert dry["calls"]["cached"] == 5  # B's four answers and the verdict on A's unknown one
        fresh = contrast(capfd, fake, copy, cache, "--models", B, "--judge", J)
        assert fake.calls == 0
    assert fresh["calls"] == {"solve": 4, "judge": 5, "cached": 9, "failed": 0}
    assert fresh["tokens_in"] == fresh["tokens_out"] == 0 and fresh["cost_usd"] == 0
    assert fresh["trajectories"] == first["trajectories"] and fresh["pairs_formed"] == first["pairs_formed"] == 3
    assert outcomes(Bank(copy)) == outcomes(Bank(store))


def test_provider_errors_are_counted_and_retried_by_the_rerun(tmp_path, capfd):
    store, cache = tmp_path / "store", tmp_path / "cache.sqlite"
    bank = seed(store, (T1, A, "correct", "42"), (T2, A, "correct", "72"))

    def flaky(body: dict[str, Any]) -> str | Reply:
        if not judging(body) and T2 in last_user_message(body):
            return Reply("refused", status=400)  # not retried (a 5xx is, with backoff: slow for a test)
        return script(body)

    with FakeLLM(flaky) as fake:
        summary = contrast(capfd, fake, store, cache, "--models", B, "--judge", J, code=1)
    assert summary["calls"]["failed"] == 1 and summary["trajectories"][B]["failed"] == 1
    assert "openai/model-b on" in summary["failures"][0]
    assert {t.task for t in new_trajectories(bank)} == {T1}  # nothing submitted for the failed answer
    with FakeLLM(script) as fake:
        summary = contrast(capfd, fake, store, cache, "--models", B, "--judge", J)
        assert fake.calls == 2  # T2's answer and its verdict; T1 is done
    assert {t.task for t in new_trajectories(bank)} == {T1, T2}


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("MEMCOLLAB_")}
    e.update({"OPENAI_API_KEY": "sk-stand-in-not-a-real-key", "MEMCOLLAB_EMBEDDINGS": "off",
              "LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1"})
    return e


def test_ctrl_c_leaves_a_consistent_bank_and_the_rerun_finishes_the_rest(tmp_path):
    store, cache = tmp_path / "store", tmp_path / "cache.sqlite"
    bank = seed(store, *[(t, A, "correct" if i % 2 else "incorrect", TRUTH[t] if i % 2 else "0")
                         for i, t in enumerate(TRUTH)])
    hang_after = 5

    def stalls(body: dict[str, Any]) -> str | Reply:
        # the first requests are answered; after them the provider hangs until the run is interrupted
        n = len(fake.requests)
        return Reply(script(body), delay=60) if n > hang_after else script(body)

    args = [MEMCOLLAB, "contrast", "--models", D, "--judge", J, "--concurrency", "2", "--store", str(store),
            "--cache", str(cache)]
    with FakeLLM(stalls) as fake:
        proc = subprocess.Popen([*args, "--api-base", fake.api_base], env=env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while fake.calls <= hang_after and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the answered ones are submitted and labelled; the rest wait on the provider
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err[-2000:]
        assert "interrupted; run the same command again" in err and out == ""
        first = [json.dumps(b, sort_keys=True) for b in fake.requests]
    # consistent: every trajectory of D is either labelled by the judge or still unknown (judged by the rerun)
    partial = new_trajectories(bank)
    assert 0 < len(partial) < len(TRUTH)
    assert all(t.outcome_source == SOURCE or t.outcome == "unknown" for t in partial)

    with FakeLLM(script) as fake:
        r = subprocess.run([*args, "--api-base", fake.api_base], env=env(), capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        second = [json.dumps(b, sort_keys=True) for b in fake.requests]
    # only what was in flight at Ctrl-C (at most --concurrency calls) is asked again
    assert len(set(first) & set(second)) <= 2
    done = new_trajectories(bank)
    assert sorted(t.task for t in done) == sorted(TRUTH)  # each task once: nothing duplicated
    assert all(t.outcome == "correct" and t.outcome_source == SOURCE for t in done)  # D is always right
    got = [(p.task_id, p.unpreferred_id) for p in bank.pairs()]
    assert len(got) == len(set(got)) == 3  # A was wrong on three tasks: three pairs, each once
    assert pairs(bank) == {(t, D, A) for i, t in enumerate(TRUTH) if i % 2 == 0}
    assert json.loads(r.stdout)["tasks"]["selected"] == len(TRUTH) - len([t for t in partial if t.outcome != "unknown"])


@pytest.mark.parametrize(("flags", "message"), [
    (["--models", " , "], "give at least one model"),
    (["--models", B, "--limit", "0"], "--limit: must be at least 1"),
    (["--models", B, "--concurrency", "many"], "--concurrency: expected a whole number"),
    (["--models", B, "--judge", f"{J},{A}"], "--judge: give one litellm model string"),
    ([], "the following arguments are required: --models"),
])
def test_bad_flags_are_refused_with_a_clear_message(flags, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["contrast", *flags])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_a_missing_store_or_a_directory_as_cache_is_refused(tmp_path, capfd):
    rc = cli_main(["contrast", "--models", B, "--store", str(tmp_path / "nowhere")])
    assert rc == 2 and "no bank at" in capfd.readouterr().err and not (tmp_path / "nowhere").exists()
    a_alone(tmp_path / "store")
    rc = cli_main(["contrast", "--models", B, "--store", str(tmp_path / "store"), "--cache", str(tmp_path)])
    assert rc == 2 and "is a directory" in capfd.readouterr().err
