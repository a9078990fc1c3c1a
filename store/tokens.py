"""Bearer tokens for the HTTP server, kept in the bank itself.

Stored only as SHA-256 hashes (a token is 256 random bits, so a plain hash cannot be brute-forced) in the
`tokens` table, next to the data they guard: every server on the same store — one directory or one bucket —
honours the same tokens, and a token made for another store is unknown here.

Scopes are ordered: `read` < `write` < `admin`; a token holds its scope and every one below it.

`TokenChecker` answers "who is this?" per request from an in-process copy of the table, keyed by the
table's version: a request first reads the current version (one cheap metadata read), and the copy is
reloaded when it moved. So `memcollab token revoke` — on any machine — takes effect on the next request
of every server. `last_used` is written at most once a minute per token and server, in the background.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from .bank import Bank

log = logging.getLogger("memcollab.tokens")
TABLE = "tokens"
SCOPES = ("read", "write", "admin")
PREFIX = "mct_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
LAST_USED_EVERY = 60.0


class TokenInfo(BaseModel):
    name: str
    scope: str
    created_at: datetime
    last_used: datetime | None = None


def scopes_of(scope: str) -> list[str]:
    """The scopes a token of `scope` holds: its own and every lower one."""
    return list(SCOPES[:SCOPES.index(scope) + 1])


def token_hash(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _table(bank: Bank) -> Any:
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    schema = pa.schema([("name", pa.string()), ("hash", pa.string()), ("scope", pa.string()),
                        ("created_at", ts), ("last_used", ts)])
    return bank.table(TABLE, schema)


def add_token(bank: Bank, name: str, scope: str) -> str:
    """Make a token; returns it (the only time it exists in clear)."""
    from .bank import eq, retry

    if not NAME.match(name or ""):
        raise ValueError("a token name is 1-64 characters: letters, digits, '.', '_', '-', '@' "
                         "(e.g. the agent or person it is for)")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    tbl = _table(bank)
    if tbl.count_rows(eq("name", name)):
        raise ValueError(f"a token named {name!r} exists; revoke it first or pick another name")
    token = PREFIX + secrets.token_urlsafe(32)
    row = {"name": name, "hash": token_hash(token), "scope": scope, "created_at": datetime.now(UTC),
           "last_used": None}
    retry(lambda: tbl.add([row]), "add token")
    return token


def list_tokens(bank: Bank) -> list[TokenInfo]:
    rows = _table(bank).search().select(["name", "scope", "created_at", "last_used"]).limit(None).to_list()
    return sorted((TokenInfo(**{k: r[k] for k in TokenInfo.model_fields}) for r in rows), key=lambda t: t.name)


def revoke_token(bank: Bank, name: str) -> bool:
    """Delete the token called `name`; False when there is none."""
    from .bank import eq, retry

    tbl = _table(bank)
    if not tbl.count_rows(eq("name", name)):
        return False
    retry(lambda: tbl.delete(eq("name", name)), "revoke token")
    return True


def any_tokens(bank: Bank) -> bool:
    return _table(bank).count_rows() > 0


class TokenChecker:
    """Token → (name, scope), from a copy of the tokens table reloaded whenever its version moves (checked on
    every request: on a local store one stat, store/cache.py)."""

    def __init__(self, bank: Bank):
        self.bank = bank
        self._lock = threading.Lock()
        self._last_used: dict[str, float] = {}

    def _current(self) -> dict[str, tuple[str, str]]:
        from .cache import caches

        def load() -> dict[str, tuple[str, str]]:
            rows = _table(self.bank).search().select(["name", "hash", "scope"]).limit(None).to_list()
            return {r["hash"]: (r["name"], r["scope"]) for r in rows if r["scope"] in SCOPES}

        return caches(self.bank).table_cache(TABLE, lambda: _table(self.bank)).get("by_hash", load)

    def cheap(self) -> bool:
        """Whether a check costs no more than a stat: a local store with the tokens table open."""
        return self.bank.open_locally(TABLE)

    def any(self) -> bool:
        return bool(self._current())

    def check(self, token: str) -> tuple[str, str] | None:
        """(name, scope) of a valid token, else None."""
        found = self._current().get(token_hash(token))
        if found is not None:
            self._touch(found[0])
        return found

    def _touch(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last_used.get(name, -LAST_USED_EVERY) < LAST_USED_EVERY:
                return
            self._last_used[name] = now
        threading.Thread(target=self._write_last_used, args=(name,), name="memcollab-token-used",
                         daemon=True).start()

    def _write_last_used(self, name: str) -> None:
        from .bank import eq, retry

        try:
            tbl = _table(self.bank)
            retry(lambda: tbl.update(where=eq("name", name), values={"last_used": datetime.now(UTC)}),
                  "token last_used")
        except Exception:  # bookkeeping only; never fails a request
            log.warning("could not record last use of token %s", name)
