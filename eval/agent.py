"""The agent loop both `memcollab build` and `memcollab eval` use (the paper's "turns").

A model gets the task (and, when given, a guidance block presented as advice) and answers; the task's own
verifier checks the answer in a separate process; if it is wrong, the verifier's feedback goes back and the
model revises — up to `turns` answers. The trajectory keeps every reply (the steps), every verdict, and one
record per LLM call (tokens, latency, cost, cached). A provider that fails after its retries ends the
trajectory as a *failure* (`error` set), which callers count apart from wrong answers and never submit.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

from memcollab.distill.llm import model_name

from .llm import LLM, CallRecord, ProviderError
from .tasks import Task, answer_format
from .verify import verify

DEFAULT_TURNS = 3
MAX_FEEDBACK = 2000

SYSTEM = ("You are a careful problem solver. Solve the task the user gives you: reason step by step, then "
          "give your final answer exactly in the format the user asks for.")


@dataclass
class Attempt:
    reply: str
    answer: str
    correct: bool
    feedback: str


@dataclass
class Trajectory:
    task: Task
    model: str  # as given: may carry its own api base, MODEL@URL
    attempts: list[Attempt] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    error: str | None = None  # a provider failure: neither correct nor wrong

    @property
    def name(self) -> str:
        """The model's name without any @URL: what the bank and the report see."""
        return model_name(self.model)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def correct(self) -> bool:
        return bool(self.attempts) and self.attempts[-1].correct and not self.failed

    @property
    def correct_at_turn1(self) -> bool:
        return bool(self.attempts) and self.attempts[0].correct

    @property
    def turns(self) -> int:
        return len(self.attempts)

    @property
    def steps(self) -> list[str]:
        return [a.reply for a in self.attempts]

    @property
    def final_answer(self) -> str:
        return self.attempts[-1].answer if self.attempts else ""


def first_messages(task: Task, guidance: str | None) -> list[dict[str, str]]:
    system = SYSTEM + (f"\n\n{guidance.strip()}" if guidance and guidance.strip() else "")
    return [{"role": "system", "content": system},
            {"role": "user", "content": f"{task.text}\n\n{answer_format(task)}"}]


def revision_message(task: Task, feedback: str) -> dict[str, str]:
    fb = (feedback or "incorrect").strip()[:MAX_FEEDBACK]
    return {"role": "user", "content": f"Your answer was checked and it is not correct. The checker said:\n{fb}\n\n"
                                       f"Revise your solution. {answer_format(task)}"}


class Agent:
    """Solves tasks with any litellm model through `llm`; verification runs at most `verify_slots` at once."""

    def __init__(self, llm: LLM, turns: int = DEFAULT_TURNS, verify_slots: int | None = None,
                 verify_timeout: float = 10.0):
        self.llm, self.turns, self.verify_timeout = llm, max(1, turns), verify_timeout
        self._verify_gate = asyncio.Semaphore(verify_slots or max(2, os.cpu_count() or 2))

    async def solve(self, model: str, task: Task, guidance: str | None = None) -> Trajectory:
        traj = Trajectory(task=task, model=model)
        messages = first_messages(task, guidance)
        for turn in range(1, self.turns + 1):
            try:
                answer = await self.llm.ask(model, messages)
            except ProviderError as err:
                traj.error = str(err)
                return traj
            traj.calls.append(answer.call)
            async with self._verify_gate:
                v = await asyncio.to_thread(verify, task, answer.text, self.verify_timeout)
            traj.attempts.append(Attempt(answer.text, v.answer, v.correct, v.feedback))
            if v.correct or turn == self.turns:
                break
            messages = messages + [{"role": "assistant", "content": answer.text}, revision_message(task, v.feedback)]
        return traj
