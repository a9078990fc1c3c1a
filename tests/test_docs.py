"""The docs hold together and match the code (what is not a command; tests/e2e/test_readme.py runs those).

- Links: every relative link and image in README.md, CONTRIBUTING.md and docs/*.md points at a file that
  exists and, with a `#fragment`, at a heading of that page (GitHub's anchor rule).
- docs/configuration.md's table against the code, both ways: every `MEMCOLLAB_*` name the rooms' code holds
  as a string (what `os.environ.get` / `os.environ[...]` / `setdefault` read) and every flag of every command
  of `memcollab.server.cli`'s parser (subcommands of subcommands too) has a row naming that command; every
  row's variable is in the code and every row's flag exists on each command it names.
- docs/img/pipeline.svg is what docs/img/pipeline.py draws (rerun the script after changing it).
- The README stays a front door: at most 200 lines.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if not (ROOT / "README.md").exists():  # a copy of the code and tests without the docs (mutation/run.py makes one)
    pytest.skip("no docs beside these tests", allow_module_level=True)
PAGES = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
ROOMS = ("store", "distill", "server", "eval", "ui")
FENCE = re.compile(r"^```.*?^```[^\n]*$", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> str:
    """The page without fenced blocks and inline code (links there are examples, not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links() -> list[tuple[str, str]]:
    out: dict[tuple[str, str], None] = {}
    for page in PAGES:
        for target in LINK.findall(_prose(page.read_text(encoding="utf-8"))):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not checked here
                out[(page.relative_to(ROOT).as_posix(), target)] = None
    return list(out)


def test_links_are_collected():
    found = links()
    assert any(p == "README.md" and t.startswith("docs/") for p, t in found), found
    assert any(p.startswith("docs/") for p, _t in found), found


@pytest.mark.parametrize(("page", "target"), links(), ids=[f"{p}->{t}" for p, t in links()])
def test_relative_link_resolves(page, target):
    path_part, _, fragment = target.partition("#")
    source = ROOT / page
    dest = (source.parent / path_part).resolve() if path_part else source
    assert dest.exists(), f"{page} links to {target}: {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest} does not exist"
    assert dest.is_relative_to(ROOT), f"{page} links outside the repository: {target}"
    if fragment:
        assert dest.suffix == ".md", f"{page} links to an anchor of a non-page: {target}"
        assert fragment in anchors(dest), (f"{page} links to {target}, but {dest.relative_to(ROOT)} has no heading "
                                           f"with that anchor (it has: {sorted(anchors(dest))})")


def test_slug_follows_github():
    assert slug("Unknown outcomes: `memcollab judge`") == "unknown-outcomes-memcollab-judge"
    assert slug("Group commit (store/group_commit.py)") == "group-commit-storegroup_commitpy"
    assert slug("1. Write: a trajectory in, contrast pairs out") == "1-write-a-trajectory-in-contrast-pairs-out"


# --- the configuration table ---------------------------------------------------------------------------

CONFIG = ROOT / "docs" / "configuration.md"


def config_rows() -> list[tuple[str, list[str]]]:
    """(setting, [commands]) for each row of the table whose header starts with `| setting |`."""
    rows, in_table = [], False
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        if line.startswith("| setting |"):
            in_table = True
            continue
        if not in_table:
            continue
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if set(cells[0]) <= set("-: "):
            continue
        first = re.search(r"`([^`]+)`", cells[0])
        assert first, f"configuration.md: a row with no `setting`: {line}"
        name = first.group(1).split()[0]
        commands = [c.replace("\\|", "|").strip() for c in re.findall(r"`([^`]+)`", cells[1])]
        rows.append((name, commands))
    return rows


def env_in_code() -> dict[str, str]:
    """{MEMCOLLAB_* name: the first file that holds it as a string} across the rooms' code."""
    found: dict[str, str] = {}
    for room in ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and re.fullmatch(r"MEMCOLLAB_[A-Z0-9_]+", node.value):
                    found.setdefault(node.value, path.relative_to(ROOT).as_posix())
    return found


def parser_flags() -> dict[str, set[str]]:
    """{command path ("memcollab", "serve", "token add"): its flags}, help=SUPPRESS (hidden) flags left out."""
    from memcollab.server.cli import build_parser

    out: dict[str, set[str]] = {}

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        flags = out.setdefault(path, set())
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, name if path == "memcollab" else f"{path} {name}")
            elif action.option_strings and not isinstance(action, argparse._HelpAction) \
                    and action.help != argparse.SUPPRESS:
                flags.update(o for o in action.option_strings if o.startswith("--"))

    walk(build_parser(), "memcollab")
    return out


def test_configuration_table_is_read():
    rows = config_rows()
    assert len(rows) > 20 and rows[0][0].startswith("MEMCOLLAB_"), rows[:3]


def test_every_variable_in_the_code_is_documented():
    documented = {name for name, _ in config_rows() if name.startswith("MEMCOLLAB_")}
    missing = {k: v for k, v in env_in_code().items() if k not in documented}
    assert not missing, f"add a row to docs/configuration.md for each (variable: where the code reads it): {missing}"


def test_every_documented_variable_is_in_the_code():
    code = env_in_code()
    stale = sorted(name for name, _ in config_rows() if name.startswith("MEMCOLLAB_") and name not in code)
    assert not stale, f"docs/configuration.md documents variables no code reads: {stale}"


def test_every_flag_is_documented():
    rows = config_rows()
    missing = sorted(f"{path} {flag}" for path, flags in parser_flags().items() for flag in flags
                     if not any(name == flag and path in commands for name, commands in rows))
    assert not missing, ("add these to docs/configuration.md (a row per flag, the commands that take it in the "
                         f"second column): {missing}")


def test_every_documented_flag_exists():
    flags = parser_flags()
    wrong = []
    for name, commands in config_rows():
        if not name.startswith("--"):
            continue
        assert commands, f"docs/configuration.md: {name} names no command"
        wrong += [f"{cmd} {name}" for cmd in commands if name not in flags.get(cmd, set())]
    assert not wrong, f"docs/configuration.md documents flags the CLI does not have: {wrong}"


# --- the pipeline picture and the front door ------------------------------------------------------------

def test_pipeline_svg_is_the_scripts_output():
    script = ROOT / "docs" / "img" / "pipeline.py"
    spec = importlib.util.spec_from_file_location("pipeline_picture", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (ROOT / "docs" / "img" / "pipeline.svg").read_text(encoding="utf-8")
    assert committed == module.render(), "docs/img/pipeline.svg is stale: run `python docs/img/pipeline.py`"
    assert "submit" in committed and "retrieve" in committed


def test_readme_is_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines; move detail into a page under docs/"
