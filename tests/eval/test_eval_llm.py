"""eval/llm.py against the stand-in provider (tests/support/fake_llm.py: a local OpenAI-compatible server
with scripted replies, reached through litellm as a real provider is): cache, retries, failures, cost."""

from __future__ import annotations

import asyncio
import os

import pytest

from memcollab.distill.llm import split_model
from memcollab.eval.llm import LLM, ProviderError, ResponseCache
from support.fake_llm import FakeLLM, Reply

os.environ.setdefault("OPENAI_API_KEY", "sk-stand-in-not-a-real-key")
MSGS = [{"role": "user", "content": "What is the answer?"}]


def ask(llm: LLM, model: str = "openai/stand-in", messages=MSGS):
    return asyncio.run(llm.ask(model, messages))


def test_cached_answer_keeps_its_figures_and_costs_no_second_call(tmp_path):
    with FakeLLM([Reply("first", prompt_tokens=7, completion_tokens=3)]) as fake:
        llm = LLM(ResponseCache(tmp_path / "c.sqlite"), api_base=fake.api_base)
        a = ask(llm)
        assert (a.text, a.call.tokens_in, a.call.tokens_out, a.call.cached) == ("first", 7, 3, False)
    # a new process, a new provider URL: same model + messages + parameters → the cache answers
    with FakeLLM(["second"]) as fake2:
        llm2 = LLM(ResponseCache(tmp_path / "c.sqlite"), api_base=fake2.api_base)
        b = ask(llm2)
        assert fake2.calls == 0
        assert (b.text, b.call.tokens_in, b.call.tokens_out, b.call.latency_s, b.call.cached) == (
            "first", 7, 3, a.call.latency_s, True)
        c = ask(llm2, messages=[{"role": "user", "content": "Another question"}])
        assert (c.text, c.call.cached, fake2.calls) == ("second", False, 1)


def test_provider_errors_are_retried_then_raised_and_never_cached(tmp_path):
    with FakeLLM([Reply("down", status=503), Reply("down", status=503), Reply("fine")]) as fake:
        llm = LLM(ResponseCache(tmp_path / "c.sqlite"), api_base=fake.api_base, attempts=3, backoff_s=0.01)
        assert ask(llm).text == "fine"
        assert fake.calls == 3
    with FakeLLM([Reply("down", status=500)]) as fake:
        cache = ResponseCache(tmp_path / "d.sqlite")
        llm = LLM(cache, api_base=fake.api_base, attempts=2, backoff_s=0.01)
        with pytest.raises(ProviderError, match="after 2 attempt"):
            ask(llm)
        assert fake.calls == 2
        assert len(cache) == 0


def test_a_bad_request_is_not_retried(tmp_path):
    with FakeLLM([Reply("bad", status=400)]) as fake:
        llm = LLM(None, api_base=fake.api_base, attempts=4, backoff_s=0.01)
        with pytest.raises(ProviderError, match="BadRequest"):
            ask(llm)
        assert fake.calls == 1


def test_cost_comes_from_the_cost_map_and_is_zero_when_unpriced():
    with FakeLLM([Reply("x", prompt_tokens=1000, completion_tokens=1000)]) as fake:
        llm = LLM(None, api_base=fake.api_base)
        priced = ask(llm, "openai/gpt-4o-mini")
        unpriced = ask(llm, "openai/stand-in-unpriced")
    assert priced.call.cost_usd > 0
    assert unpriced.call.cost_usd == 0


def test_concurrency_limit_holds():
    with FakeLLM([Reply("x", delay=0.3)]) as fake:
        llm = LLM(None, concurrency=2, api_base=fake.api_base)
        finished, peak = 0, 0

        async def one(i: int) -> None:
            nonlocal finished
            await llm.ask("openai/stand-in", [{"role": "user", "content": f"q{i}"}])
            finished += 1

        async def main() -> None:
            nonlocal peak
            jobs = asyncio.gather(*(one(i) for i in range(6)))
            while not jobs.done():
                peak = max(peak, fake.calls - finished)  # requests the server has seen, not yet answered
                await asyncio.sleep(0.01)
            await jobs

        asyncio.run(main())
        assert fake.calls == 6
        assert peak == 2


def test_model_at_url_gives_one_model_its_own_base():
    assert split_model("openai/a@http://127.0.0.1:9/v1", "http://other/v1") == ("openai/a", "http://127.0.0.1:9/v1")
    assert split_model("openai/a", "http://other/v1") == ("openai/a", "http://other/v1")
    assert split_model("vertex_ai/claude-3@20240229") == ("vertex_ai/claude-3@20240229", None)
    with FakeLLM(["right server"]) as fake:
        llm = LLM(None, api_base="http://127.0.0.1:1/v1", attempts=1)
        assert ask(llm, f"openai/x@{fake.api_base}").text == "right server"


def test_the_same_question_asked_twice_at_once_is_sent_once():
    with FakeLLM([Reply("shared", delay=0.2)]) as fake:
        llm = LLM(None, api_base=fake.api_base)

        async def both():  # noqa: ANN202
            return await asyncio.gather(llm.ask("openai/stand-in", MSGS), llm.ask("openai/stand-in", MSGS))

        a, b = asyncio.run(both())
        assert fake.calls == 1
        assert a.text == b.text == "shared" and sorted([a.call.cached, b.call.cached]) == [False, True]
