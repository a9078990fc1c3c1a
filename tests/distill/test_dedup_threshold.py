"""Embedding dedup at its threshold (cosine ≥ 0.90, docs/how-it-works.md): a paraphrase in the same tag merges
into the existing record; a different rule in the same tag — even a close one — is stored as its own record.
Uses the real packaged embedding model."""

from __future__ import annotations

import pytest

from memcollab.distill.pairing import pair_task
from memcollab.distill.store_constraints import store_distilled
from memcollab.distill.validate import DistillOutput
from memcollab.store.bank import Bank
from memcollab.store.embed import get_embedder
from memcollab.store.models import Constraint, TrajectoryIn

EXISTING = {"when": "isolating an unknown in a linear equation",
            "enforce": "apply each inverse operation to both sides and check by substitution",
            "avoid": "moving a term across the equals sign without flipping its sign"}
CASES = {  # name: (constraint, cosine to EXISTING with all-MiniLM-L6-v2, merges?)
    "paraphrase": ({"when": "isolating the unknown in a linear equation",
                    "enforce": "apply every inverse operation to both sides and verify by substitution",
                    "avoid": "moving a term across the equals sign without changing its sign"}, 0.98, True),
    "close but different rule": ({"when": "isolating an unknown in a system of linear equations",
                                  "enforce": "eliminate one variable at a time and check by substitution",
                                  "avoid": "adding equations without aligning the terms"}, 0.82, False),
    "unrelated rule": ({"when": "a word problem mixes several units",
                        "enforce": "convert every quantity to one unit first",
                        "avoid": "adding quantities measured in different units"}, 0.29, False),
}


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def _pair(bank: Bank, n: int):
    task = f"Solve the equation of case {n} for its unknown."
    a = TrajectoryIn(task=task, model="m1", outcome="correct", final_answer="ok").to_trajectory()
    b = TrajectoryIn(task=task, model="m2", outcome="incorrect", final_answer="no").to_trajectory()
    bank.add_trajectories([a, b])
    pair_task(bank, a.task_id)
    return next(p for p in bank.pairs() if p.task_id == a.task_id)


@pytest.mark.parametrize("name", sorted(CASES))
def test_dedup_merges_paraphrases_only(tmp_path, embedder, name):
    constraint, cosine, merges = CASES[name]
    vecs = embedder.encode([Constraint(**EXISTING).text(), Constraint(**constraint).text()])
    assert float(vecs[0] @ vecs[1]) == pytest.approx(cosine, abs=0.02)  # where the case sits against 0.90
    bank = Bank(tmp_path / "s")
    out = lambda c: DistillOutput(category="Algebra", subcategory="Linear Equations", constraints=[c])  # noqa: E731
    first = store_distilled(bank, _pair(bank, 1), out(EXISTING), "d", "v", embedder)
    second = store_distilled(bank, _pair(bank, 2), out(constraint), "d", "v", embedder)
    assert (second.merged, second.stored) == ((1, 0) if merges else (0, 1))
    assert bank.count("records") == (1 if merges else 2)
    assert bank.get_records([first.record_id])[first.record_id].support == (2 if merges else 1)
