"""One-at-a-time work across machines: a lease row with an expiry, kept in the bank itself.

A file lock reaches only the processes of one machine. A bank on object storage is shared by servers on
many machines, so maintenance takes a lease instead: a row (name, holder, expires_at) in the `leases` table.
Taking it is one conditional update — `holder = me, expires_at = now + ttl WHERE name = N AND (expires_at <
now OR holder = me)` — and LanceDB re-evaluates the condition when two such updates race (a commit conflict
is retried against the newer version), so exactly one contender updates the row (checked with 4 processes on
a local S3 server: one winner per round). A holder that dies leaves the lease to expire; clocks of the
servers must agree to well within the ttl.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bank import Bank

log = logging.getLogger("memcollab.lease")
TABLE = "leases"
EXPIRED = datetime.fromtimestamp(0, UTC)  # an expiry long past: the lease is free


def _table(bank: Bank) -> Any:
    import pyarrow as pa

    schema = pa.schema([("name", pa.string()), ("holder", pa.string()),
                        ("expires_at", pa.timestamp("us", tz="UTC"))])
    return bank.table(TABLE, schema)


def _ts(t: datetime) -> str:
    return f"timestamp '{t.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}'"


class Lease:
    def __init__(self, bank: Bank, name: str, ttl: timedelta):
        from .bank import eq

        self.bank, self.name, self.ttl = bank, name, ttl
        self.holder = secrets.token_hex(8)
        self._where_name = eq("name", name)

    def acquire(self) -> bool:
        from .bank import retry, sql_str

        tbl = _table(self.bank)
        if tbl.count_rows(self._where_name) == 0:
            # Two servers may both add the row; both copies are updated together below, so that is harmless.
            retry(lambda: tbl.add([{"name": self.name, "holder": "", "expires_at": EXPIRED}]),
                  "add lease row")
        now = datetime.now(UTC)
        cond = f"{self._where_name} AND (expires_at < {_ts(now)} OR holder = {sql_str(self.holder)})"
        result = retry(lambda: tbl.update(where=cond, values={"holder": self.holder, "expires_at": now + self.ttl}),
                       "take lease")
        if not result.rows_updated:  # lancedb 0.40's UpdateResult
            return False
        return self.held()

    def held(self) -> bool:
        rows = _table(self.bank).search().where(self._where_name).select(["holder", "expires_at"]).to_list()
        now = datetime.now(UTC)
        return bool(rows) and all(r["holder"] == self.holder and r["expires_at"] > now for r in rows)

    def renew(self) -> bool:
        """Push the expiry out; False when the lease was lost (expired and taken by another server)."""
        return self.acquire()

    def release(self) -> None:
        from .bank import retry, sql_str

        tbl = _table(self.bank)
        try:
            retry(lambda: tbl.update(where=f"{self._where_name} AND holder = {sql_str(self.holder)}",
                                     values={"expires_at": EXPIRED}), "release lease")
        except Exception:  # it expires by itself
            log.warning("could not release lease %s; it expires at the latest in %s", self.name, self.ttl)


class _FileHeld:
    """A held file lock: it lasts as long as the process, so there is nothing to renew."""

    def renew(self) -> bool:
        return True


@contextmanager
def one_at_a_time(bank: Bank, name: str, ttl: timedelta) -> Iterator[Lease | _FileHeld | None]:
    """Local store: a non-blocking file lock in the store directory; object storage: a lease. Yields None
    when another process (or server) holds it."""
    if bank.location.path is not None:
        from filelock import FileLock, Timeout

        lock = FileLock(str(bank.location.path / f".{name}.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            yield None
            return
        try:
            yield _FileHeld()
        finally:
            lock.release()
        return
    lease = Lease(bank, name, ttl)
    if not lease.acquire():
        yield None
        return
    try:
        yield lease
    finally:
        lease.release()
