"""`memcollab judge --model M`: label trajectories submitted with outcome "unknown" by an LLM judge.

Agents in real use rarely know whether they were right, and an unknown trajectory never pairs. This command
(off unless run) asks a judge model, through litellm, whether each unknown trajectory's final answer solves
its task. The prompt (judge_v1.txt, JUDGE_PROMPT_VERSION) fences the task and the trajectory as data, as
distillation does (distill/prompt.py's `defuse` / `fenced`), and never shows the model name. The judge must
answer strict JSON {"outcome": "correct" | "incorrect" | "unknown", "reason": "..."}:
- correct / incorrect: the trajectory gets that outcome with `outcome_source = "judge:<model>:<version>"`
  (Bank.label_outcome), then its task is paired like any other (distill/pairing.pair_tasks), and records
  distilled from such pairs carry the source in `outcome_sources`;
- "unknown" (the judge cannot decide) or anything that is not that JSON: the trajectory stays unknown and is
  counted (`undecided`, `invalid`); a later run asks again;
- a provider error or timeout: stays unknown, counted in `failed` with the reason (exit code 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from memcollab.distill.prompt import defuse, fenced, new_nonce, solution_text
from memcollab.store.bank import Bank, is_in
from memcollab.store.models import Trajectory

JUDGE_PROMPT_VERSION = "judge-v1"
OUTCOMES = ("correct", "incorrect", "unknown")


@cache
def template() -> str:
    return (resources.files("memcollab.eval") / "judge_v1.txt").read_text("utf-8")


def source_label(model: str) -> str:
    return f"judge:{model}:{JUDGE_PROMPT_VERSION}"


def build_messages(t: Trajectory, nonce: str | None = None) -> list[dict[str, str]]:
    nonce = nonce or new_nonce()
    body = f"TASK:\n{defuse(t.task)}\n\nSOLUTION:\n{solution_text(t)}"
    return [{"role": "system", "content": template().format(nonce=nonce)},
            {"role": "user", "content": fenced(body, nonce) + "\n\nReturn the JSON object now."}]


def parse_verdict(text: str) -> tuple[str, str] | None:
    """(outcome, reason) from a strict reply: one JSON object with exactly "outcome" (correct, incorrect or
    unknown) and "reason" (a string), optionally in one ```json fence. Anything else: None."""
    s = (text or "").strip()
    fence = re.fullmatch(r"```(?:json)?\s*\n?(.*?)\n?```", s, re.S)
    if fence:
        s = fence.group(1).strip()
    try:
        obj = json.loads(s)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or set(obj) != {"outcome", "reason"}:
        return None
    outcome, reason = obj["outcome"], obj["reason"]
    if outcome not in OUTCOMES or not isinstance(reason, str):
        return None
    return outcome, reason


@dataclass
class Summary:
    model: str
    prompt_version: str = JUDGE_PROMPT_VERSION
    considered: int = 0
    labeled: dict[str, int] = field(default_factory=lambda: {"correct": 0, "incorrect": 0})
    undecided: int = 0  # the judge answered "unknown"
    invalid: int = 0  # the reply was not the required JSON
    failed: int = 0  # provider errors and timeouts
    pairs_formed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def unknown_trajectories(bank: Bank, limit: int | None = None) -> list[Trajectory]:
    """Trajectories still labelled unknown, oldest first."""
    ts = sorted(bank.trajectories("outcome = 'unknown'"), key=lambda t: (t.created_at, t.id))
    return ts[:limit] if limit else ts


async def judge_one(bank: Bank, t: Trajectory, model: str, api_base: str | None, timeout: float,
                    summary: Summary) -> str | None:
    """Ask the judge about one trajectory; store a correct/incorrect label. Returns the label stored."""
    from memcollab.distill.llm import complete

    try:
        reply = await complete(model, build_messages(t), api_base, timeout, temperature=0)
    except Exception as err:  # provider errors, timeouts: left unknown, counted, retried by a later run
        summary.failed += 1
        summary.failures.append(f"{t.id}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:300])
        return None
    summary.tokens_in += reply.tokens_in
    summary.tokens_out += reply.tokens_out
    summary.cost_usd += reply.cost_usd
    verdict = parse_verdict(reply.text)
    if verdict is None:
        summary.invalid += 1
        return None
    outcome, _reason = verdict
    if outcome == "unknown":
        summary.undecided += 1
        return None
    if await asyncio.to_thread(bank.label_outcome, t.id, outcome, source_label(model)):
        summary.labeled[outcome] += 1
        return outcome
    return None


async def judge(bank: Bank, model: str, api_base: str | None = None, limit: int | None = None,
                concurrency: int = 4, timeout: float = 120.0) -> Summary:
    from memcollab.distill.pairing import pair_tasks
    from memcollab.store.progress import progress

    started = time.monotonic()
    work = await asyncio.to_thread(unknown_trajectories, bank, limit)
    summary = Summary(model=model, considered=len(work))
    gate = asyncio.Semaphore(max(1, concurrency))
    labeled_tasks: list[str] = []

    with progress("judge", total=len(work)) as bar:
        async def one(t: Trajectory) -> None:
            async with gate:
                if await judge_one(bank, t, model, api_base, timeout, summary):
                    labeled_tasks.append(t.task_id)
                bar.advance(note=f"failed {summary.failed}")

        await asyncio.gather(*(one(t) for t in work))

    if labeled_tasks:  # judged trajectories pair like verified ones
        ids = sorted(set(labeled_tasks))
        before = await asyncio.to_thread(bank.count, "pairs", is_in("task_id", ids))
        await asyncio.to_thread(pair_tasks, bank, ids)
        summary.pairs_formed = await asyncio.to_thread(bank.count, "pairs", is_in("task_id", ids)) - before
    summary.seconds = round(time.monotonic() - started, 3)
    return summary


# --- the command -----------------------------------------------------------------------------------------

def add_parser(sub: argparse._SubParsersAction) -> None:
    j = sub.add_parser("judge", help="label trajectories submitted with outcome 'unknown' by an LLM judge "
                                     "(then they pair like verified ones)")
    j.add_argument("--store", help="store directory (default: $MEMCOLLAB_STORE or the user data dir)")
    j.add_argument("--model", required=True, help="the judge: any litellm model string")
    j.add_argument("--api-base", help="provider base URL, e.g. a local OpenAI-compatible server")
    j.add_argument("--limit", type=int, help="at most this many trajectories (oldest first)")
    j.add_argument("--concurrency", type=int, default=4, help="LLM calls in flight (default 4)")
    j.add_argument("--timeout", type=float, default=120.0, help="seconds per LLM call (default 120)")
    j.add_argument("--dry-run", action="store_true", help="list the trajectories that would be judged")
    j.set_defaults(fn=run)


def run(args: argparse.Namespace) -> int:
    from memcollab.server.settings import Settings
    from memcollab.store.bank import StoreUnavailable

    if args.limit is not None and args.limit < 1:
        print("memcollab judge: --limit must be at least 1", file=sys.stderr)
        return 2
    bank = Bank(args.store or Settings().store)
    try:
        if args.dry_run:
            work = unknown_trajectories(bank, args.limit)
            print(json.dumps({"would_judge": len(work), "trajectories": [t.id for t in work]}))
            return 0
        summary = asyncio.run(judge(bank, args.model, args.api_base, args.limit, args.concurrency, args.timeout))
    except StoreUnavailable as err:
        print(f"memcollab judge: {err}", file=sys.stderr)
        return 2
    print(json.dumps(summary.as_dict()))
    return 1 if summary.failed else 0
