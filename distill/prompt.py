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


def _defuse(text: str) -> str:
    return _FENCE.sub("[marker removed]", text)


def _solution(t: Trajectory) -> str:
    steps = "\n".join(f"  step {i + 1}: {_defuse(s)}" for i, s in enumerate(t.steps)) or "  (no steps given)"
    return f"{steps}\n  final answer: {_defuse(t.final_answer)}"


def instructions(taxonomy_text: str, nonce: str) -> str:
    return template().format(nonce=nonce, taxonomy=taxonomy_text)


def contrast_text(task: str, preferred: Trajectory, unpreferred: Trajectory, nonce: str) -> str:
    return (f"<data-{nonce}>\nTASK:\n{_defuse(task)}\n\nSolution A (correct):\n{_solution(preferred)}\n\n"
            f"Solution B (incorrect):\n{_solution(unpreferred)}\n</data-{nonce}>\n\n"
            "Return the JSON object now.")


def build_messages(task: str, preferred: Trajectory, unpreferred: Trajectory, taxonomy_text: str,
                   nonce: str | None = None) -> list[dict[str, str]]:
    nonce = nonce or secrets.token_hex(6)
    return [{"role": "system", "content": instructions(taxonomy_text, nonce)},
            {"role": "user", "content": contrast_text(task, preferred, unpreferred, nonce)}]
