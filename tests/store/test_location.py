"""Where a store lives (store/location.py): store arguments and URIs, object-store options, the insert lock.

The insert lock a local store's writers share (store/location.py FlockLock): exclusive across processes,
re-entrant in one, and not inherited by a forked child.

The insert lock's file (store/location.py FlockLock) is created read-write for its owner and readable by
others, never executable; a store keeps one lock per table (real LanceDB in a temp dir).

An object-store URI without a bucket is refused with a clear error (no store opened)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from memcollab.store.location import FlockLock, StoreLocation, storage_options, store_arg
from memcollab.store.models import Feedback


TRY = "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)"


def other_process_can_take(path: Path) -> bool:
    return subprocess.run([sys.executable, "-c", TRY, str(path)], capture_output=True).returncode == 0


@pytest.mark.skipif(sys.platform == "win32", reason="flock(2) is POSIX")
def test_held_until_the_outermost_exit(tmp_path):
    path = tmp_path / ".insert-x.lock"
    lock = FlockLock(path)
    with lock:
        with lock:  # re-entrant: the inner exit must not release the outer hold
            pass
        assert not other_process_can_take(path)
    assert other_process_can_take(path)


@pytest.mark.skipif(sys.platform == "win32", reason="flock(2) is POSIX")
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


@pytest.mark.skipif(sys.platform == "win32", reason="flock(2) is POSIX")
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


@pytest.mark.parametrize("uri", ["s3://", "s3:///", "s3:///prefix/below", "gs://", "az:///x"])
def test_a_uri_without_a_bucket_is_refused_with_a_clear_error(uri):
    with pytest.raises(ValueError, match="names no bucket; use e.g. s3://BUCKET/PREFIX"):
        StoreLocation.parse(uri)


def test_a_bucket_and_prefix_are_kept():
    loc = StoreLocation.parse("s3://bucket/some/prefix/")
    assert loc.remote and loc.uri == "s3://bucket/some/prefix"


def test_store_arg_keeps_uris_and_expands_directories():
    assert store_arg("  s3://bucket/team ") == "s3://bucket/team"
    assert store_arg("~/memcollab") == Path.home() / "memcollab"
    assert store_arg(" /tmp/x ") == Path("/tmp/x")


def test_storage_options_take_the_first_variable_set_for_each_option():
    env = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://localhost:9000",
           "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    assert storage_options("s3://b/x", env) == {"aws_access_key_id": "k", "aws_secret_access_key": "s",
                                                "aws_region": "eu-west-1", "aws_endpoint": "http://localhost:9000",
                                                "allow_http": "true"}
    assert storage_options("S3://b/x", {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "eu-west-1",
                                        "AWS_ENDPOINT_URL_S3": "https://s3.example",
                                        "AWS_ENDPOINT_URL": "http://other"}) == {
        "aws_region": "us-east-1", "aws_endpoint": "https://s3.example"}
    assert storage_options("az://c/x", {"AZURE_STORAGE_ACCOUNT_NAME": "acct", "AZURE_STORAGE_ACCOUNT_KEY": "key"}) == {
        "account_name": "acct", "account_key": "key"}
    assert storage_options("gs://b/x", {"GOOGLE_APPLICATION_CREDENTIALS": "/k.json"}) == {
        "google_service_account": "/k.json"}
    assert storage_options("file:///x", env) == {}
