"""No blind spot after an import (issue 9): `memcollab import` embeds what it imported, so a server started
right after classifies untagged tasks against the whole bank; while records still lack vectors an untagged
query waits for the backfill or says `classified_by: "partial"` — never a silent half answer.
Real packaged embedding model, real LanceDB, a real stdio server; task data from bench/tasksets.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import call, import_records, record_line, stdio_client
from memcollab.server import cli
from memcollab.store.bank import Bank
from memcollab.store.embed import get_embedder
from memcollab.store.retrieve import retrieve
from memcollab.store.taxonomy import default_taxonomy
from memcollab.store.vectors import add_record_vectors, coverage

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import tasksets  # noqa: E402

C = ("a rule applies", "check the condition", "skipping the check")


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def _bank_file(tmp_path: Path) -> tuple[Path, list]:
    train, test = tasksets.split(tasksets.load(8, families=tasksets.FAMILIES[:10]))
    f = tmp_path / "bank.jsonl"
    f.write_text("\n".join(tasksets.record_lines(train)) + "\n")
    return f, test


async def _precision(client, test: list) -> tuple[list[str], float]:
    """Top categories per held-out task (untagged), and category precision@3; every answer must have seen
    the whole bank."""
    cats, hits = [], 0
    for t in test:
        r = await call(client, "get_constraints", {"task": t.text})
        assert r["classified_by"] == "server" and r["records_seen"] == r["records_total"], r
        got = [x["category"] for x in r["records"]]
        cats.append("|".join(got))
        hits += sum(c == t.category for c in got)
    return cats, hits / (3 * len(test))


@pytest.mark.anyio
async def test_import_then_start_then_untagged_query_at_once(tmp_path, embedder):
    f, test = _bank_file(tmp_path)
    store = tmp_path / "s"
    assert cli.main(["import", str(f), "--store", str(store)]) == 0
    seen, total = coverage(Bank(store), embedder)
    assert total > 0 and seen == total  # the import embedded every record it stored
    # a generous bound for loading the model on a busy machine; what is tested is that no answer is partial
    async with stdio_client(store, MEMCOLLAB_AUTO_MAINTAIN="0", MEMCOLLAB_EMBED_WAIT="300") as c:
        first, p_first = await _precision(c, test)  # the first queries after start
        later, p_later = await _precision(c, test)
    assert first == later and p_first == p_later >= 0.85


def test_untagged_query_on_a_half_embedded_bank_says_partial(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    lines = [record_line("Geometry", "Circles", f"Find the area of circle number {i} with radius {i}.", C)
             for i in range(6)]
    lines += [record_line("Number Theory", "Modular Arithmetic", f"Find {i}^10 mod 7.", C) for i in range(6)]
    import_records(bank, lines)
    recs = bank.records()
    add_record_vectors(bank, embedder, recs[:5])
    r = retrieve(bank, "What is the area of a circle of radius 9?", embedder=embedder, taxonomy=default_taxonomy())
    assert r.classified_by == "partial" and (r.records_seen, r.records_total) == (5, 12)
    add_record_vectors(bank, embedder, recs[5:])
    r = retrieve(bank, "What is the area of a circle of radius 9?", embedder=embedder, taxonomy=default_taxonomy())
    assert r.classified_by == "server" and (r.records_seen, r.records_total) == (12, 12)
    assert r.category == "Geometry"


@pytest.mark.slow
@pytest.mark.anyio
async def test_import_without_vectors_then_the_first_untagged_query_waits_for_the_backfill(tmp_path, embedder):
    f, test = _bank_file(tmp_path)
    store = tmp_path / "s"
    assert cli.main(["import", str(f), "--store", str(store), "--no-vectors"]) == 0
    assert coverage(Bank(store), embedder)[0] == 0
    async with stdio_client(store, MEMCOLLAB_AUTO_MAINTAIN="0", MEMCOLLAB_EMBED_WAIT="300") as c:
        _, p_first = await _precision(c, test)
        _, p_later = await _precision(c, test)
    assert p_first == p_later >= 0.85


def test_a_vector_reader_never_sees_a_new_version_before_the_writer_updated_the_index(tmp_path, embedder,
                                                                                        monkeypatch):
    """As for trajectories and pairs (tests/store/test_hot_path.py): the vector index's lock is held across the append and
    the in-place update, so a reader in another thread waits for both and then reloads nothing."""
    import threading

    from memcollab.store import vectors

    bank = Bank(tmp_path / "store")
    import_records(bank, [record_line("Geometry", "Circles", "circle area", C),
                          record_line("Algebra", "Linear", "solve for x", C)])
    records = bank.records()
    add_record_vectors(bank, embedder, records[:1])
    assert vectors.vector_index(bank, embedder).records == 1
    app = bank.appender(vectors.table_name(embedder.dim))
    written, release = threading.Event(), threading.Event()
    real_add = app.add

    def add_then_pause(data):  # the real append, then a pause before the writer updates the index
        out = real_add(data)
        written.set()
        release.wait(60)
        return out

    monkeypatch.setattr(app, "add", add_then_pause)
    loads: list[int] = []
    real_load = vectors._load
    monkeypatch.setattr(vectors, "_load", lambda b, e: loads.append(1) or real_load(b, e))
    writer = threading.Thread(target=add_record_vectors, args=(bank, embedder, records[1:]), daemon=True)
    writer.start()
    assert written.wait(60)
    seen: list = []
    reader = threading.Thread(target=lambda: seen.append(vectors.vector_index(bank, embedder)), daemon=True)
    reader.start()
    reader.join(0.5)
    assert reader.is_alive()  # waiting for the writer's update
    release.set()
    writer.join(60)
    reader.join(60)
    assert seen[0].ids == {"vr-" + r.id for r in records} and loads == []
