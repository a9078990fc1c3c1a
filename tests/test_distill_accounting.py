"""Distillation's accounting and its conversation with the provider, through litellm against the stand-in
LLM server (tests/support/fake_llm.py: a local OpenAI-compatible server with scripted replies — the one
boundary these tests stand in for): usage and cost summed over calls, the repair request's exact shape,
no hidden retries, pairs whose trajectory is gone are skipped, the taxonomy comes from the environment."""

from __future__ import annotations

import asyncio
import io
import json

import litellm

from memcollab.distill.run import run
from memcollab.store.bank import Bank, eq
from support.fake_llm import FakeLLM, Reply
from test_distill import GOOD, MODEL, distill, seed


def test_tokens_and_cost_are_summed_over_every_call(bank):
    seed(bank, 2)
    with FakeLLM(["not json", Reply(json.dumps(GOOD), prompt_tokens=123, completion_tokens=45)]) as llm:
        s = distill(bank, llm, concurrency=1)
    # first pair: an invalid reply (100 + 50 tokens) and its repair; second pair: one call
    assert s["llm_calls"] == 3 == llm.calls
    assert (s["prompt_tokens"], s["completion_tokens"]) == (100 + 123 + 123, 50 + 45 + 45)
    assert s["cost_usd"] == 0.0  # the stand-in's model name has no price


def test_a_priced_model_costs_what_litellm_says(bank):
    seed(bank, 2)
    with FakeLLM([json.dumps(GOOD)]) as llm:
        summary = asyncio.run(run(bank, "openai/gpt-4o-mini", llm.api_base, concurrency=1,
                                  taxonomy_text="math / Algebra: Linear Equations", progress=io.StringIO()))
    prompt, completion = litellm.cost_per_token(model="gpt-4o-mini", prompt_tokens=100, completion_tokens=50)
    assert summary.llm_calls == 2 and summary.cost_usd > 0
    assert abs(summary.cost_usd - 2 * (prompt + completion)) < 1e-12


def test_the_repair_request_replays_the_reply_and_says_what_was_wrong(bank):
    seed(bank)
    bad = "x" * 5000
    with FakeLLM([bad, json.dumps(GOOD)]) as llm:
        s = distill(bank, llm)
    assert s["pairs_distilled"] == 1
    first, repair = llm.requests
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert repair["messages"][:2] == first["messages"]
    assistant, user = repair["messages"][2:]
    assert assistant == {"role": "assistant", "content": bad[:4000]}
    assert user["role"] == "user" and user["content"].startswith("That was not valid: ")
    assert user["content"].endswith(". Answer again with only the JSON object in the required shape.")


def test_a_provider_error_is_not_retried_behind_the_callers_back(bank):
    seed(bank)
    with FakeLLM([Reply(status=500, content="overloaded")]) as llm:
        s = distill(bank, llm)
    assert s["pairs_failed"] == 1 and llm.calls == 1  # no client-side retries: a later run decides


def test_pairs_whose_trajectory_is_gone_are_skipped_and_counted(bank):
    seed(bank, 3)
    pairs = sorted(bank.pairs(), key=lambda p: p.id)
    bank.delete("trajectories", eq("id", pairs[0].unpreferred_id))  # only the incorrect side gone
    bank.delete("trajectories", eq("id", pairs[1].preferred_id))  # only the correct side gone
    with FakeLLM([json.dumps(GOOD)]) as llm:
        s = distill(bank, llm)
    assert s["pairs_skipped"] == 2 and s["pairs_distilled"] == 1 and llm.calls == 1
    by_id = {p.id: p for p in bank.pairs()}
    for p in pairs[:2]:
        assert by_id[p.id].status == "skipped"
        assert by_id[p.id].last_error == "a trajectory of this pair is no longer in the bank"
    assert by_id[pairs[2].id].status == "distilled"


def test_the_taxonomy_comes_from_the_environment_when_not_given(bank, tmp_path, monkeypatch):
    f = tmp_path / "tax.json"
    f.write_text(json.dumps({"domain": "Zoology", "categories": [
        {"name": "Birds", "subcategories": [{"name": "Owls and nightjars"}]}]}))
    monkeypatch.setenv("MEMCOLLAB_TAXONOMY", str(f))
    seed(bank)
    with FakeLLM([json.dumps(GOOD)]) as llm:
        asyncio.run(run(bank, MODEL, llm.api_base, progress=io.StringIO()))
    system = llm.requests[0]["messages"][0]["content"]
    assert "Owls and nightjars" in system
    monkeypatch.delenv("MEMCOLLAB_TAXONOMY")
    seed(bank, prefix="Another task")
    with FakeLLM([json.dumps(GOOD)]) as llm:
        asyncio.run(run(bank, MODEL, llm.api_base, progress=io.StringIO()))
    system = llm.requests[0]["messages"][0]["content"]
    assert "Owls and nightjars" not in system and "Linear Equations" in system
