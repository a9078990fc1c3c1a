"""A lease belongs to its holder only, and a token's last use is written once a full interval has passed, by a
daemon thread (mutation survivors in store/lease.py and store/tokens.py). Real LanceDB in a temp dir: a lease
works on a local store as on object storage (only one_at_a_time picks a file lock there)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from memcollab.store import tokens as tokens_module
from memcollab.store.lease import Lease
from memcollab.store.tokens import TokenChecker, add_token


def test_a_lease_is_held_by_its_holder_only_and_free_after_release(bank):
    a, b = Lease(bank, "maintain", timedelta(minutes=5)), Lease(bank, "maintain", timedelta(minutes=5))
    assert a.acquire() is True
    assert a.held() is True
    assert b.held() is False  # the row exists and is live, but it is a's
    assert b.acquire() is False
    a.release()
    assert a.held() is False
    assert b.acquire() is True and b.held() is True and a.held() is False


def test_a_use_a_full_interval_after_the_last_write_is_written(bank, monkeypatch):
    token = add_token(bank, "ci", "read")
    checker = TokenChecker(bank)
    writes: list[str] = []
    monkeypatch.setattr(TokenChecker, "_write_last_used", lambda self, name: writes.append(name))
    clock = [1000.0]
    monkeypatch.setattr(tokens_module.time, "monotonic", lambda: clock[0])
    checker.check(token)
    clock[0] += tokens_module.LAST_USED_EVERY  # exactly one interval later: due again
    checker.check(token)
    deadline = time.time() + 30
    while len(writes) < 2 and time.time() < deadline:
        time.sleep(0.01)
    assert writes == ["ci", "ci"]


def test_the_last_use_is_written_by_a_daemon_thread(bank, monkeypatch):
    """A request never waits for the bookkeeping, and a server that exits does not wait for it either."""
    token = add_token(bank, "ci", "read")
    checker = TokenChecker(bank)
    started, release = threading.Event(), threading.Event()

    def slow_write(self, name):
        started.set()
        release.wait(30)

    monkeypatch.setattr(TokenChecker, "_write_last_used", slow_write)
    try:
        assert checker.check(token) == ("ci", "read")  # returns while the write is still running
        assert started.wait(30)
        (writer,) = [t for t in threading.enumerate() if t.name == "memcollab-token-used"]
        assert writer.daemon is True
    finally:
        release.set()
