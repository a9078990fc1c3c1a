"""What memcollab stores: trajectories, contrast pairs, memory records and their constraints.

Every client string enters through these models, so the size limits live here (docs/how-it-works.md, "Limits").
Ids are content hashes: the same trajectory submitted twice gets the same id and is stored once.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from .redact import redact

SCHEMA_VERSION = 2  # 2: records.outcome_sources (store/bank.py adds the column to a version-1 store)

MAX_TASK = 20_000
MAX_NAME = 200  # model, agent, task_id, category, subcategory
MAX_STEP = 20_000
MAX_STEPS = 200
MAX_TRAJECTORY = 200_000  # task + steps + final answer, in characters
MAX_ANSWER = 20_000
MAX_METADATA = 20_000  # serialized JSON characters
MAX_METADATA_DEPTH = 6
MAX_CONSTRAINT_FIELD = 600
MAX_CONSTRAINTS = 3
# Where Trajectory.outcome_source lives inside the stored metadata JSON (never taken from a client's metadata).
OUTCOME_SOURCE_KEY = "memcollab.outcome_source"
# Where Trajectory.task_match lives inside the stored metadata JSON (as outcome_source: never a client's).
TASK_MATCH_KEY = "memcollab.task_match"

Outcome = Literal["correct", "incorrect", "unknown"]
PairStatus = Literal["pending", "distilled", "failed", "skipped"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def now() -> datetime:
    return datetime.now(UTC)


def content_id(kind: str, *parts: object) -> str:
    """A stable id from content: sha256 over a canonical JSON of the parts, 24 hex chars."""
    blob = json.dumps([kind, *parts], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def task_id_for(task: str) -> str:
    """The default task id: a hash of the whitespace-normalized task text, so different agents that
    submit the same task without naming it still meet on one task id."""
    return "t-" + content_id("task", " ".join(task.split()))


def clean_text(value: str) -> str:
    """Drop control characters (keep tab/newline), lone surrogates, and redact secrets."""
    value = value.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(value) else value
    return redact(_CONTROL.sub("", value))


def clean_value(value: Any) -> Any:
    """clean_text applied to every string inside a JSON-like value (dict keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, dict):
        return {clean_value(k): clean_value(v) for k, v in value.items()}
    return value


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _depth(value: Any, level: int = 0) -> int:
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()], default=level + 1)
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value], default=level + 1)
    return level


