"""Docs that run: every command and config block in README.md, CONTRIBUTING.md and docs/*.md is checked
against the code, so the docs cannot drift from it.

- JSON blocks (and mcp.json) parse, and every server entry names the memcollab executable with a command
  line the CLI accepts.
- Command synopses (``` blocks and `inline` code starting with `memcollab`) name real commands and real flags,
  and every command the CLI has is documented.
- Shell examples (```bash / ```sh / ```shell blocks) run against a temp store: one-shot commands must exit 0;
  `memcollab serve` (stdio) must start and exit cleanly when its stdin closes; `memcollab ui` must start and
  print its URL. Examples that cannot run here are skipped with the reason: they need an MCP client that is
  not installed (`claude`, `npx`), an LLM provider, or would run the test suite inside itself (`make test`,
  `pytest`), or are benchmarks and mutation runs (minutes to hours, run by hand).
- The README, the front door, names every command the CLI has.

Collected from the pages at test time, so sections and pages other people add are checked the same way.
tests/test_docs.py checks what is not a command: links, the configuration table, the pipeline picture.
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
# every page whose examples must run: the front door, the contributors' page, the topic pages
PAGES = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
         for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
         if path.exists()}
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```", re.S | re.M)
SHELL = {"bash", "sh", "shell", "console"}
NEEDS_LLM = {"build", "eval", "judge"}  # these call models; `distill` and `contrast` too unless --dry-run
DRY_RUN_OK = {"distill", "contrast"}
PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*(?:[,|.][A-Z0-9_]+)*|\.\.\.|<[^>]+>)$")


def blocks(page: str | None = None) -> list[tuple[str, str, str]]:
    """(page, language, body) of every fenced block, of one page or of all."""
    return [(name, lang.lower(), body) for name, text in PAGES.items() if page in (None, name)
            for lang, body in FENCE.findall(text)]


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


def shell_blocks(page: str | None = None) -> list[tuple[str, list[str]]]:
    """(page, the command lines of a shell block) for each shell block (continuations joined, comments dropped)."""
    out = []
    for name, lang, body in blocks(page):
        if lang in SHELL:
            joined = re.sub(r"\\\n\s*", " ", body)
            lines = [ln.strip().removeprefix("$ ").split(" #")[0].strip() for ln in joined.splitlines()]
            lines = [ln for ln in lines if ln and not ln.startswith("#")]
            if lines:
                out.append((name, lines))
    return out


def shell_commands(page: str | None = None) -> list[str]:
    return [line for _name, block in shell_blocks(page) for line in block]


def synopsis_lines(page: str | None = None) -> list[tuple[str, str]]:
    """(page, line): `memcollab CMD ...` lines of plain ``` blocks (continuation lines folded in) and inline
    code spans."""
    out: list[tuple[str, str]] = []
    for name, lang, body in blocks(page):
        if lang:
            continue
        current = None
        for line in body.splitlines():
            words = line.split()
            if words and _is_memcollab(words[0]):
                current = line.strip()
                out.append((name, current))
            elif current is not None and line[:1].isspace() and line.strip().startswith(("[", "--")):
                out[-1] = (name, out[-1][1] + " " + line.strip())
            else:
                current = None
    for name, text in PAGES.items():
        if page not in (None, name):
            continue
        prose = FENCE.sub("", text)
        for span in re.findall(r"`([^`\n]+)`", prose.replace("\n", " ")):
            _env, words = _strip_env(span.split())
            if words and _is_memcollab(words[0]) and len(words) > 1:
                out.append((name, " ".join(words)))
    return out


def _flags(sp: argparse.ArgumentParser) -> set[str]:
    """The flags of a command and of its own subcommands (`token add --scope`)."""
    flags = set(sp._option_string_actions)
    for action in sp._actions:
        if isinstance(action, argparse._SubParsersAction):
            for nested in action.choices.values():
                flags |= _flags(nested)
    return flags


@pytest.mark.parametrize(("page", "line"), synopsis_lines(), ids=[f"{p}:{ln[:60]}" for p, ln in synopsis_lines()])
def test_synopsis_names_real_commands_and_flags(page, line):
    subs = subcommands()
    words = line.split()[1:]
    while words and words[0].startswith("--"):  # `memcollab --debug CMD ...`: the top-level parser's own flags
        assert words[0] in _parser()._option_string_actions, f"{page}: `memcollab` has no flag {words[0]}"
        words.pop(0)
    cmd = words[0] if words else ""
    if cmd == "CMD":  # a placeholder for any command
        return
    assert cmd in subs, f"{page} names `memcollab {cmd}`, which does not exist (commands: {sorted(subs)})"
    for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", " ".join(words)):
        assert flag in _flags(subs[cmd]), f"{page}: `memcollab {cmd}` has no flag {flag}"


def test_every_command_is_documented():
    """The front door lists every command (the topic pages say more about each)."""
    lines = [line for _page, line in synopsis_lines("README.md")] + shell_commands("README.md")
    documented = {line.split()[1] for line in lines if len(line.split()) > 1 and _is_memcollab(line.split()[0])}
    missing = sorted(set(subcommands()) - documented)
    assert not missing, f"commands missing from the README: {missing}"


def test_pages_have_examples_collected():
    """The collectors see every page (a page renamed out of docs/ or a fence the regex misses would silently
    check nothing): each topic page is read, and the README's own blocks are found."""
    assert {"README.md", "CONTRIBUTING.md"} <= set(PAGES)
    assert len(PAGES) >= 8, sorted(PAGES)
    assert shell_blocks("README.md") and [b for b in blocks("README.md") if b[1] == "json"]


def _server_entries(config: Any) -> list[dict]:
    """The server entries of a client config (Claude Desktop/Cursor `mcpServers`, VS Code `servers`)."""
    if not isinstance(config, dict):
        return []
    return [entry for key in ("mcpServers", "servers") for entry in (config.get(key) or {}).values()]


JSON_BLOCKS = [(page, body) for page, lang, body in blocks() if lang in ("json", "jsonc")]


@pytest.mark.parametrize("text", [body for _page, body in JSON_BLOCKS] + [(ROOT / "mcp.json").read_text()],
                         ids=[f"{page}-json-{i}" for i, (page, _body) in enumerate(JSON_BLOCKS)] + ["mcp.json"])
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
        target = words[1] if len(words) > 1 else ""
        if target in ("test", "serve", "test-slow"):
            return ("`make test` would run this suite inside itself; `make serve` runs `memcollab serve`, which "
                    "tests/e2e/test_stdio.py starts for real")
        if target in ("bench", "breaks", "mutation"):
            return f"`make {target}` runs for minutes to hours: run by hand, not inside the suite"
        return "a make target: CI runs `make test` itself"
    if first in ("pip", "git", "uv"):
        return f"`{first}` installs or fetches: outside a test's reach"
    if first in ("python", "python3") or first.endswith(("/python", "/python3")):
        rest = " ".join(words[1:])
        if "pytest" in rest:
            return "pytest would run this suite inside itself"
        if rest.startswith("bench/"):
            return "a benchmark: minutes of load, run by hand (`make bench`)"
        if rest.startswith("docs/img/"):
            return "rewrites a committed picture; tests/test_docs.py checks the picture is this script's output"
        return "a python one-liner over a downloaded data file that is not here"
    if not _is_memcollab(first):
        return f"`{first}` is not a memcollab command"
    if len(words) < 2:
        return None
    cmd = words[1]
    if cmd in NEEDS_LLM or (cmd in DRY_RUN_OK and "--dry-run" not in words):
        return f"`memcollab {cmd}` calls an LLM provider (tested with the stand-in provider in its own tests)"
    if any(PLACEHOLDER.match(w) for w in words[2:]):
        return "the example has placeholders to fill in"
    if cmd == "serve" and "--transport" in words:
        return "a long-running network server (started and checked in its own tests)"
    return None


@pytest.mark.parametrize(("page", "block"), shell_blocks(), ids=[f"{p}:{b[0][:60]}" for p, b in shell_blocks()])
def test_shell_examples_run(page, block, example_store, tmp_path):
    """A block is a script: its lines run in order against one temp store; lines that cannot run here are
    skipped with the reason (the whole test is skipped when none could run)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    skipped, ran = [], 0
    for line in block:
        env_extra, words = _strip_env(shlex.split(line))
        reason = _skip_reason(words)
        if words and _is_memcollab(words[0]) and len(words) > 1:
            assert words[1] in subcommands(), f"{page} example uses `memcollab {words[1]}`, which does not exist"
            try:
                _parser().parse_args(words[1:])
            except SystemExit as exc:
                if exc.code:
                    raise AssertionError(f"the CLI rejects the {page} example: {line}") from None
        if reason:
            skipped.append(f"{line[:50]}: {reason}")
            continue
        _run_example(line, words, server_env(example_store, **{"MEMCOLLAB_EMBEDDINGS": "off", **env_extra}), cwd)
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
