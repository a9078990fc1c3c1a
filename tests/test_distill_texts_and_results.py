"""What distillation sends and keeps, word for word: one completion's text, usage and latency; the contrast
message's steps and closing line; the job's progress label; each verdict's id and reason; the rejections a
store hands back. The provider is the stand-in LLM server (tests/support/fake_llm.py: a local
OpenAI-compatible server reached through litellm as a real one is)."""

from __future__ import annotations

import asyncio
import io
import json

from memcollab.distill.llm import complete
from memcollab.distill.prompt import build_messages
from memcollab.distill.run import run
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.models import TrajectoryIn
from support.fake_llm import FakeLLM, Reply
from test_distill import GOOD, MODEL, seed

TAXONOMY = "math / Algebra: Linear Equations"


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
