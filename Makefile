# Two commands: `make serve` and `make test`. Both create .venv on first use.
# Recipes are silent (@) so `make serve` can itself be an MCP stdio command: stdout is JSON-RPC only.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.memcollab-installed
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: serve test test-slow bench venv mutation breaks
.SILENT:

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV) >&2
	# torch first, pinned: an unpinned torch pulled in by sentence-transformers is a multi-GB CUDA build.
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0 >&2
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]' >&2
	touch $(STAMP)

serve: $(STAMP)
	exec $(VENV)/bin/memcollab serve

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) bench/run_all.py

# Not part of `make test` (UNITS="store/redact.py ..." for some files or units): mutation testing of store/, distill/,
# server/tools/ with mutmut 3 in one workspace, niced; the score per file and unit and every survivor go to stdout
# and build/mutation/all/summary.json. SAMPLE=N: N random mutants per unit (a score with its 95 % interval).
# a full run (SAMPLE=) takes hours on this 2-core machine; the default sample fits in under an hour.
# MUTATION_ARGS="--own" (a fast test selection per module: a mutant runs only its tests in its module's own test
# files, those that killed the module's mutants before or are named after it) and/or "--cap S" (a mutant's first
# tests, killers first, up to S seconds of their measured time) trade kills for time. Measured on the same 479
# mutants (issue 12, session 16): --own 2.7x less child time, 7 points fewer kills; --cap 5: 6x less, 15 points
# fewer. A full run stays hours on 2 cores either way (~7 h all tests, ~2.7 h --own).
SAMPLE ?= 100
MUTATION_ARGS ?=
mutation: $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,mutation]' >&2
	$(PY) mutation/run.py $(UNITS) $(if $(SAMPLE),--sample $(SAMPLE)) $(MUTATION_ARGS)

# The deliberate breaks of issue 12, each applied alone to a copy: every one must be caught by default tests.
breaks: $(STAMP)
	$(PY) mutation/breaks.py
