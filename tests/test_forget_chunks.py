"""forget over more ids than one filter chunk, and what its tombstones record."""

from __future__ import annotations

from conftest import traj
from memcollab.distill.pairing import pair_task
from memcollab.store import forget as forget_module
from memcollab.store.bank import Bank
from memcollab.store.forget import forget
from memcollab.store.models import TrajectoryIn, now


def _pairs_with(bank: Bank, bad: str, n: int) -> None:
    for i in range(n):
        ts = [TrajectoryIn(**traj(f"Chunked task {i}: solve for x.", "good-model", "correct")).to_trajectory(),
              TrajectoryIn(**traj(f"Chunked task {i}: solve for x.", bad, "incorrect", answer="7")).to_trajectory()]
        bank.add_trajectories(ts)
        pair_task(bank, ts[0].task_id)


def test_every_chunk_of_a_models_trajectories_loses_its_pairs(tmp_path, monkeypatch):
    # a model with more trajectories than one `IN (...)` filter holds (CHUNK, 500): shrunk to 1 here, so
    # three trajectories take three chunks and every chunk's pairs must be collected
    monkeypatch.setattr(forget_module, "CHUNK", 1)
    bank = Bank(tmp_path / "s")
    _pairs_with(bank, "bad-model", 3)
    assert bank.count("pairs") == 3
    report = forget(bank, model="bad-model")
    assert (report.trajectories, report.pairs) == (3, 3)
    assert bank.count("pairs") == 0 and bank.count("trajectories") == 3
    assert {r["kind"] for r in bank._select("forgotten", "kind = 'pair'")} == {"pair"}
    assert bank.count("forgotten") == 3 + 3 + 1  # trajectories, pairs, the model


def test_a_tombstone_says_when_and_why(tmp_path):
    bank = Bank(tmp_path / "s")
    _pairs_with(bank, "bad-model", 1)
    before = now()
    forget(bank, model="bad-model", reason="wrong units everywhere")
    after = now()
    rows = bank._select("forgotten")
    assert len(rows) == 3
    for row in rows:
        assert row["reason"] == "wrong units everywhere"
        assert before <= row["created_at"] <= after, row


def test_forgetting_a_record_removes_its_vectors(tmp_path):
    from conftest import import_records, record_line
    from memcollab.store.embed import get_embedder
    from memcollab.store.vectors import add_record_vectors, vector_index

    embedder = get_embedder()
    bank = Bank(tmp_path / "s")
    import_records(bank, [record_line("Geometry", "Circles", f"Find the area of circle {i}.",
                                      ("a rule applies", "check the condition", "skipping the check"))
                          for i in range(2)])
    gone, kept = bank.records()
    add_record_vectors(bank, embedder, [gone, kept])
    forget(bank, record_id=gone.id)
    assert vector_index(Bank(bank.path), embedder).ids == {"vr-" + kept.id}
