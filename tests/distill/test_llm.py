"""The LLM call (distill/llm.py): model@URL specs, quiet failures.

A failing provider call prints nothing on stdout: litellm's debug hints ("Give Feedback / Get Help", "If you
need to debug this error…") go to stdout unless suppressed, and in the stdio server stdout is JSON-RPC only. The
provider is the stand-in (tests/support/fake_llm.py), reached through litellm as a real one is."""

from __future__ import annotations

import asyncio

import litellm
import pytest

from memcollab.distill.llm import complete, split_model
from support.fake_llm import FakeLLM, Reply


def test_split_model_takes_a_url_tail_only():
    assert split_model("gpt-x@http://localhost:8000/v1") == ("gpt-x", "http://localhost:8000/v1")
    assert split_model("gpt-x@https://api.example/v1", "http://other") == ("gpt-x", "https://api.example/v1")
    assert split_model("a@b@https://h/v1") == ("a@b", "https://h/v1")  # the last @ splits
    assert split_model("vertex/claude@20240620") == ("vertex/claude@20240620", None)  # '@' in a name stays
    assert split_model("vertex/claude@20240620", "http://base") == ("vertex/claude@20240620", "http://base")
    assert split_model("m", "http://base") == ("m", "http://base")
    assert split_model("@https://h/v1") == ("@https://h/v1", None)  # no model before the URL
    assert split_model("m@ftp://h") == ("m@ftp://h", None)


def test_a_provider_error_prints_nothing_on_stdout(capfd, monkeypatch):
    monkeypatch.setattr(litellm, "suppress_debug_info", False)  # as a fresh process has it
    with FakeLLM([Reply("upstream exploded", status=500)]) as llm:
        with pytest.raises(Exception):
            asyncio.run(complete("openai/stand-in", [{"role": "user", "content": "hi"}], llm.api_base, timeout=30))
    assert capfd.readouterr().out == ""
    assert litellm.suppress_debug_info is True