def _name(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    value = clean_text(value).strip()
    if not value:
        return None
    if len(value) > MAX_NAME:
        raise ValueError(f"{field} is {len(value)} characters; the limit is {MAX_NAME}")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def compact_schema(schema: Any, resolve: Any) -> Any:
    """The same JSON schema, cheaper to check: `$ref`s inlined (`resolve` looks one up), `anyOf: [T, null]`
    written as `type: [T, "null"]`, titles dropped (descriptions kept). For models that do not nest themselves."""
    if isinstance(schema, list):
        return [compact_schema(s, resolve) for s in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return compact_schema(resolve(schema), resolve)
    out = {k: compact_schema(v, resolve) for k, v in schema.items() if k != "title"}
    alts = out.get("anyOf")
    if isinstance(alts, list) and len(alts) == 2 and {"type": "null"} in alts:
        (other,) = [a for a in alts if a != {"type": "null"}]
        if isinstance(other.get("type"), str) and "enum" not in other:
            del out["anyOf"]
            out.update(other)
            out["type"] = [other["type"], "null"]
    return out


class Answer(BaseModel):
    """A tool's structured answer. Clients check every answer against the published output schema (the Python
    SDK with jsonschema, on each call), so the schema is published compact: validating a get_constraints answer
    took 0.9 ms against pydantic's schema ($refs, anyOf for optional fields), 0.4 ms against this one."""

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        return compact_schema(handler.resolve_ref_schema(handler(core_schema)), handler.resolve_ref_schema)


STORED = {"stored": True}  # validation context for values already cleaned: rows read back from the store (see _Stored)


class _Stored(_Model):
    """An object the store writes. Every string in it is cleaned (control characters dropped, secrets
    redacted) when it is built, whichever path it came by: a submission, an import line that carries its
    own id, a distiller's output, a client's constraints."""

    @model_validator(mode="after")
    def _clean_strings(self, info: ValidationInfo) -> _Stored:
        if info.context and info.context.get("stored"):  # read back from the store: cleaned on the way in
            return self
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, str | list | dict):
                cleaned = clean_value(value)
                if cleaned != value:
                    object.__setattr__(self, name, cleaned)
        return self


class TrajectoryIn(_Model):
    """A trajectory as a client submits it (validated at the boundary)."""

    task: str
    model: str
    final_answer: str
    outcome: Outcome
    steps: list[str] = Field(default_factory=list)
    task_id: str | None = None
    agent: str | None = None
    category: str | None = None
    subcategory: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("outcome", mode="before")
    @classmethod
    def _outcome(cls, v: Any) -> Any:
        if isinstance(v, bool):
            return "correct" if v else "incorrect"
        if isinstance(v, str):
            v = v.strip().lower()
            return {"pass": "correct", "passed": "correct", "fail": "incorrect", "failed": "incorrect",
                    "wrong": "incorrect", "right": "correct"}.get(v, v)
        return v

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, v: Any) -> Any:
        # Clients send a list, a JSON-encoded list, or one string.
        if v is None:
            return []
        if isinstance(v, str):
            s = v.strip()
            if s.startswith("["):
                try:
                    parsed = json.loads(s)
                except json.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, list):
                    return [x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in parsed]
            return [v] if s else []
        return v

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata(cls, v: Any) -> Any:
        if v is None:
            return {}
        if isinstance(v, str):
            try:
                v = json.loads(v) if v.strip() else {}
            except json.JSONDecodeError:
                raise ValueError("metadata must be a JSON object") from None
        return v

    @model_validator(mode="after")
    def _limits(self) -> TrajectoryIn:
        self.task = clean_text(self.task).strip()
        if not self.task:
            raise ValueError("task is empty; send the task statement the agent solved")
        if len(self.task) > MAX_TASK:
            raise ValueError(f"task is {len(self.task)} characters; the limit is {MAX_TASK}")
        self.model = _name(self.model, "model") or ""
        if not self.model:
            raise ValueError("model is empty; send the model name, e.g. 'claude-sonnet-4' or 'qwen2.5-7b'")
        self.agent = _name(self.agent, "agent")
        self.task_id = _name(self.task_id, "task_id")
        self.category = _name(self.category, "category")
        self.subcategory = _name(self.subcategory, "subcategory")
        if self.subcategory and not self.category:
            raise ValueError("subcategory given without category; send both or neither")
        self.final_answer = clean_text(self.final_answer)
        if len(self.final_answer) > MAX_ANSWER:
            raise ValueError(f"final_answer is {len(self.final_answer)} characters; the limit is {MAX_ANSWER}")
        if len(self.steps) > MAX_STEPS:
            raise ValueError(f"{len(self.steps)} steps; the limit is {MAX_STEPS} (merge steps or summarize)")
        self.steps = [clean_text(s) for s in self.steps]
        for i, s in enumerate(self.steps):
            if len(s) > MAX_STEP:
                raise ValueError(f"step {i} is {len(s)} characters; the limit is {MAX_STEP}")
        total = len(self.task) + len(self.final_answer) + sum(len(s) for s in self.steps)
        if total > MAX_TRAJECTORY:
            raise ValueError(f"trajectory is {total} characters in all; the limit is {MAX_TRAJECTORY}")
        blob = json.dumps(self.metadata, ensure_ascii=False, default=str)
        if len(blob) > MAX_METADATA:
            raise ValueError(f"metadata is {len(blob)} characters as JSON; the limit is {MAX_METADATA}")
        if _depth(self.metadata) > MAX_METADATA_DEPTH:
            raise ValueError(f"metadata nests deeper than {MAX_METADATA_DEPTH} levels")
        self.metadata = clean_value(self.metadata)
        return self

    def to_trajectory(self, record_match: bool = False) -> Trajectory:
        """The trajectory to store. `record_match`: say how its task was found (the server's submissions;
        imports and direct writes leave `task_match` unset, so task matching never touches them)."""
        task_id = self.task_id or task_id_for(self.task)
        # The id hashes the task id the submission named or its text's: the same submission gets the same id
        # whether or not its text was later joined to another task (store/task_index.py).
        tid = content_id("trajectory", task_id, self.task, self.model, self.agent, self.steps,
                         self.final_answer, self.outcome)
        # A client that checked the answer itself (memcollab build/eval) says so with metadata label_source.
        verified = self.outcome != "unknown" and self.metadata.get("label_source") == "verifier"
        # Every string was cleaned by _limits above: skip the second pass (context STORED).
        match = {"by": "id" if self.task_id else "text", "task": task_id} if record_match else None
        return Trajectory.model_validate({"id": tid, "task_id": task_id,
                                          "outcome_source": "verifier" if verified else "caller",
                                          "task_match": match,
                                          **self.model_dump(exclude={"task_id"})}, context=STORED)


