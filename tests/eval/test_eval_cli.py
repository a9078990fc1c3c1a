"""The eval commands' place in the `memcollab` CLI: `serve` never imports the eval room; bad arguments get a
clear error and exit 2 before any model is called (no provider is reached in these tests)."""

from __future__ import annotations

import subprocess
import sys

from conftest import MEMCOLLAB


def test_serve_does_not_import_the_eval_room_and_other_commands_list_build_and_eval():
    code = ("import sys\nfrom memcollab.server import cli\n"
            "for argv in (['serve', '--help'], ['--help']):\n"
            "    try:\n        cli.main(argv)\n    except SystemExit:\n        pass\n"
            "    print(argv[0], 'memcollab.eval.cli' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "serve False" in out
    assert "--help True" in out and "build" in out and "eval" in out and "judge" in out


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MEMCOLLAB, *args], capture_output=True, text=True, timeout=120)


def test_bad_eval_arguments_are_refused_with_a_reason(tmp_path):
    base = ["eval", "--tasks", "humaneval", "--models", "openai/a", "--distiller", "openai/a", "--out", str(tmp_path)]
    r = run(*base, "--conditions", "vanilla,magic")
    assert r.returncode == 2 and "unknown condition(s) ['magic']" in r.stderr and not r.stdout
    r = run(*base, "--split", "1.5")
    assert r.returncode == 2 and "--split must be between 0 and 1" in r.stderr
    r = run(*base[:2], "nonsense:x", *base[3:])
    assert r.returncode == 2 and "unknown task source" in r.stderr and "Traceback" not in r.stderr
    r = run(*base, "--limit", "1")
    assert r.returncode == 2 and "leaves an empty half" in r.stderr
    assert not (tmp_path / "calls.jsonl").exists()
