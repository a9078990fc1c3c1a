"""Checking a distiller's answer: JSON shape, at most 3 constraints, and bias suppression.

Bias suppression is checked, not hoped for. A constraint is rejected, with the reason recorded, when it
- contains a number that appears in the task or the trajectories, or any number of two or more digits;
- copies a phrase of 6 or more consecutive words from the task or the trajectories;
- contains code (backticks, calls, brackets, operators, keywords);
- names a model (the pair's models or a known model family);
- looks like injected instructions or markup (override phrases, role markers, URLs, secrets, HTML, canaries);
- repeats a constraint already accepted from the same answer.
More than 3 constraints: the first 3 valid ones are kept and the rest are rejected as "over limit".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, ValidationError

from memcollab.store.models import MAX_CONSTRAINTS, MAX_NAME, Constraint, Trajectory

PHRASE_WORDS = 6
MODEL_FAMILIES = ("gpt", "chatgpt", "openai", "claude", "anthropic", "qwen", "llama", "gemini", "gemma",
                  "mistral", "mixtral", "deepseek", "phi-", "grok", "command-r", "cohere", "yi-", "o1", "o3",
                  "o4-mini", "sonnet", "opus", "haiku")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CODE = re.compile(
    r"`|\bdef\s+\w+|\breturn\b|\bimport\s+\w|\blambda\b|[{}\[\]]|==|!=|<=|>=|:=|->|=>|\+=|-=|\*\*|"
    r"\b\w+\([^)]*\)|\bprint\b|\bself\.|;\s*$|\w+\.\w+\(")
_INJECTION = re.compile(
    r"ignore\b.{0,30}\b(instruction|previous|prior|above|rules)|disregard|system\s*(prompt|message)?\s*:|"
    r"\bsystem prompt\b|developer\s*:|assistant\s*:|\buser\s*:|<\|?/?\s*(im_start|im_end|system|tool|script|"
    r"iframe|img|a)\b|\[/?inst\]|###|https?://|www\.|\bapi[_ -]?key|password|secret|\b(?:api|auth|access|bearer)[_ -]?token|exfiltrat|"
    r"\bcanary|\b[A-Z]{3,}-\d+\b|!\[|\]\(|<[a-z/!][^>]*>|\bjailbreak|\bDAN\b|you must always|"
    r"\bnew instructions?\b|\boverride\b|\bforget (everything|all)\b|tool_call|function_call|\bcall the\b.{0,20}"
    r"\btool\b|\bstore this\b|\badd this constraint\b|\bas an ai\b",
    re.I)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


class DistillOutput(BaseModel):
    """The JSON a distiller returns."""

    category: str = Field(min_length=1, max_length=MAX_NAME)
    subcategory: str = Field(default="", max_length=MAX_NAME)
    constraints: list[dict] = Field(min_length=1, max_length=20)


class InvalidOutput(ValueError):
    pass


def parse_output(text: str) -> DistillOutput:
    """The distiller's reply as DistillOutput; tolerant of code fences and prose around the object."""
    s = (text or "").strip()
    if s.startswith("```"):
        s = re.sub(r"^```[a-zA-Z]*\s*|\s*```$", "", s)
    try:
        data = json.loads(s)
    except json.JSONDecodeError:
        start, end = s.find("{"), s.rfind("}")
        if start < 0 or end <= start:
            raise InvalidOutput("no JSON object in the reply") from None
        try:
            data = json.loads(s[start:end + 1])
        except json.JSONDecodeError as err:
            raise InvalidOutput(f"invalid JSON: {err}") from None
    if not isinstance(data, dict):
        raise InvalidOutput("the reply is JSON but not an object")
    try:
        return DistillOutput(**data)
    except (ValidationError, TypeError) as err:
        raise InvalidOutput(f"wrong shape: {str(err).splitlines()[0:3]}") from None


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _phrases(text: str) -> list[tuple[str, ...]]:
    """Every run of PHRASE_WORDS consecutive words, in order: what a constraint must not copy."""
    w = _words(text)
    return [tuple(w[i:i + PHRASE_WORDS]) for i in range(len(w) - PHRASE_WORDS + 1)]


@dataclass
class Source:
    """What a constraint must not copy from: the task, both trajectories, and the models' names."""

    task: str
    trajectories: list[Trajectory]
    numbers: set[str] = field(default_factory=set)
    shingles: set[tuple[str, ...]] = field(default_factory=set)
    models: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        texts = [self.task] + [x for t in self.trajectories for x in (*t.steps, t.final_answer)]
        for text in texts:
            self.numbers.update(n.replace(",", "") for n in _NUMBER.findall(text))
            self.shingles.update(_phrases(text))
        for t in self.trajectories:
            for name in (t.model, t.agent or ""):
                name = name.strip().lower()
                if len(name) >= 3:
                    self.models.add(name)
                    self.models.update(p for p in re.split(r"[/:@\s]", name) if len(p) >= 3)


def check(c: Constraint, src: Source) -> str | None:
    """Why this constraint must be rejected, or None."""
    text = f"{c.when} {c.enforce} {c.avoid}"
    low = text.lower()
    if _INVISIBLE.search(text):
        return "invisible or direction-control characters"
    if _INJECTION.search(text):
        return "looks like instructions or markup, not a reasoning constraint"
    for n in _NUMBER.findall(text):
        n = n.replace(",", "")
        if n in src.numbers or len(n.split(".")[0]) >= 2:
            return f"copies a number from the task or trajectories ({n})"
    for phrase in _phrases(text):
        if phrase in src.shingles:
            return f"copies a phrase from the task or trajectories ({' '.join(phrase)!r})"
    if _CODE.search(text):
        return "contains code"
    for name in src.models:
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", low):
            return f"names a model ({name})"
    for fam in MODEL_FAMILIES:
        if re.search(rf"(?<![\w-]){re.escape(fam)}", low):
            return f"names a model family ({fam.strip('-')})"
    if any(len(_words(x)) < 2 for x in (c.when, c.enforce, c.avoid)):
        return "a clause is too short to be a constraint"
    return None


@dataclass
class Verdict:
    constraints: list[Constraint]
    rejected: list[tuple[str, str]]  # (constraint text or raw item, reason)


def validate(output: DistillOutput, src: Source) -> Verdict:
    kept: list[Constraint] = []
    rejected: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in output.constraints:
        try:
            c = Constraint(**{k: raw.get(k) for k in ("when", "enforce", "avoid")})
        except (ValidationError, TypeError, AttributeError) as err:
            rejected.append((json.dumps(raw, ensure_ascii=False)[:600], f"malformed: {str(err).splitlines()[0]}"))
            continue
        key = normalize(c)
        reason = check(c, src)
        if reason is None and key in seen:
            reason = "repeats another constraint in the same answer"
        if reason is None and len(kept) >= MAX_CONSTRAINTS:
            reason = "over limit (at most 3 constraints per record)"
        if reason:
            rejected.append((c.text(), reason))
            continue
        seen.add(key)
        kept.append(c)
    return Verdict(kept, rejected)


def normalize(c: Constraint) -> str:
    """The text two constraints share when they say the same thing in the same words."""
    return " ".join(_words(c.text()))
