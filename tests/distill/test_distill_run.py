"""The distillation job (distill/run.py) through litellm against the stand-in LLM provider.

Distillation through litellm against a stand-in LLM provider (tests/support/fake_llm.py: a local
OpenAI-compatible server with scripted replies — the one boundary these tests stand in for).

Distillation's accounting and its conversation with the provider, through litellm against the stand-in
LLM server (tests/support/fake_llm.py: a local OpenAI-compatible server with scripted replies — the one
boundary these tests stand in for): usage and cost summed over calls, the repair request's exact shape,
no hidden retries, pairs whose trajectory is gone are skipped, the taxonomy comes from the environment.

Distillation's bookkeeping on the pairs and verdicts, through litellm against the stand-in LLM server
(tests/support/fake_llm.py — the one boundary these tests stand in for): the work list's order and limit,
attempts counted on every outcome, every verdict of a reply kept.

The distillation job's inputs and counters (distill/run.py): where the model comes from, the limit, the
summary's model and its skip count. Through litellm against the stand-in LLM server (tests/support/fake_llm.py:
a local OpenAI-compatible server with scripted replies — the one boundary these tests stand in for).

What distillation sends and keeps, word for word: one completion's text, usage and latency; the contrast
message's steps and closing line; the job's progress label; each verdict's id and reason; the rejections a
store hands back. The provider is the stand-in LLM server (tests/support/fake_llm.py: a local
OpenAI-compatible server reached through litellm as a real one is)."""

from __future__ import annotations

import asyncio
import io
import json
import os

import litellm
import pytest

from conftest import call, memory_client, traj
from memcollab.distill.llm import complete
from memcollab.distill.pairing import pair_task
from memcollab.distill.prompt import PROMPT_VERSION, build_messages
from memcollab.distill.run import MAX_ATTEMPTS, run, work_list
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.bank import Bank, eq
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


TAXONOMY = "math / Algebra: Linear Equations"


def test_without_a_model_the_job_says_how_to_give_one(bank, monkeypatch):
    monkeypatch.delenv("MEMCOLLAB_DISTILL_MODEL", raising=False)
    with pytest.raises(ValueError) as err:
        asyncio.run(run(bank, None, taxonomy_text=TAXONOMY, progress=io.StringIO()))
    assert str(err.value) == "no distillation model: pass --model or set MEMCOLLAB_DISTILL_MODEL"


def test_the_model_comes_from_the_environment_and_is_in_the_summary(bank, monkeypatch):
    seed(bank)
    monkeypatch.setenv("MEMCOLLAB_DISTILL_MODEL", MODEL)
    with FakeLLM([json.dumps(GOOD)]) as llm:
        summary = asyncio.run(run(bank, None, llm.api_base, taxonomy_text=TAXONOMY, progress=io.StringIO()))
    assert summary.model == MODEL and summary.pairs_distilled == 1
    assert llm.requests[0]["model"] == MODEL.split("/", 1)[1]


def test_the_limit_bounds_the_pairs_a_run_takes(bank):
    seed(bank, 3)
    with FakeLLM([json.dumps(GOOD)]) as llm:
        s = distill(bank, llm, limit=1)
    assert s["pairs_considered"] == 1 and llm.calls == 1
    assert dict(bank.counter("pairs", "status")) == {"distilled": 1, "pending": 2}


def test_each_reply_with_nothing_valid_counts_a_skipped_pair(bank):
    seed(bank, 2)
    bad = {"category": "Algebra", "subcategory": "Linear Equations", "constraints": [
        {"when": "using qwen2.5-32b", "enforce": "trust it", "avoid": "llama-3-8b answers"}]}
    with FakeLLM([json.dumps(bad)]) as llm:
        s = distill(bank, llm, concurrency=1)
    assert (s["pairs_skipped"], s["pairs_distilled"], s["constraints_rejected"]) == (2, 0, 2)


def test_a_completion_carries_its_text_usage_and_latency():
    with FakeLLM([Reply("hello", prompt_tokens=7, completion_tokens=0)]) as llm:
        done = asyncio.run(complete(MODEL, [{"role": "user", "content": "hi"}], llm.api_base, 30))
    assert (done.text, done.tokens_in, done.tokens_out) == ("hello", 7, 0)
    assert isinstance(done.latency_s, float) and done.latency_s > 0


def test_the_contrast_lists_each_step_on_its_line_and_asks_for_the_json():
    pos = TrajectoryIn(task="Solve 3x + 7 = 22 for x.", model="a", outcome="correct", final_answer="5",
                       steps=["subtract 7 from both sides: 3x = 15", "divide by 3"]).to_trajectory()
    neg = TrajectoryIn(task="Solve 3x + 7 = 22 for x.", model="b", outcome="incorrect", final_answer="9",
                       steps=[]).to_trajectory()
    _, user = build_messages(pos.task, pos, neg, TAXONOMY, nonce="n0nce")
    text = user["content"]
    assert "Solution A (correct):\n  step 1: subtract 7 from both sides: 3x = 15\n  step 2: divide by 3\n" \
           "  final answer: 5" in text
    assert "Solution B (incorrect):\n  (no steps given)\n  final answer: 9" in text
    assert text.endswith("\n\nReturn the JSON object now.")


def test_the_job_reports_progress_under_its_name(bank):
    seed(bank)
    out = io.StringIO()
    with FakeLLM([json.dumps(GOOD)]) as llm:
        asyncio.run(run(bank, MODEL, llm.api_base, taxonomy_text=TAXONOMY, progress=out))
    assert out.getvalue().startswith("distill: 1/1 done in ")


def test_verdicts_have_their_id_prefix_and_a_reason_only_when_not_stored(bank):
    seed(bank)
    (pair,) = bank.pairs()
    mixed = DistillOutput(**dict(GOOD, constraints=[*GOOD["constraints"], {
        "when": "the equation is 3x + 7 = 22", "enforce": "x equals 5", "avoid": "answering 9.67"}]))
    res = store_distilled(bank, pair, mixed, "d", "v")
    assert (res.stored, res.rejected) == (2, 1)
    (text, reason), = res.rejections
    assert "3x + 7 = 22" in text and reason.startswith("copies a number")
    verdicts = bank._select("verdicts")
    assert all(v["id"].startswith("v-") for v in verdicts)
    assert sorted((v["verdict"], v["reason"]) for v in verdicts) == [("rejected", reason), ("stored", ""),
                                                                      ("stored", "")]
