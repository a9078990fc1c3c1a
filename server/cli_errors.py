"""Errors people can act on, for every `memcollab` command: one line on stderr, no traceback.

`run_command` wraps each command in main(): bad usage or configuration (UsageError, a store that cannot be
opened, a missing or unwritable file, a ValueError/LookupError from the input) → one line and exit 2; anything
unexpected → one line and exit 1. `--debug` prints the traceback as well.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable

from memcollab.store.bank import StoreUnavailable


class UsageError(Exception):
    """Bad usage or configuration; the message says what is wrong and what to do."""


def _os_message(err: OSError) -> str:
    what = err.strerror or type(err).__name__
    where = f" {err.filename}" if err.filename else ""
    return f"{what}:{where}".rstrip(":") + _os_hint(err)


def _os_hint(err: OSError) -> str:
    if isinstance(err, FileNotFoundError):
        return "; check the path (the folder must exist)"
    if isinstance(err, PermissionError):
        return "; check the permissions or choose another path"
    if isinstance(err, IsADirectoryError):
        return "; give a file, not a directory"
    return ""


def explain(err: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception a command raised."""
    if isinstance(err, (UsageError, StoreUnavailable, ValueError, LookupError)):
        msg = str(err).strip().splitlines()
        return 2, (msg[0] if msg else type(err).__name__)
    if isinstance(err, OSError):
        return 2, _os_message(err)
    first = (str(err).strip().splitlines() or [""])[0][:300]
    return 1, (f"failed: {type(err).__name__}: {first}" if first else f"failed: {type(err).__name__}") + \
        " (run again with --debug for the traceback)"


def run_command(fn: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    name = getattr(args, "command", None) or "memcollab"
    try:
        return int(fn(args) or 0)
    except KeyboardInterrupt:
        print(f"memcollab {name}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if getattr(args, "debug", False):
            traceback.print_exc(file=sys.stderr)
        code, message = explain(err)
        print(f"memcollab {name}: {message}", file=sys.stderr)
        return code
