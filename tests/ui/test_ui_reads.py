"""The dashboard's reads without a browser: paging by row id stays right after maintenance moves rows, and
the per-version cache answers again only when a table changed."""

from __future__ import annotations

from memcollab.store.bank import Bank
from memcollab.store.forget import forget
from memcollab.store.maintain import maintain
from memcollab.ui import reads
from support.ui_bank import fill


def test_a_page_read_with_a_stale_index_still_shows_the_right_records(bank: Bank):
    ids = fill(bank)
    stale = reads.record_index(bank)
    forget(bank, record_id=ids["Geometry"])
    maintain(bank)  # compaction: row ids of the remaining records move
    page = reads.record_page(bank, stale, None, None, 1)
    fresh = {r.id: r for r in bank.records()}
    assert [r.id for r in page.items] == [i for i in stale.column("id").to_pylist() if i in fresh]
    for r in page.items:
        assert r == fresh[r.id]  # each row is the record its id names, not whatever now sits at that row id


def test_version_cache_recomputes_only_after_a_write(bank: Bank):
    from conftest import import_records, record_line

    import_records(bank, [record_line("Algebra", "Linear", "t1", ("w", "enforce e", "avoid a"))])
    cache = reads.VersionCache(bank)
    calls = []

    def count() -> int:
        calls.append(1)
        return bank.count("records")

    assert cache.get("n", ("records",), count) == 1
    assert cache.get("n", ("records",), count) == 1 and len(calls) == 1
    import_records(Bank(bank.path), [record_line("Geometry", "Circles", "t2", ("w", "enforce f", "avoid b"))])
    assert cache.get("n", ("records",), count) == 2
