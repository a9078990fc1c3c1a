"""Errors people can act on, tried as a new user would: one line on stderr, exit 2, no traceback
(`--debug` shows it); `serve` on a bad store answers every tool call with the reason, not "retry"."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys

import pytest

from conftest import MEMCOLLAB, call_error, memory_client, server_env, stdio_client


def run(*args: str, store=None, env_extra: dict[str, str] | None = None, timeout: int = 120):
    env = server_env(store) if store is not None else server_env(__import__("pathlib").Path("/nonexistent"))
    env.update(env_extra or {})
    return subprocess.run([MEMCOLLAB, *args], capture_output=True, text=True, env=env, timeout=timeout)


def one_clear_line(r: subprocess.CompletedProcess, *needles: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "FILE"
    f.write_text("not a store")
    return f


def test_status_on_a_store_that_is_a_file(a_file):
    one_clear_line(run("status", "--store", str(a_file)), "memcollab status:", "is a file", "--store DIR")


def test_import_of_a_missing_file(tmp_path):
    line = one_clear_line(run("import", str(tmp_path / "missing.jsonl"), store=tmp_path / "s"),
                          "memcollab import:", "missing.jsonl", "no such file")
    assert "export" in line  # says what to give instead
    assert not (tmp_path / "s").exists()  # the check came before the store was opened


def test_export_into_a_missing_folder(tmp_path):
    one_clear_line(run("export", str(tmp_path / "no-such-dir" / "x.jsonl"), store=tmp_path / "s"),
                   "memcollab export:", "no-such-dir", "does not exist")


def test_distill_without_a_model_says_so_before_loading_anything_heavy(tmp_path):
    code = ("import sys; from memcollab.server.cli import main; rc = main(['distill', '--store', sys.argv[1]]); "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'litellm', 'lancedb') if m in sys.modules)); "
            "sys.exit(rc)")
    env = server_env(tmp_path / "s")
    env.pop("MEMCOLLAB_DISTILL_MODEL", None)
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s")], capture_output=True, text=True, env=env,
                       timeout=120)
    one_clear_line(r, "memcollab distill:", "--model", "MEMCOLLAB_DISTILL_MODEL")
    assert r.stdout.strip() == "[]"  # no embedding model, no litellm, not even lancedb


def test_debug_shows_the_traceback(a_file):
    r = run("status", "--store", str(a_file), "--debug")
    assert r.returncode == 2 and "Traceback" in r.stderr and "StoreUnavailable" in r.stderr
    r = run("--debug", "status", "--store", str(a_file))
    assert r.returncode == 2 and "Traceback" in r.stderr


def test_unexpected_errors_are_one_line_with_exit_1(monkeypatch, capsys, tmp_path):
    from memcollab.server import cli

    def boom(_args):
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(cli, "cmd_status", boom)
    assert cli.main(["status", "--store", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["memcollab status: failed: RuntimeError: disk on fire (run again with --debug for the traceback)"]


def test_ui_on_a_port_in_use_and_an_eval_path_that_is_a_file(tmp_path, a_file):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = run("ui", "--port", str(port), store=tmp_path / "s")
    one_clear_line(r, "memcollab ui:", f"127.0.0.1:{port}", "--port")
    one_clear_line(run("ui", "--eval", str(a_file), store=tmp_path / "s"), "memcollab ui:", "is a file")


@pytest.mark.anyio
async def test_serve_on_a_bad_store_answers_every_call_with_the_reason(a_file, caplog):
    caplog.set_level(logging.ERROR, logger="memcollab.server")
    async with memory_client(a_file) as c:
        for tool, args in (("memory_status", {}), ("get_constraints", {"task": "x", "category": "Algebra"}),
                           ("submit_trajectory", {"task": "t", "model": "m", "final_answer": "1",
                                                  "outcome": "correct"})):
            msg = await call_error(c, tool, args)
            assert "is a file" in msg and "--store DIR" in msg, msg
            assert "retried" not in msg
    logged = [r for r in caplog.records if "is a file" in r.getMessage()]
    assert len(logged) == 1  # once, at start


@pytest.mark.anyio
async def test_serve_over_stdio_on_a_bad_store(a_file):
    async with stdio_client(a_file) as c:
        r = await c.call_tool("memory_status", {})
    assert r.is_error and "is a file" in r.content[0].text and "retried" not in r.content[0].text


@pytest.mark.anyio
async def test_server_info_has_the_package_version(store):
    from importlib.metadata import version

    async with memory_client(store) as c:
        info = c.server_info
    assert info.name == "memcollab" and info.version == version("memcollab") != ""


def test_status_as_tables_and_as_json(tmp_path):
    from conftest import import_records, record_line
    from memcollab.store.bank import Bank

    import_records(Bank(tmp_path / "s"), [record_line("[bold]Algebra[/bold]", "Linear", "t",
                                                     ("w", "enforce e", "avoid a"))])
    r = run("status", store=tmp_path / "s")
    assert r.returncode == 0, r.stderr
    assert "Records by category" in r.stdout and "[bold]Algebra[/bold]" in r.stdout  # names are not markup
    assert "{'" not in r.stdout  # no raw Python dicts
    st = json.loads(run("status", "--json", store=tmp_path / "s").stdout)
    assert st["records_by_category"] == {"[bold]Algebra[/bold]": 1}
