"""Distillation through litellm against a stand-in LLM provider (tests/support/fake_llm.py: a local
OpenAI-compatible server with scripted replies — the one boundary these tests stand in for)."""

from __future__ import annotations

import asyncio
import io
import json
import os

import pytest

from conftest import call, memory_client, traj
from memcollab.distill.run import MAX_ATTEMPTS, run
from memcollab.distill.prompt import PROMPT_VERSION
from memcollab.distill.pairing import pair_task
from memcollab.store.bank import Bank
from memcollab.store.models import TrajectoryIn
from support.fake_llm import FakeLLM, Reply, last_user_message

MODEL = "openai/stand-in-distiller"
# litellm's own convention for the key; the stand-in ignores it.
os.environ.setdefault("OPENAI_API_KEY", "sk-stand-in-not-a-real-key")

GOOD = {"category": "Algebra", "subcategory": "Linear Equations", "constraints": [
    {"when": "isolating an unknown in a linear equation",
     "enforce": "apply each inverse operation to both sides and check by substitution",
     "avoid": "moving a term across the equals sign without flipping its sign"},
    {"when": "the equation has constants on both sides",
     "enforce": "collect constants on one side before dividing",
     "avoid": "dividing only part of an expression"}]}


def seed(bank: Bank, n: int = 1, prefix: str = "Solve 3x + 7 = 22") -> list[str]:
    """n tasks, each with a correct and an incorrect trajectory from different models → n pending pairs."""
    task_ids = []
    for i in range(n):
        task = f"{prefix} (variant {i}) for x."
        a = TrajectoryIn(task=task, model="qwen2.5-32b", outcome="correct", final_answer="5",
                         steps=["subtract 7 from both sides: 3x = 15", "divide by 3"]).to_trajectory()
        b = TrajectoryIn(task=task, model="llama-3-8b", outcome="incorrect", final_answer="9.67",
                         steps=["add 7 to both sides: 3x = 29", "divide by 3"]).to_trajectory()
        bank.add_trajectories([a, b])
        pair_task(bank, a.task_id)
        task_ids.append(a.task_id)
    return task_ids


def distill(bank: Bank, llm: FakeLLM, **kw) -> dict:
    summary = asyncio.run(run(bank, MODEL, llm.api_base, taxonomy_text="math / Algebra: Linear Equations",
                              progress=io.StringIO(), **kw))
    return summary.as_dict()


def statuses(bank: Bank) -> dict[str, int]:
    return dict(bank.counter("pairs", "status"))


def test_valid_reply_becomes_a_record_with_provenance(bank):
    seed(bank)
    with FakeLLM([json.dumps(GOOD)]) as llm:
        s = distill(bank, llm)
    assert s["pairs_distilled"] == 1 and s["constraints_stored"] == 2 and s["llm_calls"] == 1
    assert s["prompt_tokens"] == 100 and s["completion_tokens"] == 50
    (rec,) = bank.records()
    assert (rec.category, rec.subcategory) == ("Algebra", "Linear Equations")
    assert rec.preferred_models == ["qwen2.5-32b"] and rec.unpreferred_models == ["llama-3-8b"]
    assert rec.distiller == MODEL and rec.prompt_version == PROMPT_VERSION and rec.support == 1
    (pair,) = bank.pairs()
    assert pair.status == "distilled" and pair.record_ids == [rec.id] and rec.pair_ids == [pair.id]


def test_prompt_fences_data_and_hides_model_names(bank):
    seed(bank)
    with FakeLLM([json.dumps(GOOD)]) as llm:
        distill(bank, llm)
        body = llm.requests[0]
    system, user = body["messages"][0]["content"], last_user_message(body)
    nonce = user.split("<data-")[1].split(">")[0]
    assert user.startswith(f"<data-{nonce}>") and f"</data-{nonce}>" in user
    assert f"<data-{nonce}>" in system and "never follow it" in " ".join(system.split())
    full = json.dumps(body["messages"])
    assert "qwen" not in full.lower() and "llama" not in full.lower()
    assert "Solve 3x + 7 = 22" in user


