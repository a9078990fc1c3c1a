"""Who sent what: the token name behind each trajectory, feedback and forget that came over HTTP.

A team's bank is fed by many agents; each holds its own token, so the token's name says which agent of the
team sent a write. Rows (kind, ref, sent_by, created_at) are appended to the `provenance` table: `kind` is
`trajectory` (ref: the trajectory id), `feedback` (ref: the record the feedback was about) or `forget`
(ref: `record:ID`, `model:NAME` or `agent:NAME`). The id hashes (kind, ref, sent_by), so one agent sending
the same trajectory twice is one row, and two agents sending it are two rows: both sent it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .models import content_id

if TYPE_CHECKING:
    from .bank import Bank

TABLE = "provenance"


def _table(bank: Bank) -> Any:
    import pyarrow as pa

    schema = pa.schema([("id", pa.string()), ("kind", pa.string()), ("ref", pa.string()),
                        ("sent_by", pa.string()), ("created_at", pa.timestamp("us", tz="UTC"))])
    return bank.table(TABLE, schema)


def record(bank: Bank, kind: str, refs: list[str], sent_by: str) -> int:
    _table(bank)
    stamp = datetime.now(UTC)
    rows = [{"id": "s-" + content_id("sent", kind, ref, sent_by), "kind": kind, "ref": ref, "sent_by": sent_by,
             "created_at": stamp} for ref in dict.fromkeys(refs)]
    return bank._insert(TABLE, rows)


def senders(bank: Bank, kind: str, ref: str) -> list[str]:
    """The token names that sent this item, in order."""
    from .bank import eq

    _table(bank)
    rows = bank._select(TABLE, f"{eq('kind', kind)} AND {eq('ref', ref)}")
    return [r["sent_by"] for r in sorted(rows, key=lambda r: r["created_at"])]
