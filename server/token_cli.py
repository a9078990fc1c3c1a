"""`memcollab token add|list|revoke`: the bearer tokens of the HTTP server, kept in the bank."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from memcollab.store.tokens import SCOPES


def cmd_token(args: argparse.Namespace, bank: Any) -> int:
    from memcollab.store.tokens import add_token, list_tokens, revoke_token

    if args.token_command == "add":
        try:
            token = add_token(bank, args.name, args.scope)
        except ValueError as err:
            print(f"memcollab token add: {err}", file=sys.stderr)
            return 2
        print(f"token {args.name!r} (scope {args.scope}) for store {bank.location}. It is shown once, now; "
              "clients send it as 'Authorization: Bearer TOKEN'.", file=sys.stderr)
        print(token)
        return 0
    if args.token_command == "list":
        tokens = list_tokens(bank)
        if args.json:
            print(json.dumps([t.model_dump(mode="json") for t in tokens]))
            return 0
        if not tokens:
            print("no tokens (make one with: memcollab token add NAME --scope read|write|admin)")
        for t in tokens:
            used = t.last_used.isoformat(timespec="seconds") if t.last_used else "never"
            print(f"{t.name}\t{t.scope}\tcreated {t.created_at.isoformat(timespec='seconds')}\tlast used {used}")
        return 0
    if not revoke_token(bank, args.name):
        print(f"memcollab token revoke: no token named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.name!r}; every server on this store refuses it from its next request", file=sys.stderr)
    return 0


def add_parser(add: Callable[..., argparse.ArgumentParser], fn: Callable[[argparse.Namespace], int]) -> None:
    t = add("token", fn, "bearer tokens for `serve --transport http`: add, list, revoke")
    tsub = t.add_subparsers(dest="token_command", required=True)
    ta = tsub.add_parser("add", help="make a token; prints it once, as the last line on stdout")
    ta.add_argument("name", help="who it is for, e.g. ci-agent or alice")
    ta.add_argument("--scope", choices=SCOPES, default="write",
                    help="read: get_constraints, status, resources, prompts; write: also submit, feedback, "
                         "distillation tools; admin: also forget (default write)")
    tl = tsub.add_parser("list", help="names, scopes, created, last used (never the token)")
    tl.add_argument("--json", action="store_true")
    tr = tsub.add_parser("revoke", help="revoke a token; effective on every server's next request")
    tr.add_argument("name")
    for sp in (ta, tl, tr):  # `token add X --store S` as well as `token --store S add X`
        sp.add_argument("--store", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
