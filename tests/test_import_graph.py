"""The rooms import one way, and no module imports itself around a circle (issue 22).

Read from the source, not from a run: every `import` and `from ... import` in every module under store/,
distill/, server/, eval/ and ui/ (at the top, inside functions, under `if TYPE_CHECKING:` alike: a circle that
only a lazy import keeps from failing is still a circle to a reader), resolved to memcollab.* modules. Then:
- no cycles among those modules;
- the arrows between rooms: store imports nothing of the other rooms; distill imports store only; server,
  eval and ui may import store and distill (and each other, without a circle);
- no module takes a private name (a leading underscore) from another room (eval once reached into
  server/cli.py's `_settings`; it now uses the public Settings.from_args).
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
from pathlib import Path

import pytest

# where the rooms are: the checkout (an editable install maps memcollab.store to store/) or any copy in the
# installed layout (src/memcollab/store, as mutation/ makes)
ROOT = Path(importlib.util.find_spec("memcollab.store").submodule_search_locations[0]).parent
ROOMS = ("store", "distill", "server", "eval", "ui")
ALLOWED = {"store": set(), "distill": {"store"}, "server": {"store", "distill", "eval", "ui"},
           "eval": {"store", "distill", "server"}, "ui": {"store", "distill", "server", "eval"}}


def modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for room in ROOMS:
        for path in sorted((root / room).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found["memcollab." + ".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, str]]:
    """(imported module, name taken from it or '') for every memcollab import in the module."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names if a.name.startswith("memcollab.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("memcollab."):
                continue
            for a in node.names:
                sub = f"{module}.{a.name}"
                out.append((sub, "") if sub in known else (module, a.name))
    return [(m, n) for m, n in out if m in known and m != name]


def graph(root: Path = ROOT) -> tuple[dict[str, set[str]], dict[str, set[tuple[str, str]]]]:
    mods = modules(root)
    known = set(mods)
    edges: dict[str, set[str]] = {m: set() for m in mods}
    names: dict[str, set[tuple[str, str]]] = {m: set() for m in mods}
    for m, path in mods.items():
        for target, taken in imports(m, path, known):
            edges[m].add(target)
            if taken:
                names[m].add((target, taken))
    return edges, names


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def room(module: str) -> str:
    return module.split(".")[1]


def circles(root: Path = ROOT) -> list[list[str]]:
    return cycles(graph(root)[0])


def wrong_arrows(root: Path = ROOT) -> list[str]:
    edges, _ = graph(root)
    return sorted(f"{m} -> {t}" for m, ts in edges.items() for t in ts
                  if room(t) != room(m) and room(t) not in ALLOWED[room(m)])


def private_takes(root: Path = ROOT) -> list[str]:
    _, names = graph(root)
    return sorted(f"{m} takes {t}.{n}" for m, taken in names.items() for t, n in taken
                  if n.startswith("_") and room(t) != room(m))


def test_every_room_is_read():
    mods = modules()
    assert {room(m) for m in mods} == set(ROOMS)
    assert "memcollab.server.tools.submit_trajectory" in mods and "memcollab.server.memory" in mods
    edges, _ = graph()
    assert "memcollab.server.memory" in edges["memcollab.server.tools.submit_trajectory"]  # TYPE_CHECKING, relative
    assert "memcollab.store.bank" in edges["memcollab.server.memory"]


def test_no_module_imports_itself_around_a_circle():
    assert circles() == []


def test_the_rooms_import_one_way():
    assert wrong_arrows() == []


def test_no_module_takes_a_private_name_from_another_room():
    assert private_takes() == []


@pytest.mark.parametrize("file, extra, check", [
    ("server/memory.py", "from memcollab.server.tools import register_all\n", circles),  # memory -> tools -> memory
    ("server/memory.py", "if False:\n    from .app import create_server\n", circles),  # a guarded import counts
    ("distill/pairing.py", "def f():\n    from .pairer import Pairer\n", circles),  # the old pairer <-> pairing
    ("store/bank.py", "def f():\n    from memcollab.distill.pairer import Pairer\n", wrong_arrows),
    ("distill/run.py", "from memcollab.server.settings import Settings\n", wrong_arrows),
    ("eval/report.py", "from memcollab.server.cli import _logging\n", private_takes),
], ids=["circle", "guarded circle", "pairer-pairing", "store imports distill", "distill imports server",
        "private name"])
def test_the_checks_bite(tmp_path, file, extra, check):
    """A copy of the rooms with one deliberate import added: the check that guards it finds it."""
    for r in ROOMS:
        shutil.copytree(ROOT / r, tmp_path / r, ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / file
    path.write_text(path.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    assert check(tmp_path) != []
    assert check() == []