class TaskMatch(_Model):
    """How a trajectory's task was found: "id" (the caller named it), "text" (the same text, whitespace aside,
    or a new task), "similar" (the same task in other words: store/task_index.py; `score` is the cosine
    similarity of the two texts). `task` is the task id it was stored under."""

    by: Literal["id", "text", "similar"]
    task: str
    score: float | None = None


class Trajectory(_Stored):
    """One agent's attempt at one task: its reasoning steps, final answer and correctness label."""

    id: str
    task_id: str
    task: str
    model: str
    agent: str | None = None
    steps: list[str] = Field(default_factory=list)
    final_answer: str = ""
    outcome: Outcome
    # Who decided `outcome`: "caller" (the submitting client), "verifier" (the client checked the answer:
    # memcollab build/eval), or "judge:<model>:<prompt version>" (`memcollab judge` labelled an unknown one).
    outcome_source: str = "caller"
    category: str | None = None
    subcategory: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=now)
    # None for trajectories stored before task matching existed, and for imported ones that did not say.
    task_match: TaskMatch | None = None

    @property
    def length(self) -> int:
        return sum(len(s) for s in self.steps) + len(self.final_answer)


class ContrastPair(_Stored):
    """A correct trajectory (preferred, τ+) and an incorrect one (unpreferred, τ−) from a different
    model on the same task: the unit distillation works on. One pair per unpreferred trajectory."""

    id: str
    task_id: str
    preferred_id: str
    unpreferred_id: str
    preferred_model: str
    unpreferred_model: str
    status: PairStatus = "pending"
    attempts: int = 0
    last_error: str | None = None
    record_ids: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

    @staticmethod
    def make_id(task_id: str, unpreferred_id: str) -> str:
        return "p-" + content_id("pair", task_id, unpreferred_id)


class Constraint(_Model):
    """One abstract rule: When <when>, enforce <enforce>; avoid <avoid>."""

    when: str = Field(min_length=1, max_length=MAX_CONSTRAINT_FIELD)
    enforce: str = Field(min_length=1, max_length=MAX_CONSTRAINT_FIELD)
    avoid: str = Field(min_length=1, max_length=MAX_CONSTRAINT_FIELD)

    @field_validator("when", "enforce", "avoid", mode="after")
    @classmethod
    def _clean(cls, v: str) -> str:
        v = " ".join(clean_text(v).split())
        if not v:
            raise ValueError("must not be blank")
        return v

    def text(self) -> str:
        return f"When {self.when}, enforce {self.enforce}; avoid {self.avoid}."


class MemoryRecord(_Stored):
    """Up to 3 constraints distilled from contrast(s) on one task, tagged (category, subcategory),
    with provenance. `support` counts the contrasts that produced or re-confirmed them."""

    id: str
    category: str = Field(min_length=1, max_length=MAX_NAME)
    subcategory: str = Field(default="", max_length=MAX_NAME)
    constraints: list[Constraint] = Field(min_length=1, max_length=MAX_CONSTRAINTS)
    task: str = Field(default="", max_length=MAX_TASK)
    preferred_models: list[str] = Field(default_factory=list)
    unpreferred_models: list[str] = Field(default_factory=list)
    distiller: str = ""
    prompt_version: str = ""
    support: int = 1
    pair_ids: list[str] = Field(default_factory=list)
    # The outcome sources of the trajectories its contrasts came from ("caller", "verifier", "judge:…"), so a
    # record that rests on an LLM judge's label says so. Empty for records from older stores and imports.
    outcome_sources: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

    @property
    def judged(self) -> bool:
        return any(s.startswith("judge:") for s in self.outcome_sources)

    @staticmethod
    def make_id(category: str, subcategory: str, constraints: list[Constraint], task: str) -> str:
        return "r-" + content_id("record", category, subcategory, [c.model_dump() for c in constraints], task)

    def search_text(self) -> str:
        """What BM25 and the embedder see: the source task and the constraints."""
        return "\n".join([self.task, *(c.text() for c in self.constraints)])


class Feedback(_Stored):
    """A consuming agent's report of whether a retrieved record helped. Appended, never updated."""

    id: str
    record_id: str
    helped: bool
    model: str = ""
    created_at: datetime = Field(default_factory=now)


class ConstraintVerdict(_Stored):
    """What became of one constraint a distiller proposed: stored (new), merged (raised the support of an
    existing one) or rejected (with the validator's reason). Appended, never updated; memory_status reports
    the rejection rate from these."""

    id: str
    pair_id: str
    verdict: Literal["stored", "merged", "rejected"]
    reason: str = ""
    text: str = ""
    distiller: str = ""
    created_at: datetime = Field(default_factory=now)
