"""Removing racing duplicates of a content-hash id from a bank on object storage (a maintenance step).

On object storage two servers may insert the same new id at the same moment (no lock reaches another
machine). Readers never see both rows — every Bank read keeps the first row per id — and this step deletes
the later copies, in one commit per table, by row id: the row readers already saw stays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .bank import Bank

CHUNK = 1000


def remove_duplicates(bank: Bank, name: str) -> int:
    """Delete every row of table `name` whose id an earlier row already has; returns how many went."""
    from .bank import retry

    tbl = bank.table(name) if name in bank._tables else bank.connect().open_table(name)
    if "id" not in tbl.schema.names:
        return 0
    rows = tbl.search().with_row_id(True).select(["id"]).limit(None).to_arrow()
    first: dict[str, int] = {}
    extra: list[int] = []
    for key, rowid in sorted(zip(rows.column("id").to_pylist(), rows.column("_rowid").to_pylist(), strict=True),
                             key=lambda kr: kr[1]):
        if key in first:
            extra.append(int(rowid))
        else:
            first[key] = rowid
    for i in range(0, len(extra), CHUNK):
        chunk = ", ".join(str(r) for r in extra[i:i + CHUNK])
        retry(lambda c=chunk: tbl.delete(f"_rowid IN ({c})"), f"dedup {name}")
    return len(extra)
