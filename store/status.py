"""What the bank holds, counted: the memory_status tool, `memcollab status` and the web UI's overview."""

from __future__ import annotations

from collections import Counter

from pydantic import Field

from .bank import Bank
from .embed import state as embed_state
from .models import SCHEMA_VERSION, Answer
from .task_index import match_counts


class Status(Answer):
    store: str
    schema_version: int = SCHEMA_VERSION
    trajectories: int
    trajectories_by_outcome: dict[str, int]
    tasks: int
    pairs_by_status: dict[str, int]
    records: int
    records_by_category: dict[str, int]
    models: dict[str, int] = Field(description="trajectories per model")
    feedback: dict[str, int] = Field(default_factory=dict, description="helped / not_helped reports in all")
    embedding_model: str = Field("", description="'ready', 'loading', 'not loaded' or 'off'")
    feedback_by_model: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="per consuming model: helped / not_helped reports")
    constraints_by_verdict: dict[str, int] = Field(
        default_factory=dict, description="proposed constraints: stored, merged into an existing one, rejected")
    rejection_rate: float = Field(0.0, description="rejected / proposed constraints")
    rejection_reasons: dict[str, int] = Field(default_factory=dict)
    trajectories_by_task_match: dict[str, int] = Field(
        default_factory=dict, description="how each trajectory's task was found: 'id' (the caller named it), 'text' "
        "(its own text), 'similar' (joined to a stored task it restates); older and imported ones are not counted")
    tasks_joined: int = Field(0, description="task texts joined to a stored task they restate")


def bank_status(bank: Bank, embeddings: bool = True) -> Status:
    outcomes = bank.counter("trajectories", "outcome")
    fb = bank.feedback_counts(by="model")
    verdicts = bank.counter("verdicts", "verdict")
    proposed = sum(verdicts.values())
    reasons = bank.counter("verdicts", "reason", "verdict = 'rejected'")
    return Status(
        store=str(bank.path),
        trajectories=sum(outcomes.values()),
        trajectories_by_outcome=dict(outcomes),
        tasks=len(bank.counter("trajectories", "task_id")),
        pairs_by_status=dict(bank.counter("pairs", "status")),
        records=bank.count("records"),
        records_by_category=dict(bank.counter("records", "category").most_common()),
        models=dict(bank.counter("trajectories", "model").most_common()),
        feedback={"helped": sum(c["helped"] for c in fb.values()),
                  "not_helped": sum(c["not_helped"] for c in fb.values())},
        embedding_model=embed_state() if embeddings else "off",
        feedback_by_model=fb,
        constraints_by_verdict=dict(verdicts),
        rejection_rate=round(verdicts.get("rejected", 0) / proposed, 4) if proposed else 0.0,
        rejection_reasons=dict(sum((Counter({r.split(" (")[0]: n}) for r, n in reasons.items()), Counter())),
        trajectories_by_task_match=match_counts(bank),
        tasks_joined=bank.count("task_links"),
    )
