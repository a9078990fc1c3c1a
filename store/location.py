"""Where a bank lives: a local directory, or a prefix on object storage (S3 or S3-compatible, GCS, Azure).

`StoreLocation.parse(spec)` turns what the user gave (`--store`, `MEMCOLLAB_STORE`) into a LanceDB URI plus
the storage options LanceDB needs, read from the standard environment variables of each cloud:

- `s3://BUCKET/PREFIX`: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or
  `AWS_DEFAULT_REGION`), `AWS_ENDPOINT_URL` (an S3-compatible server; `http://` allows plain http);
- `gs://BUCKET/PREFIX`: `GOOGLE_APPLICATION_CREDENTIALS` (a service-account JSON file);
- `az://CONTAINER/PREFIX`: `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`.

What differs between the two kinds is what one machine can promise another. A local store serializes
inserts and maintenance with file locks; on object storage a file lock reaches no other machine, so:
inserts are not locked (LanceDB commits with conditional writes, so concurrent appends all land) and a rare
duplicate of a content-hash id is hidden on read and removed by maintenance (see Bank), and maintenance
takes a lease row in the bank itself (store/lease.py) instead of a file lock.
"""

from __future__ import annotations

import os
import threading
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

REMOTE_SCHEMES = ("s3://", "gs://", "az://")


def is_remote(spec: str | Path) -> bool:
    return isinstance(spec, str) and spec.lower().startswith(REMOTE_SCHEMES)


def store_arg(spec: str) -> str | Path:
    """A store as given on the command line or in the environment: URIs stay strings (a Path would fold
    `s3://` into `s3:/`), directories become expanded Paths."""
    spec = spec.strip()
    return spec if is_remote(spec) else Path(spec).expanduser()


def storage_options(uri: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """LanceDB storage options for an object-store URI, from the cloud's standard environment variables."""
    env = dict(os.environ if env is None else env)
    scheme = uri.split("://", 1)[0].lower()
    picks: dict[str, tuple[str, ...]] = {
        "s3": (("aws_access_key_id", "AWS_ACCESS_KEY_ID"), ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
               ("aws_session_token", "AWS_SESSION_TOKEN"), ("aws_region", "AWS_REGION"),
               ("aws_region", "AWS_DEFAULT_REGION"), ("aws_endpoint", "AWS_ENDPOINT_URL_S3"),
               ("aws_endpoint", "AWS_ENDPOINT_URL")),
        "gs": (("google_service_account", "GOOGLE_APPLICATION_CREDENTIALS"),),
        "az": (("account_name", "AZURE_STORAGE_ACCOUNT_NAME"), ("account_key", "AZURE_STORAGE_ACCOUNT_KEY")),
    }.get(scheme, ())  # type: ignore[assignment]
    opts: dict[str, str] = {}
    for option, var in picks:
        if env.get(var) and option not in opts:
            opts[option] = env[var]
    if opts.get("aws_endpoint", "").lower().startswith("http://"):
        opts["allow_http"] = "true"
    return opts


@dataclass
class StoreLocation:
    uri: str  # what lancedb.connect gets: a directory path or an object-store URI
    remote: bool
    options: dict[str, str] = field(default_factory=dict)
    path: Path | None = None  # the directory, for a local store
    _locks: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, spec: str | Path) -> StoreLocation:
        if is_remote(spec):
            uri = str(spec).rstrip("/")
            if not uri.partition("://")[2].split("/", 1)[0]:  # "s3://" is "s3:" once stripped
                raise ValueError(f"store {spec!r} names no bucket; use e.g. s3://BUCKET/PREFIX")
            return cls(uri=uri, remote=True, options=storage_options(uri))
        path = Path(spec).expanduser()
        return cls(uri=str(path), remote=False, path=path)

    def __str__(self) -> str:
        return self.uri

    def table_uri(self, name: str) -> str:
        """Where LanceDB keeps table `name` (a Lance dataset)."""
        return f"{self.uri}/{name}.lance"

    def connect(self) -> Any:
        """A LanceDB connection that sees every other writer's commits on each read."""
        import lancedb

        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
        return lancedb.connect(self.uri, read_consistency_interval=timedelta(0),
                               storage_options=self.options or None)

    def insert_lock(self, table: str) -> Any:
        """What an insert's check-then-add holds. Local: a per-table file lock shared by every process on
        this machine. Object storage: nothing (no lock reaches another machine); duplicates of an id are
        hidden on read and removed by maintenance."""
        if self.path is None:
            return nullcontext()
        lock = self._locks.get(table)
        if lock is None:
            lock = self._locks[table] = process_lock(self.path / f".insert-{table}.lock")
        return lock


class FlockLock:
    """An exclusive lock shared by every process on this machine that uses the same file: flock(2) on a
    descriptor kept open, under a re-entrant thread lock. Taking and releasing it costs ~2 µs; filelock's
    FileLock opens, truncates and closes the file each time (~130 µs, twice per submission)."""

    def __init__(self, path: Path):
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> FlockLock:
        self._thread.acquire()
        try:
            if self._depth == 0:
                if self._fd is None or self._pid != os.getpid():  # a forked child must not share the parent's
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                    self._pid = os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)  # type: ignore[arg-type]
        self._thread.release()


def process_lock(path: Path) -> Any:
    """A cross-process lock on this machine: FlockLock where flock exists, else filelock's FileLock (Windows)."""
    if fcntl is None:
        from filelock import FileLock

        return FileLock(str(path))
    return FlockLock(path)