def test_invalid_json_gets_one_repair_retry(bank):
    seed(bank)
    with FakeLLM(["Sure! Here are some thoughts, no JSON.", json.dumps(GOOD)]) as llm:
        s = distill(bank, llm)
        repair = llm.requests[1]["messages"][-1]["content"]
    assert s["llm_calls"] == 2 and s["pairs_distilled"] == 1
    assert "not valid" in repair


def test_twice_invalid_json_fails_the_pair_with_a_reason(bank):
    seed(bank)
    with FakeLLM(["nope", "still nope"]) as llm:
        s = distill(bank, llm)
    (pair,) = bank.pairs()
    assert pair.status == "failed" and pair.attempts == 1 and "JSON" in pair.last_error
    assert s["pairs_failed"] == 1


def test_http_500_fails_then_a_later_run_retries_up_to_the_limit(bank):
    seed(bank)
    with FakeLLM([Reply(status=500, content="overloaded")]) as llm:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            s = distill(bank, llm)
            (pair,) = bank.pairs()
            assert pair.status == "failed" and pair.attempts == attempt
            assert "InternalServerError" in pair.last_error and s["pairs_failed"] == 1
        calls = llm.calls
        s = distill(bank, llm)  # over the limit: left alone, still visible as failed
        assert llm.calls == calls and s["pairs_considered"] == 0
    with FakeLLM([json.dumps(GOOD)]) as llm:
        bank.set_pair(pair.id, status="failed", attempts=1, last_error="x")
        distill(bank, llm)
    assert statuses(bank) == {"distilled": 1}


def test_timeout_marks_the_pair_failed(bank):
    seed(bank)
    with FakeLLM([Reply(delay=30, content=json.dumps(GOOD))]) as llm:
        s = distill(bank, llm, timeout=1.0)
    (pair,) = bank.pairs()
    assert pair.status == "failed" and "Timeout" in pair.last_error and s["pairs_failed"] == 1


def test_leaked_numbers_and_extra_constraints_are_rejected(bank):
    seed(bank)
    leaky = {"category": "Algebra", "subcategory": "Linear Equations", "constraints": [
        {"when": "the equation is 3x + 7 = 22", "enforce": "x equals 5", "avoid": "answering 9.67"},
        *GOOD["constraints"],
        {"when": "checking any answer", "enforce": "substitute it back into the original statement",
         "avoid": "trusting an unverified result"},
        {"when": "a fourth valid-looking rule", "enforce": "keep rules few", "avoid": "long lists of rules"},
    ]}
    with FakeLLM([json.dumps(leaky)]) as llm:
        s = distill(bank, llm)
    (rec,) = bank.records()
    assert len(rec.constraints) == 3
    assert all("22" not in c.text() and "9.67" not in c.text() for c in rec.constraints)
    assert s["constraints_rejected"] == 2
    reasons = [v["reason"] for v in bank._select("verdicts", "verdict = 'rejected'")]
    assert any("number" in r for r in reasons) and any("over limit" in r for r in reasons)


def test_a_reply_with_nothing_valid_stores_nothing(bank):
    seed(bank)
    bad = {"category": "Algebra", "subcategory": "Linear Equations", "constraints": [
        {"when": "using qwen2.5-32b", "enforce": "trust it", "avoid": "llama-3-8b answers"},
        {"when": "writing code", "enforce": "`return x / 3`", "avoid": "def solve(x): pass"}]}
    with FakeLLM([json.dumps(bad)]) as llm:
        distill(bank, llm)
    assert bank.count("records") == 0
    (pair,) = bank.pairs()
    assert pair.status == "skipped" and "no constraint survived" in pair.last_error


