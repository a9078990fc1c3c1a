"""LLM calls for build and eval: the shared litellm call (distill/llm.py) plus a response cache on disk,
retries with backoff, and a concurrency limit.

- Cache: sqlite, keyed by model + messages + parameters (not the api base, so the same model behind a new
  URL is still the same answer). A cached answer keeps the tokens, cost and latency it had when it was made
  and comes back flagged `cached`, so a rerun — or a run after a crash or Ctrl-C — pays nothing twice and
  reports the same figures. Each answer is committed as soon as it arrives.
- Provider errors are retried with exponential backoff (ATTEMPTS in all; errors that cannot go away by
  waiting — bad request, auth, unknown model — are not retried), then raised as ProviderError, which the
  callers count as a failure, never as a wrong answer. Failures are not cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import sqlite3
import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from memcollab.distill.llm import complete, split_model

ATTEMPTS = 4
BACKOFF_S = 1.0  # first wait; doubles each attempt, with jitter
_FATAL = ("AuthenticationError", "PermissionDeniedError", "NotFoundError", "BadRequestError",
          "ContextWindowExceededError", "ContentPolicyViolationError", "UnsupportedParamsError",
          "UnprocessableEntityError")


class ProviderError(RuntimeError):
    """The provider did not answer after the retries: a failure, not a wrong answer."""


@dataclass
class CallRecord:
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_s: float
    cached: bool
    key: str


@dataclass
class Answer:
    text: str
    call: CallRecord


def cache_key(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    blob = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True,
                      ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


class ResponseCache:
    """One sqlite file; safe to share between the coroutines (and threads) of one process."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed answer survives the process crashing or being killed (not a power cut,
        # which would only cost a repeated call); saves an fsync per answer.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, text TEXT, "
                         "tokens_in INTEGER, tokens_out INTEGER, cost_usd REAL, latency_s REAL)")
        self._db.commit()
        self._lock = threading.Lock()

    def get(self, key: str) -> Answer | None:
        with self._lock:
            row = self._db.execute("SELECT model, text, tokens_in, tokens_out, cost_usd, latency_s FROM responses "
                                   "WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        model, text, tin, tout, cost, lat = row
        return Answer(text, CallRecord(model, tin, tout, cost, lat, True, key))

    def put(self, answer: Answer) -> None:
        c = answer.call
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (c.key, c.model, answer.text, c.tokens_in, c.tokens_out, c.cost_usd, c.latency_s))
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class LLM:
    """`await llm.ask(model_spec, messages)`: cached, retried, at most `concurrency` calls in flight."""

    def __init__(self, cache: ResponseCache | None = None, concurrency: int = 4, api_base: str | None = None,
                 timeout: float = 120.0, temperature: float = 0.0, attempts: int = ATTEMPTS,
                 backoff_s: float = BACKOFF_S):
        self.cache, self.api_base, self.timeout = cache, api_base, timeout
        self.params: dict[str, Any] = {"temperature": temperature}
        self.attempts, self.backoff_s = max(1, attempts), backoff_s
        self._gate = asyncio.Semaphore(max(1, concurrency))
        self._inflight: dict[str, asyncio.Future[Answer]] = {}  # questions on their way to the provider

    async def ask(self, spec: str, messages: list[dict[str, str]]) -> Answer:
        model, api_base = split_model(spec, self.api_base)
        key = cache_key(model, messages, self.params)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return hit
        if (pending := self._inflight.get(key)) is not None:  # being asked right now: share that answer
            first = await asyncio.shield(pending)
            return Answer(first.text, replace(first.call, cached=True))
        pending = self._inflight[key] = asyncio.get_running_loop().create_future()
        pending.add_done_callback(lambda f: f.cancelled() or f.exception())  # no "never retrieved" warning
        try:
            answer = await self._fresh(key, model, messages, api_base)
        except Exception as err:
            pending.set_exception(err)
            raise
        except BaseException:  # cancelled (Ctrl-C): those waiting are cancelled too
            pending.cancel()
            raise
        finally:
            self._inflight.pop(key, None)
        pending.set_result(answer)
        return answer

    async def _fresh(self, key: str, model: str, messages: list[dict[str, str]], api_base: str | None) -> Answer:
        async with self._gate:
            done = await self._call(model, messages, api_base)
        answer = Answer(done.text, CallRecord(model, done.tokens_in, done.tokens_out, round(done.cost_usd, 8),
                                              round(done.latency_s, 4), False, key))
        if self.cache is not None:
            self.cache.put(answer)
        return answer

    async def _call(self, model: str, messages: list[dict[str, str]], api_base: str | None) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return await complete(model, messages, api_base, self.timeout, **self.params)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # litellm maps every provider failure to an exception
                fatal = type(err).__name__ in _FATAL
                if fatal or attempt == self.attempts:
                    first = str(err).splitlines()[0] if str(err) else ""
                    raise ProviderError(f"{model}: {type(err).__name__} after {attempt} attempt(s): "
                                        f"{first[:300]}") from err
                await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
        raise AssertionError("unreachable")


def record_dict(call: CallRecord) -> dict[str, Any]:
    d = asdict(call)
    d.pop("key")
    return d
