"""The distillation job's inputs and counters (distill/run.py): where the model comes from, the limit, the
summary's model and its skip count. Through litellm against the stand-in LLM server (tests/support/fake_llm.py:
a local OpenAI-compatible server with scripted replies — the one boundary these tests stand in for)."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from memcollab.distill.run import run
from support.fake_llm import FakeLLM
from test_distill import GOOD, MODEL, distill, seed

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
