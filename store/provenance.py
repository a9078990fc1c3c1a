"""Who sent what: the token name behind each trajectory, feedback and forget that came over HTTP.

A team's bank is fed by many agents; each holds its own token, so the token's name says which agent of the
team sent a write. Rows (kind, ref, sent_by, created_at) are appended to the `provenance` table: `kind` is
`trajectory` (ref: the trajectory id), `feedback` (ref: the record the feedback was about) or `forget`
(ref: `record:ID`, `model:NAME` or `agent:NAME`). The id hashes (kind, ref, sent_by), so one agent sending
the same trajectory twice reads as one row, and two agents sending it as two rows: both sent it.

Rows are appended without a check (a repeat is hidden on read, like every duplicate id: `Bank._select`), and
the rows of concurrent requests in one process share one commit (store/group_commit.py): provenance costs a
write no extra lock and, under load, a fraction of a commit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .group_commit import GroupCommit
from .models import content_id

if TYPE_CHECKING:
    from .bank import Bank

TABLE = "provenance"


def _table(bank: Bank) -> Any:
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("ref", pa.string()),
                        ("sent_by", pa.string()), ("created_at", pa.timestamp("us", tz="UTC"))])
    return bank.table(TABLE, schema)


def _append(bank: Bank, batches: list[list[dict[str, Any]]]) -> list[int]:
    from .bank import retry

    rows = [r for batch in batches for r in batch]
    _table(bank)
    tbl = bank.appender(TABLE)
    retry(lambda: tbl.add(rows), "append provenance")
    return [len(batch) for batch in batches]


def _committer(bank: Bank) -> GroupCommit[list[dict[str, Any]], int]:
    gc = bank.__dict__.get("_provenance_commit")
    if gc is None:
        with bank._lock:
            gc = bank.__dict__.setdefault("_provenance_commit", GroupCommit(lambda b: _append(bank, b)))
    return gc


async def record(bank: Bank, kind: str, refs: list[str], sent_by: str) -> int:
    """Append who sent these items; returns once the rows are committed. (Called from the server's event
    loop, like every caller of one GroupCommit.)"""
    stamp = datetime.now(UTC)
    rows = [{"id": "s-" + content_id("sent", kind, ref, sent_by), "kind": kind, "ref": ref, "sent_by": sent_by,
             "created_at": stamp} for ref in dict.fromkeys(refs)]
    return await _committer(bank).submit(rows) if rows else 0


def senders(bank: Bank, kind: str, ref: str) -> list[str]:
    """The token names that sent this item, in order."""
    from .bank import eq

    _table(bank)
    rows = bank._select(TABLE, f"{eq('kind', kind)} AND {eq('ref', ref)}")
    return [r["sent_by"] for r in sorted(rows, key=lambda r: r["created_at"])]
