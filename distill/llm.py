"""One chat completion through litellm, with its usage: the call both the distillation job and the eval
harness make (eval/llm.py adds its cache, retries and concurrency on top).

Any litellm model string works with litellm's own environment conventions for keys and bases; `api_base`
points one call at a particular server (e.g. a local OpenAI-compatible one). litellm's own retries are off:
callers decide what a failure means.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Completion:
    text: str
    tokens_in: int
    tokens_out: int
    cost_usd: float  # litellm's cost map; 0 for unpriced models
    latency_s: float


def split_model(spec: str, api_base: str | None = None) -> tuple[str, str | None]:
    """`MODEL@URL` gives one model its own base; otherwise `api_base` (which may be None) applies.
    Only a tail that is a URL counts, so model names that contain '@' (e.g. Vertex versions) stay whole."""
    model, sep, tail = spec.rpartition("@")
    if sep and tail.startswith(("http://", "https://")) and model:
        return model, tail
    return spec, api_base


def model_name(spec: str) -> str:
    """The model without any @URL."""
    return split_model(spec)[0]


async def complete(model: str, messages: list[dict[str, str]], api_base: str | None, timeout: float,
                   **params: Any) -> Completion:
    import litellm

    litellm.suppress_debug_info = True
    kwargs: dict[str, Any] = {"model": model, "messages": messages, "timeout": timeout, "num_retries": 0,
                              "max_retries": 0, **params}
    if api_base:
        kwargs["api_base"] = api_base
    started = time.perf_counter()
    resp = await litellm.acompletion(**kwargs)
    latency = time.perf_counter() - started
    usage = getattr(resp, "usage", None)
    try:
        cost = float(litellm.completion_cost(completion_response=resp) or 0.0)
    except Exception:  # unknown models have no price: cost stays 0
        cost = 0.0
    return Completion(text=resp.choices[0].message.content or "",
                      tokens_in=int(usage.prompt_tokens or 0) if usage else 0,  # litellm's Usage has both fields
                      tokens_out=int(usage.completion_tokens or 0) if usage else 0,
                      cost_usd=cost, latency_s=latency)
