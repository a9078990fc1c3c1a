"""The agent loop (eval/agent.py) with the real HumanEval verifier and the stand-in provider
(tests/support/fake_llm.py: a local OpenAI-compatible server with scripted replies, reached through litellm)."""

from __future__ import annotations

import asyncio
import os

import pytest

from memcollab.eval.agent import Agent
from memcollab.eval.bank_client import submission
from memcollab.eval.llm import LLM
from memcollab.eval.naive import WorkedExamples
from memcollab.eval.report import row
from memcollab.eval.tasks import humaneval_canonical, load_tasks
from support.fake_llm import FakeLLM, Reply

os.environ.setdefault("OPENAI_API_KEY", "sk-stand-in-not-a-real-key")
TASKS, _ = load_tasks("humaneval", 3)


def right(task) -> str:  # noqa: ANN001
    return f"```python\n{task.text}{humaneval_canonical(task)}\n```"


def wrong(task) -> str:  # noqa: ANN001
    return f"```python\n{task.text}    return None\n```"


def solve(fake: FakeLLM, task, turns: int = 3, guidance: str | None = None, **llm):  # noqa: ANN001
    agent = Agent(LLM(None, api_base=fake.api_base, backoff_s=0.01, **llm), turns)
    return asyncio.run(agent.solve("openai/stand-in", task, guidance))


def test_a_wrong_answer_gets_the_verifiers_feedback_and_a_revision():
    task = TASKS[0]
    with FakeLLM([wrong(task), right(task)]) as fake:
        t = solve(fake, task)
        revision = fake.requests[1]["messages"]
    assert (t.correct, t.correct_at_turn1, t.turns, len(t.calls)) == (True, False, 2, 2)
    assert [a.correct for a in t.attempts] == [False, True]
    # the model's own answer, then the checker's feedback (a failing assertion), then the format again
    assert revision[2] == {"role": "assistant", "content": wrong(task)}
    assert "not correct" in revision[3]["content"] and "AssertionError" in revision[3]["content"]
    assert "```python" in revision[3]["content"]


def test_turns_bound_the_revisions_and_guidance_goes_into_the_system_prompt():
    task = TASKS[1]
    with FakeLLM([wrong(task)]) as fake:
        t = solve(fake, task, turns=2, guidance="Shared memory guidance: check the empty case.")
        system = fake.requests[0]["messages"][0]
    assert (t.correct, t.turns, fake.calls) == (False, 2, 2)
    assert system["role"] == "system" and system["content"].endswith("Shared memory guidance: check the empty case.")
    assert submission(t)["outcome"] == "incorrect" and submission(t)["steps"] == [wrong(task)] * 2


def test_a_provider_failure_is_a_failure_not_a_wrong_answer():
    task = TASKS[2]
    with FakeLLM([Reply("overloaded", status=503)]) as fake:
        t = solve(fake, task, attempts=2)
    assert t.failed and not t.correct and t.turns == 0 and "ServiceUnavailable" in t.error
    r = row("vanilla", "openai/stand-in", [t])
    assert (r["n"], r["failed"], r["accuracy"]) == (0, 1, 0.0)
    with pytest.raises(ValueError, match="never submitted"):
        from memcollab.eval.bank_client import BankClient

        asyncio.run(BankClient(None, "unused").submit(t))


def test_naive_examples_come_from_other_models_correct_answers_on_similar_tasks():
    with FakeLLM(lambda body: right(next(t for t in TASKS if t.text in body["messages"][1]["content"]))) as fake:
        agent = Agent(LLM(None, api_base=fake.api_base), 1)

        async def all_solves():  # noqa: ANN202
            return [await agent.solve(m, t) for t in TASKS for m in ("openai/a", "openai/b")]

        trajs = asyncio.run(all_solves())
    ex = WorkedExamples(trajs, ["openai/a", "openai/b"])
    picked = ex.similar(TASKS[0].text, "openai/a", k=3)
    assert picked[0].task.id == TASKS[0].id  # the same text is the most similar
    assert {t.model for t in picked} == {"openai/b"}
    block = ex.block(TASKS[0].text, "openai/a")
    assert block.count("TASK:") == 3 and "<data-" in block and ex.block(TASKS[0].text, "openai/a") == block


def test_a_model_with_its_own_base_is_reached_there_and_named_without_it():
    task = TASKS[0]
    with FakeLLM([right(task)]) as fake:
        agent = Agent(LLM(None, api_base="http://127.0.0.1:9/v1", attempts=1), 1)
        t = asyncio.run(agent.solve(f"openai/stand-in@{fake.api_base}", task))
    assert t.correct and fake.calls == 1
    assert t.name == "openai/stand-in" and submission(t)["model"] == "openai/stand-in"