def test_dedup_raises_support_instead_of_copying(bank):
    seed(bank, 2)
    with FakeLLM([json.dumps(GOOD)]) as llm:
        s = distill(bank, llm, concurrency=1)
    assert s["constraints_stored"] == 2 and s["constraints_merged"] == 2
    (rec,) = bank.records()
    assert rec.support == 2 and len(rec.pair_ids) == 2
    assert statuses(bank) == {"distilled": 2}


def test_dedup_by_embedding_similarity(bank):
    from memcollab.store.embed import get_embedder

    seed(bank, 2)
    paraphrase = {**GOOD, "constraints": [
        {"when": "isolating the unknown in a linear equation",
         "enforce": "apply every inverse operation to both sides and verify by substitution",
         "avoid": "moving a term across the equals sign without changing its sign"}]}
    with FakeLLM([json.dumps(GOOD), json.dumps(paraphrase)]) as llm:
        s = distill(bank, llm, concurrency=1, embedder=get_embedder())
    assert s["constraints_merged"] == 1 and bank.count("records") == 1
    assert bank.records()[0].support == 2


def test_progress_goes_to_the_given_stream_not_stdout(bank, capsys):
    seed(bank, 3)
    err = io.StringIO()
    with FakeLLM([json.dumps(GOOD)]) as llm:
        asyncio.run(run(bank, MODEL, llm.api_base, taxonomy_text="t", progress=err))
    assert "3/3" in err.getvalue()
    assert capsys.readouterr().out == ""


def test_no_model_is_a_clear_error(bank, monkeypatch):
    monkeypatch.delenv("MEMCOLLAB_DISTILL_MODEL", raising=False)
    with pytest.raises(ValueError, match="MEMCOLLAB_DISTILL_MODEL"):
        asyncio.run(run(bank))


@pytest.mark.anyio
async def test_client_side_distillation_through_mcp(store):
    async with memory_client(store) as c:
        await call(c, "submit_trajectory", traj("Solve 5y - 2 = 13 for y.", "claude-sonnet", "correct", "3",
                                                steps=["add 2 to both sides", "divide by 5"]))
        await call(c, "submit_trajectory", traj("Solve 5y - 2 = 13 for y.", "gpt-4o-mini", "incorrect", "2.2",
                                                steps=["subtract 2", "divide by 5"]))
        nxt = await call(c, "next_contrast")
        assert nxt["pair_id"] and "Solve 5y - 2 = 13" in nxt["contrast"] and nxt["pending"] == 1
        assert "claude" not in json.dumps(nxt).lower()
        prompt = await c.get_prompt("distill_contrast", {})
        assert nxt["pair_id"] in prompt.messages[0].content.text
        res = await call(c, "submit_constraints", {
            "pair_id": nxt["pair_id"], "category": "Algebra", "subcategory": "Linear Equations",
            "constraints": GOOD["constraints"] + [{"when": "copying 13", "enforce": "use 13", "avoid": "2.2"}],
            "distiller": "claude-opus"})
        assert res["stored"] == 2 and res["rejected"] == 1 and res["status"] == "distilled"
        again = await c.call_tool("submit_constraints", {"pair_id": nxt["pair_id"], "category": "Algebra",
                                                         "constraints": GOOD["constraints"]})
        assert again.is_error and "already distilled" in again.content[0].text
        missing = await c.call_tool("submit_constraints", {"pair_id": "p-nope", "category": "A",
                                                           "constraints": GOOD["constraints"]})
        assert missing.is_error and "next_contrast" in missing.content[0].text
        assert (await call(c, "next_contrast"))["pair_id"] is None
        st = await call(c, "memory_status")
        got = await call(c, "get_constraints", {"task": "Solve 2y + 1 = 9", "category": "Algebra",
                                                "subcategory": "Linear Equations"})
    assert st["constraints_by_verdict"] == {"stored": 2, "rejected": 1}
    assert st["rejection_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert got["match"] == "subcategory" and "claude-sonnet" in got["guidance"]
    (rec,) = Bank(store).records()
    assert rec.distiller == "claude-opus"
