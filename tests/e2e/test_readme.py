"""Docs that run: every command and config block in README.md is checked against the code, so the README
cannot drift from it.

- JSON blocks (and mcp.json) parse, and every server entry names the memcollab executable with a command
  line the CLI accepts.
- Command synopses (``` blocks and `inline` code starting with `memcollab`) name real commands and real flags,
  and every command the CLI has is documented.
- Shell examples (```bash / ```sh / ```shell blocks) run against a temp store: one-shot commands must exit 0;
  `memcollab serve` (stdio) must start and exit cleanly when its stdin closes; `memcollab ui` must start and
  print its URL. Examples that cannot run here are skipped with the reason: they need an MCP client that is
  not installed (`claude`, `npx`), an LLM provider, or would run the test suite inside itself (`make test`).

Collected from the README at test time, so sections other people add are checked the same way.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import MEMCOLLAB, server_env

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.S | re.M)
SHELL = {"bash", "sh", "shell", "console"}
NEEDS_LLM = {"build", "eval", "judge"}  # these call models; `distill` too unless --dry-run
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*(?:[,|.][A-Z0-9_]+)*|\.\.\.|<[^>]+>)$")


def blocks() -> list[tuple[str, str]]:
    return [(lang.lower(), body) for lang, body in FENCE.findall(README)]


def _parser() -> argparse.ArgumentParser:
    from memcollab.server.cli import build_parser

    return build_parser()


def subcommands() -> dict[str, argparse.ArgumentParser]:
    p = _parser()
    action = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _strip_env(words: list[str]) -> tuple[dict[str, str], list[str]]:
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    return env, words


def _is_memcollab(word: str) -> bool:
    return word == "memcollab" or word.endswith("/memcollab")


def shell_blocks() -> list[list[str]]:
    """The command lines of each shell block (continuations joined, comments dropped)."""
    out = []
    for lang, body in blocks():
        if lang in SHELL:
            joined = re.sub(r"\\\n\s*", " ", body)
            lines = [ln.strip().removeprefix("$ ").split(" #")[0].strip() for ln in joined.splitlines()]
            lines = [ln for ln in lines if ln and not ln.startswith("#")]
            if lines:
                out.append(lines)
    return out


def shell_commands() -> list[str]:
    return [line for block in shell_blocks() for line in block]


def synopsis_lines() -> list[str]:
    """`memcollab CMD ...` lines of plain ``` blocks (continuation lines folded in) and inline code spans."""
    out = []
    for lang, body in blocks():
        if lang:
            continue
        current = None
        for line in body.splitlines():
            words = line.split()
            if words and _is_memcollab(words[0]):
                current = line.strip()
                out.append(current)
            elif current is not None and line[:1].isspace() and line.strip().startswith(("[", "--")):
                out[-1] += " " + line.strip()
            else:
                current = None
    prose = FENCE.sub("", README)
    for span in re.findall(r"`([^`\n]+)`", prose.replace("\n", " ")):
        _env, words = _strip_env(span.split())
        if words and _is_memcollab(words[0]) and len(words) > 1:
            out.append(" ".join(words))
    return out


def _flags(sp: argparse.ArgumentParser) -> set[str]:
    """The flags of a command and of its own subcommands (`token add --scope`)."""
    flags = set(sp._option_string_actions)
    for action in sp._actions:
        if isinstance(action, argparse._SubParsersAction):
            for nested in action.choices.values():
                flags |= _flags(nested)
    return flags


@pytest.mark.parametrize("line", synopsis_lines())
def test_synopsis_names_real_commands_and_flags(line):
    subs = subcommands()
    words = line.split()
    cmd = words[1]
    assert cmd in subs, f"README names `memcollab {cmd}`, which does not exist (commands: {sorted(subs)})"
    for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", line):
        assert flag in _flags(subs[cmd]), f"README: `memcollab {cmd}` has no flag {flag}"


def test_every_command_is_documented():
    documented = {line.split()[1] for line in synopsis_lines() + shell_commands()
                  if len(line.split()) > 1 and _is_memcollab(line.split()[0])}
    missing = sorted(set(subcommands()) - documented)
    assert not missing, f"commands missing from the README: {missing}"


def _server_entries(config: Any) -> list[dict]:
    """The server entries of a client config (Claude Desktop/Cursor `mcpServers`, VS Code `servers`)."""
    if not isinstance(config, dict):
        return []
    return [entry for key in ("mcpServers", "servers") for entry in (config.get(key) or {}).values()]


JSON_BLOCKS = [body for lang, body in blocks() if lang in ("json", "jsonc")]


@pytest.mark.parametrize("text", [*JSON_BLOCKS, (ROOT / "mcp.json").read_text()],
                         ids=[f"readme-json-{i}" for i in range(len(JSON_BLOCKS))] + ["mcp.json"])
def test_json_blocks_parse_and_name_a_real_command(text):
    config = json.loads(text)  # every JSON block parses; client configs are checked further
    for entry in _server_entries(config):
        if "url" in entry:  # the HTTP transport: `memcollab serve --transport http` serves /mcp
            assert entry["url"].rstrip("/").endswith("/mcp"), entry
            continue
        assert _is_memcollab(entry["command"]), entry
        args = entry.get("args", [])
        assert args and args[0] in subcommands(), f"{args} does not start with a memcollab command"
        _parser().parse_args(args)  # SystemExit (a failure) on unknown flags


@pytest.fixture
def example_store(tmp_path) -> Path:
    from memcollab.store.bank import Bank
    from support.ui_bank import fill

    store = tmp_path / "store"
    fill(Bank(store))
    return store


def _skip_reason(words: list[str]) -> str | None:
    first = words[0]
    if first in ("claude", "npx"):
        return f"`{first}` is an MCP client that is not installed here (and npx would fetch from the network)"
    if first == "make":
        return ("`make test` would run this suite inside itself; `make serve` runs `memcollab serve`, which "
                "tests/e2e/test_stdio.py starts for real" if len(words) > 1 and words[1] in ("test", "serve", "test-slow")
                else "a make target: CI runs `make test` itself")
    if first in ("pip", "git", "uv"):
        return f"`{first}` installs or fetches: outside a test's reach"
    if first in ("python", "python3"):
        return "a python one-liner over a downloaded data file that is not here"
    if not _is_memcollab(first):
        return f"`{first}` is not a memcollab command"
    if len(words) < 2:
        return None
    cmd = words[1]
    if cmd in NEEDS_LLM or (cmd == "distill" and "--dry-run" not in words):
        return f"`memcollab {cmd}` calls an LLM provider (tested with the stand-in provider in its own tests)"
    if any(PLACEHOLDER.match(w) for w in words[2:]):
        return "the example has placeholders to fill in"
    if cmd == "serve" and "--transport" in words:
        return "a long-running network server (started and checked in its own tests)"
    return None


@pytest.mark.parametrize("block", shell_blocks(), ids=lambda b: b[0][:60])
def test_shell_examples_run(block, example_store, tmp_path):
    """A block is a script: its lines run in order against one temp store; lines that cannot run here are
    skipped with the reason (the whole test is skipped when none could run)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    skipped, ran = [], 0
    for line in block:
        env_extra, words = _strip_env(shlex.split(line))
        reason = _skip_reason(words)
        if words and _is_memcollab(words[0]) and len(words) > 1:
            assert words[1] in subcommands(), f"README example uses `memcollab {words[1]}`, which does not exist"
            try:
                _parser().parse_args(words[1:])
            except SystemExit as exc:
                if exc.code:
                    raise AssertionError(f"the CLI rejects the README example: {line}") from None
        if reason:
            skipped.append(f"{line[:50]}: {reason}")
            continue
        _run_example(line, words, server_env(example_store, MEMCOLLAB_EMBEDDINGS="off", **env_extra), cwd)
        ran += 1
    if not ran:
        pytest.skip("; ".join(skipped))


def _run_example(line: str, words: list[str], env: dict[str, str], cwd: Path) -> None:
    argv = [MEMCOLLAB, *words[1:]]
    if words[1] == "import":
        src = next((w for w in words[2:] if not w.startswith("-")), "-")
        if src != "-" and not (cwd / src).exists():
            (cwd / src).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([MEMCOLLAB, "export", str(cwd / src)], env=env, check=True, capture_output=True,
                           timeout=120)
    if words[1] == "serve":  # stdio: starts, and exits cleanly when its client (here: none) closes stdin
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=cwd,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        return
    if words[1] == "ui":
        _starts_and_prints_url([a for a in argv if a != "--allow-forget"] + ["--port", "0"], env, cwd)
        return
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=cwd,
                       timeout=180)
    assert r.returncode == 0, f"{line}\n{r.stderr}"


def _starts_and_prints_url(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stderr.readline()  # type: ignore[union-attr]
            if "http://" in line:
                return
            if not line and proc.poll() is not None:
                raise AssertionError(f"exited with {proc.returncode}")
        raise AssertionError("no URL within 60 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
