"""The insert lock a local store's writers share (store/location.py FlockLock): exclusive across processes,
re-entrant in one, and not inherited by a forked child."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from memcollab.store.location import FlockLock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock(2) is POSIX")

TRY = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"


def other_process_can_take(path: Path) -> bool:
    return subprocess.run([sys.executable, "-c", TRY, str(path)], capture_output=True).returncode == 0


def test_held_until_the_outermost_exit(tmp_path):
    path = tmp_path / ".insert-x.lock"
    lock = FlockLock(path)
    with lock:
        with lock:  # re-entrant: the inner exit must not release the outer hold
            pass
        assert not other_process_can_take(path)
    assert other_process_can_take(path)


def test_threads_of_one_process_exclude_each_other(tmp_path):
    lock = FlockLock(tmp_path / ".insert-x.lock")
    inside, order = threading.Event(), []

    def other() -> None:
        with lock:
            order.append("other")

    with lock:
        t = threading.Thread(target=other)
        t.start()
        inside.wait(0.2)  # give the other thread a chance to (wrongly) get in
        order.append("first")
    t.join(60)
    assert order == ["first", "other"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_share_the_parents_hold(tmp_path):
    path, marker = tmp_path / ".insert-x.lock", tmp_path / "released"
    lock = FlockLock(path)
    with lock:
        pid = os.fork()
        if pid == 0:  # child: must wait for the parent's release, which writes the marker first
            code = 1
            try:
                lock._thread = threading.RLock()  # a fresh thread lock, as a child's own threads would have
                lock._depth = 0
                (tmp_path / "trying").write_text("x")
                with lock:
                    code = 0 if marker.exists() else 3
            finally:
                os._exit(code)
        while not (tmp_path / "trying").exists():
            time.sleep(0.01)
        time.sleep(0.3)  # a child wrongly sharing the hold gets in now, before the marker exists
        marker.write_text("x")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
