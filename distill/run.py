"""The offline distillation job: pending (and retryable failed) pairs → litellm → validate → store.

Concurrent (N calls in flight), resumable (every status lives in the store: kill it and run it again), and
nothing is silently dropped: a provider error or timeout marks the pair `failed` with the reason and the
attempt count, and a later run retries it until MAX_ATTEMPTS. Invalid JSON gets one repair retry.
Progress goes to stderr; the summary is returned (the CLI prints it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from memcollab.store.bank import Bank
from memcollab.store.models import ContrastPair
from memcollab.store.progress import progress as progress_bar

from .llm import complete
from .pairing import pair_unpaired
from .prompt import PROMPT_VERSION, build_messages
from .store_constraints import store_distilled
from .validate import InvalidOutput, parse_output

log = logging.getLogger("memcollab.distill")
MAX_ATTEMPTS = 3
DEFAULT_TIMEOUT = 120.0


@dataclass
class Summary:
    model: str
    pairs_considered: int = 0
    pairs_distilled: int = 0
    pairs_skipped: int = 0
    pairs_failed: int = 0
    constraints_stored: int = 0
    constraints_merged: int = 0
    constraints_rejected: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def work_list(bank: Bank, limit: int | None = None, max_attempts: int = MAX_ATTEMPTS) -> list[ContrastPair]:
    """Pending pairs, then failed ones still under the attempt limit; oldest first."""
    pairs = bank.pairs(f"status = 'pending' OR (status = 'failed' AND attempts < {int(max_attempts)})")
    pairs.sort(key=lambda p: (p.status != "pending", p.created_at, p.id))
    return pairs[:limit] if limit else pairs


async def _complete(messages: list[dict[str, str]], model: str, api_base: str | None, timeout: float,
                    summary: Summary) -> str:
    done = await complete(model, messages, api_base, timeout, temperature=0)
    summary.llm_calls += 1
    summary.prompt_tokens += done.tokens_in
    summary.completion_tokens += done.tokens_out
    summary.cost_usd += done.cost_usd
    return done.text


async def distill_pair(bank: Bank, pair: ContrastPair, model: str, api_base: str | None, taxonomy_text: str,
                       summary: Summary, timeout: float = DEFAULT_TIMEOUT, embedder: Any = None) -> None:
    trajs = await asyncio.to_thread(bank.get_trajectories, [pair.preferred_id, pair.unpreferred_id])
    pos, neg = trajs.get(pair.preferred_id), trajs.get(pair.unpreferred_id)
    if pos is None or neg is None:
        await asyncio.to_thread(bank.set_pair, pair.id, status="skipped",  # attempts stay as they are
                                last_error="a trajectory of this pair is no longer in the bank")
        summary.pairs_skipped += 1
        return
    messages = build_messages(pos.task, pos, neg, taxonomy_text)
    try:
        reply = await _complete(messages, model, api_base, timeout, summary)
        try:
            output = parse_output(reply)
        except InvalidOutput as err:
            repair = messages + [{"role": "assistant", "content": reply[:4000]},
                                 {"role": "user", "content": f"That was not valid: {err}. Answer again with only "
                                                             "the JSON object in the required shape."}]
            output = parse_output(await _complete(repair, model, api_base, timeout, summary))
    except Exception as err:  # provider errors, timeouts, twice-invalid JSON: recorded, retried by a later run
        reason = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:500]
        await asyncio.to_thread(bank.set_pair, pair.id, status="failed", attempts=pair.attempts + 1,
                                last_error=reason)
        summary.pairs_failed += 1
        summary.failures.append(f"{pair.id}: {reason}")
        return
    res = await asyncio.to_thread(store_distilled, bank, pair, output, model, PROMPT_VERSION, embedder, trajs)
    summary.constraints_stored += res.stored
    summary.constraints_merged += res.merged
    summary.constraints_rejected += res.rejected
    if res.stored or res.merged:
        summary.pairs_distilled += 1
    else:
        summary.pairs_skipped += 1


async def run(bank: Bank, model: str | None = None, api_base: str | None = None, concurrency: int = 4,
              limit: int | None = None, timeout: float = DEFAULT_TIMEOUT, taxonomy_text: str | None = None,
              embedder: Any = None, progress: TextIO | None = None) -> Summary:
    model = model or os.environ.get("MEMCOLLAB_DISTILL_MODEL")
    if not model:
        raise ValueError("no distillation model: pass --model or set MEMCOLLAB_DISTILL_MODEL")
    if taxonomy_text is None:
        from memcollab.store.taxonomy import load_taxonomy

        taxonomy_text = load_taxonomy(os.environ.get("MEMCOLLAB_TAXONOMY") or None).as_text()
    started = time.monotonic()
    await asyncio.to_thread(pair_unpaired, bank)  # tasks a stopped server did not pair (distill/pairer.py)
    pairs = await asyncio.to_thread(work_list, bank, limit)
    summary = Summary(model=model, pairs_considered=len(pairs))
    gate = asyncio.Semaphore(max(1, concurrency))

    with progress_bar("distill", total=len(pairs), stream=progress) as bar:
        async def one(pair: ContrastPair) -> None:
            async with gate:
                await distill_pair(bank, pair, model, api_base, taxonomy_text, summary, timeout, embedder)
                bar.advance(note=f"failed {summary.pairs_failed}")

        await asyncio.gather(*(one(p) for p in pairs))
    summary.seconds = round(time.monotonic() - started, 3)
    return summary
