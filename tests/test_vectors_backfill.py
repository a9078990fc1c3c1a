"""The vector table's backfill and the classifier's threshold, with the real packaged embedding model over
real LanceDB in a temp dir."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import import_records, record_line
from memcollab.store.bank import Bank
from memcollab.store.classify import classify
from memcollab.store.embed import get_embedder
from memcollab.store.models import TrajectoryIn
from memcollab.store.vectors import backfill, coverage, vector_index


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def _fill(bank) -> None:
    import_records(bank, [
        record_line("math", "algebra", "Solve 2x + 3 = 7", ("a linear equation", "isolate x", "guessing")),
        record_line("math", "algebra", "Solve 5x = 20", ("a linear equation", "divide both sides", "guessing"))])
    bank.add_trajectories([
        TrajectoryIn(task="Solve 3x - 1 = 8", model="m", outcome="correct", final_answer="3", category="math",
                     subcategory="algebra").to_trajectory(),
        TrajectoryIn(task="Solve 4x = 12", model="m", outcome="correct", final_answer="3", category="math",
                     subcategory="algebra").to_trajectory(),
        TrajectoryIn(task="An untagged task", model="m", outcome="correct", final_answer="1").to_trajectory()])


def test_backfill_embeds_records_and_tagged_tasks_once(bank, embedder):
    _fill(bank)
    assert backfill(bank, embedder) == 4  # two records, two tagged tasks; the untagged one has no tag to vote
    index = vector_index(bank, embedder)
    assert sorted(r["kind"] for r in index.rows) == ["record", "record", "task", "task"]
    tasks = {r["ref_id"]: (r["category"], r["subcategory"]) for r in index.rows if r["kind"] == "task"}
    assert set(tasks.values()) == {("math", "algebra")}
    assert all(r["id"] == "vt-" + r["ref_id"] for r in index.rows if r["kind"] == "task")
    assert coverage(bank, embedder) == (2, 2)
    assert backfill(bank, embedder) == 0  # nothing is embedded twice


def test_a_confidence_equal_to_the_threshold_is_enough(bank, embedder):
    _fill(bank)
    backfill(bank, embedder)
    got = classify(bank, embedder, "Solve 7x = 14", threshold=1.0)  # every vote is math/algebra: confidence 1.0
    assert (got.category, got.subcategory, got.confidence) == ("math", "algebra", 1.0)


def test_another_process_loads_the_same_vectors_from_the_table(bank, embedder):
    _fill(bank)
    backfill(bank, embedder)
    mine = vector_index(bank, embedder)
    fresh = vector_index(Bank(bank.path), embedder)  # empty caches: read back from the vector table
    assert sorted(r["id"] for r in fresh.rows) == sorted(r["id"] for r in mine.rows) and len(fresh.rows) == 4
    assert fresh.records == 2 and fresh.ids == mine.ids
    by_id = {r["id"]: r for r in fresh.rows}
    assert all(by_id[r["id"]] == r for r in mine.rows)  # kind, ref_id and tags too
    assert np.allclose(fresh.matrix[[fresh.rows.index(by_id[r["id"]]) for r in mine.rows]], mine.matrix)


def test_each_taxonomy_gets_its_own_vectors(tmp_path, bank, embedder):
    import json

    from memcollab.store.taxonomy import load_taxonomy

    def one(name: str, sub: str, what: str):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"domain": "only", "categories": [
            {"name": name, "subcategories": [{"name": sub, "description": what}]}]}))
        tax = load_taxonomy(path)
        tax.domains = [d for d in tax.domains if d.domain == "only"]
        return tax

    cooking = one("Cooking", "Bread", "baking bread with yeast and flour")
    music = one("Music", "Guitar", "playing chords on a guitar")
    assert classify(bank, embedder, "How long should bread dough rise?", taxonomy=cooking).category == "Cooking"
    assert classify(bank, embedder, "How do I tune a guitar?", taxonomy=music).category == "Music"
