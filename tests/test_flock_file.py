"""The insert lock's file (store/location.py FlockLock) is created read-write for its owner and readable by
others, never executable; a store keeps one lock per table (real LanceDB in a temp dir)."""

from __future__ import annotations

import os
import stat

import pytest

from memcollab.store.location import FlockLock
from memcollab.store.models import Feedback


def test_the_lock_file_is_created_rw_r_r(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / ".insert-x.lock"
    with FlockLock(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~umask


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open descriptors in /proc")
def test_a_store_reuses_one_lock_per_table(bank):
    """Each insert takes the table's insert lock; the store keeps one lock (one open descriptor) per table."""
    bank.add_feedback([Feedback(id="f-first", record_id="r-x", helped=True)])
    lock = bank.location.insert_lock("feedback")
    before = len(os.listdir("/proc/self/fd"))
    for i in range(30):
        bank.add_feedback([Feedback(id=f"f{i}", record_id="r-x", helped=True)])
    assert bank.location.insert_lock("feedback") is lock
    assert len(os.listdir("/proc/self/fd")) < before + 10
