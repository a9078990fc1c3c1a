"""The insert lock's file (store/location.py FlockLock) is created read-write for its owner and readable by
others, never executable, whatever the process's umask allows."""

from __future__ import annotations

import os
import stat

from memcollab.store.location import FlockLock


def test_the_lock_file_is_created_rw_r_r(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / ".insert-x.lock"
    with FlockLock(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~umask
