"""The distillation prompt (versioned text in prompt_v1.txt) and the messages built from one contrast pair.

Trajectories are data, never instructions: they are fenced between markers carrying a random nonce that a
submitted trajectory cannot predict, any marker look-alike inside them is defused, and the system message
says the fenced text is data. Model names never appear in the prompt.
"""

from __future__ import annotations

import re
import secrets
from functools import cache
from importlib import resources

from memcollab.store.models import Trajectory

PROMPT_VERSION = "contrast-v1"
_FENCE = re.compile(r"</?\s*data-[^>]*>", re.I)


@cache
def template() -> str:
    return (resources.files("memcollab.distill") / "prompt_v1.txt").read_text("utf-8")


def defuse(text: str) -> str:
    """Client text with every look-alike of a fence marker neutralized."""
    return _FENCE.sub("[marker removed]", text)


_defuse = defuse  # the older name, still imported elsewhere


def new_nonce() -> str:
    return secrets.token_hex(6)


def fenced(body: str, nonce: str) -> str:
    """`body` (client parts already passed through `defuse`) between the nonce-tagged data markers."""
    return f"<data-{nonce}>\n{body}\n</data-{nonce}>"


def solution_text(t: Trajectory) -> str:
    """A trajectory's steps and final answer, defused, without its model's name."""
    steps = "\n".join(f"  step {i + 1}: {defuse(s)}" for i, s in enumerate(t.steps)) or "  (no steps given)"
    return f"{steps}\n  final answer: {defuse(t.final_answer)}"


def instructions(taxonomy_text: str, nonce: str) -> str:
    return template().format(nonce=nonce, taxonomy=taxonomy_text)


def contrast_text(task: str, preferred: Trajectory, unpreferred: Trajectory, nonce: str) -> str:
    body = (f"TASK:\n{defuse(task)}\n\nSolution A (correct):\n{solution_text(preferred)}\n\n"
            f"Solution B (incorrect):\n{solution_text(unpreferred)}")
    return fenced(body, nonce) + "\n\nReturn the JSON object now."


def build_messages(task: str, preferred: Trajectory, unpreferred: Trajectory, taxonomy_text: str,
                   nonce: str | None = None) -> list[dict[str, str]]:
    nonce = nonce or new_nonce()
    return [{"role": "system", "content": instructions(taxonomy_text, nonce)},
            {"role": "user", "content": contrast_text(task, preferred, unpreferred, nonce)}]
