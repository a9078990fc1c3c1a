"""The server's background indexer, in process (real packaged model, real LanceDB in a temp dir): it
embeds what is written after it started — records and tagged tasks — and reports coverage to a waiting
query. (test_import_vectors covers the same through a real stdio server, which no mutant reaches.)"""

from __future__ import annotations

import threading

import pytest

from conftest import import_records, record_line
from memcollab.store.bank import Bank
from memcollab.store.embed import get_embedder
from memcollab.store.models import TrajectoryIn
from memcollab.store.vectors import Indexer, coverage, vector_index

C = ("a rule applies", "check the condition", "skipping the check")
WAIT = 300  # generous: the model may still be loading on a busy machine; the wait ends when covered


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def _records(bank: Bank, start: int, n: int) -> None:
    import_records(bank, [record_line("Geometry", "Circles", f"Find the area of circle number {i}.", C)
                          for i in range(start, start + n)])


def _indexer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "memcollab-indexer"]


def _a_pass_that_began_now(indexer: Indexer) -> None:
    """Wait until a backfill pass that began after this call has ended: the pass running now (if any) may have
    read the tables before the caller's write, the next one has not."""
    with indexer._advanced:  # notified after every batch and every pass
        for _ in range(2):
            target = indexer.passes + 1
            indexer.poke()
            assert indexer._advanced.wait_for(lambda: indexer.passes >= target, timeout=WAIT)


def test_records_written_after_the_start_are_embedded_and_waited_for(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    _records(bank, 0, 3)
    indexer = Indexer(bank, get_embedder)
    threads = len(_indexer_threads())
    assert indexer.wait_covered(embedder, WAIT) == (3, 3)
    indexer.start()  # a second start does not start a second thread
    assert len(_indexer_threads()) == threads + 1
    assert indexer._thread.daemon  # it must never keep a server process from exiting
    assert not indexer.failed and indexer.passes >= 1
    # only the records table changes now: the indexer must notice that, not only trajectory writes
    _records(bank, 3, 2)
    assert coverage(bank, embedder) == (3, 5)
    assert indexer.wait_covered(embedder, WAIT) == (5, 5)


def test_a_tagged_task_written_later_gets_its_vector(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    _records(bank, 0, 1)
    indexer = Indexer(bank, get_embedder)
    assert indexer.wait_covered(embedder, WAIT) == (1, 1)
    t = TrajectoryIn(task="Find the area of a circle of radius 4.", model="m", outcome="correct", final_answer="16 pi",
                     category="Geometry", subcategory="Circles").to_trajectory()
    bank.add_trajectory(t)  # only the trajectories table changes
    _a_pass_that_began_now(indexer)
    assert "vt-" + t.task_id in vector_index(bank, embedder).ids and not indexer.failed


def test_an_indexer_without_a_model_stops_and_says_nothing_is_covered(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    _records(bank, 0, 2)

    def no_model():
        raise RuntimeError("no model here")

    indexer = Indexer(bank, no_model)
    indexer.start()
    indexer._thread.join(WAIT)
    assert not indexer._thread.is_alive() and indexer.passes == 0
    assert coverage(bank, embedder) == (0, 2)


def test_waiting_on_an_indexer_that_cannot_run_ends_at_the_timeout(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    _records(bank, 0, 2)

    def no_model():
        raise RuntimeError("no model here")

    # the thread ends at once and never reports a pass: the wait ends at its own timeout, partial
    assert Indexer(bank, no_model).wait_covered(embedder, 1.0) == (0, 2)


def test_a_failing_pass_is_flagged_and_ends_the_wait(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    _records(bank, 0, 2)

    class Failing:  # the real model's name and size; encoding fails (e.g. out of memory)
        name, dim = embedder.name, embedder.dim

        def encode(self, texts):
            raise RuntimeError("encode failed")

    indexer = Indexer(bank, Failing)
    assert indexer.wait_covered(embedder, WAIT) == (0, 2)
    assert indexer.failed and indexer.passes >= 1
