"""The deliberate breaks of issue 12's table (and of the promises it added), each applied alone to a copy of
the code, with the default-run tests that must catch it. Prints one line per break: caught or NOT caught.

    python mutation/breaks.py [--rev REV] [NAME ...]

The copy (build/breaks/<name>/) has the installed layout, src/memcollab/{store,distill,server,...}, and is
put first on PYTHONPATH, so in-process tests and the `memcollab` subprocesses they start both run the broken
code; the working tree is never touched. A break counts as caught when its tests fail (pytest exit 1), not
when they cannot even start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, copy_tree  # noqa: E402

WORK = ROOT / "build" / "breaks"

# name: (file under src/memcollab, [(old, new), ...], tests (pytest node ids, -k expressions after "-k"))
BREAKS: dict[str, tuple[str, list[tuple[str, str]], list[str]]] = {
    "validator: model-name rule removed": (
        "distill/validate.py", [('if re.search(rf"(?<![\\w-]){re.escape(name)}(?![\\w-])", low):', "if False:")],
        ["tests/distill/test_validate_rules.py"]),
    "validator: code rule removed": (
        "distill/validate.py", [("if _CODE.search(text):", "if False:")], ["tests/distill/test_validate_rules.py"]),
    "validator: injection/markup rule removed": (
        "distill/validate.py", [("if _INJECTION.search(text):", "if False:")], ["tests/distill/test_validate_rules.py"]),
    "validator: invisible-character rule removed": (
        "distill/validate.py", [("if _INVISIBLE.search(text):", "if False:")], ["tests/distill/test_validate_rules.py"]),
    "embedding dedup threshold 0.90 -> 0.0": (
        "distill/store_constraints.py", [("DEDUP_COSINE = 0.90", "DEDUP_COSINE = 0.0")],
        ["tests/distill/test_dedup_threshold.py"]),
    "two redaction patterns deleted": (
        "store/redact.py", [('    ("anthropic-key", ("sk-ant-",), re.compile(r"\\bsk-ant-[A-Za-z0-9_\\-]{16,}")),\n', ""),
                            ('    ("aws-secret", ("aws_secret_access_key",),\n', '    ("x", ("never-there",),\n')],
        ["tests/store/test_redact.py"]),
    "export drops trajectory metadata and created_at": (
        "store/bank.py", [('yield "trajectory", t.model_dump(mode="json")',
                           'yield "trajectory", t.model_dump(mode="json", exclude={"metadata", "created_at"})')],
        ["tests/store/test_transfer.py::test_export_import_round_trip_is_lossless"]),
    "export drops all feedback": (
        "store/bank.py", [('for row in self._select("feedback"):', "for row in []:")],
        ["tests/store/test_transfer.py::test_export_import_round_trip_is_lossless"]),
    "parent-death watcher removed": (
        "server/cli.py", [("    _exit_with_parent(parent)\n", "")],
        ["tests/e2e/test_crash.py::test_exits_when_the_parent_dies_while_stdin_stays_open"]),
    "automatic maintenance never triggered by server writes": (
        "server/memory.py", [("        self.maintainer.wrote()\n", "        pass\n")],
        ["tests/store/test_maintain.py::test_server_writes_trigger_automatic_maintenance"]),
    "commit-conflict retry turned off": (
        "store/bank.py", [("attempts: int = 12) -> T:", "attempts: int = 1) -> T:")], ["tests/store/test_bank.py"]),
    "commit-conflict retry turned off (the forced-conflict test alone)": (
        "store/bank.py", [("attempts: int = 12) -> T:", "attempts: int = 1) -> T:")],
        ["tests/store/test_bank.py::test_compaction_racing_updates_conflicts_and_is_retried"]),
    "distilled record id random instead of derived from the pair": (
        "distill/store_constraints.py", [('id="r-" + content_id("record-from-pair", pair.id)',
                                          'id="r-" + __import__("uuid").uuid4().hex')],
        ["tests/distill/test_distill_crash.py::test_killed_between_record_and_pair_mark_then_rerun_adds_no_duplicate"]),
    "control characters kept": (
        "store/models.py", [('return redact(_CONTROL.sub("", value))', "return redact(value)")],
        ["tests/server/test_fuzz.py::test_valid_awkward_submissions_succeed_and_are_stored"]),
    "lone surrogates not repaired": (
        "store/models.py", [('value = value.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(value) '
                             'else value', "value = value")],
        ["tests/server/test_fuzz.py::test_valid_awkward_submissions_succeed_and_are_stored"]),
    "default classification threshold 0.35 -> 0": (
        "store/classify.py", [("CONFIDENCE_THRESHOLD = 0.35", "CONFIDENCE_THRESHOLD = 0.0")],
        ["tests/store/test_retrieval.py::test_the_default_threshold_sends_a_vague_task_to_category_level"]),
    "cross-process insert lock removed": (
        "store/location.py", [("        if self.path is None:\n            return nullcontext()",
                               "        if True:\n            return nullcontext()")],
        ["tests/e2e/test_concurrency.py::test_same_trajectory_from_four_processes_is_stored_once"]),
    "promise 1: imported lines with an id not redacted": (
        "store/models.py", [("class Trajectory(_Stored):", "class Trajectory(_Model):"),
                            ("class MemoryRecord(_Stored):", "class MemoryRecord(_Model):")],
        ["tests/store/test_redact.py::test_import_redacts_lines_that_carry_their_own_id_and_record_tasks"]),
    "promise 1: verdicts of a distillation not redacted": (
        "store/models.py", [("class ConstraintVerdict(_Stored):", "class ConstraintVerdict(_Model):")],
        ["tests/store/test_redact.py"]),
    "promise 2: import ignores tombstones": (
        "store/transfer.py", [("if hits and not include_forgotten:", "if False:")],
        ["tests/store/test_import_tombstones.py", "-k", "not cli"]),
    "task matching: anchors ignored": (
        "store/task_match.py", [("    return anchors_agree(anchors(text_a), anchors(text_b))", "    return None")],
        ["tests/server/test_task_matching.py", "-k", "near_miss"]),
    "task matching: number words not read": (
        "store/task_match.py", [("    numbers |= set(_spelled_numbers(rest, language))\n", "")],
        ["tests/server/test_task_matching.py", "-k", "near_miss or paraphrase"]),
    "task matching: a caller's task_id is moved too": (
        "store/task_index.py", [('            if t.task_match.by == "text" and not pairs[t.task_id]:',
                                 "            if not pairs[t.task_id]:"),
                                ('                if t.task_match is not None and t.task_match.by != "text":',
                                 "                if False:")],
        ["tests/server/test_task_matching.py", "-k", "task_id_wins"]),
    "task matching: joined texts not followed at the append": (
        "store/cache.py", [("            if links:  # before", "            if False:  # before")],
        ["tests/server/test_task_matching.py", "-k", "resubmission"]),
    "task matching: submissions before the model loaded are dropped": (
        "store/task_index.py", [("                    self._waiting.setdefault(t.id, t)", "                    pass")],
        ["tests/server/test_task_matching.py", "-k", "before_the_model"]),
    "task matching: the off switch ignored": (
        "server/memory.py", [("if settings.task_match and settings.embeddings else None",
                              "if settings.embeddings else None")],
        ["tests/server/test_task_matching.py", "-k", "off"]),
    "task matching: tags not compared": (
        "store/task_match.py", [('    if not tags_agree(tag_a, tag_b):\n        return "tags differ"\n', "")],
        ["tests/server/test_task_matching.py", "-k", "tags"]),
    "contrast: a model contrasts with itself": (
        "eval/contrast.py", [("        missing = [m for m in models if model_key(m) not in keys]\n",
                              "        missing = list(models)\n")],
        ["tests/eval/test_contrast.py", "-k", "itself"]),
    "contrast: own unknowns not judged first": (
        "eval/contrast.py", [("        for t in view.unknown:  # the task's own", "        for t in []:  # the task's own")],
        ["tests/eval/test_contrast.py", "-k", "judged_first"]),
    "contrast: answers not marked as judge-labelled": (
        "eval/contrast.py", [('"label_source": "judge", ', "")],
        ["tests/eval/test_contrast.py", "-k", "answers_what_another"]),
    "contrast: a label written without its pairs": (
        "eval/contrast.py", [("        pair_tasks(self.bank, [t.task_id])\n", "")],
        ["tests/eval/test_contrast.py", "-k", "answers_what_another or ctrl_c"]),
    "task matching: exchanged words or numbers not seen": (
        "store/task_match.py", [("    conflict = _slot_conflict(a.slots, b.slots) or _swapped(a.slots, b.slots) or ",
                                 "    conflict = None or ")],
        ["tests/store/test_task_match.py", "-k", "near_misses"]),
    "task matching: a word in another's place not seen": (
        "store/task_match.py", [(" or _same_place(a.slots, b.slots)\n", "\n")],
        ["tests/store/test_task_match.py", "-k", "near_misses"]),
    "task matching: direction values not counted": (
        "store/task_match.py", [("    if da != db:\n", "    if False:\n")],
        ["tests/store/test_task_match.py", "-k", "near_misses"]),
    "task matching: an operator is not its aggregate": (
        "store/task_match.py", [("if t in _OPERATION and slots[i - 1]", "if False and slots[i - 1]")],
        ["tests/store/test_task_match.py", "-k", "paraphrases"]),
    "task matching: synonyms not read": (
        "store/task_match.py", [("            w = same.get(tok)\n", "            w = None\n"),
                                ("                w = same.get(w, w)\n", "")],
        ["tests/store/test_task_match.py", "-k", "paraphrases or calibration"]),
    "task matching: the dashboard's task page does not show it": (
        "ui/templates/task.html", [("{% if t.task_match %}", "{% if false %}")],
        ["tests/ui/test_task_page_match.py"]),
}


def apply(dest: Path, file: str, edits: list[tuple[str, str]]) -> None:
    path = dest / "src" / "memcollab" / file
    text = path.read_text()
    for old, new in edits:
        if text.count(old) != 1:
            raise SystemExit(f"break does not apply to {file}: {old!r} found {text.count(old)} times")
        text = text.replace(old, new)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="substrings of break names (default: all)")
    ap.add_argument("--rev", default="HEAD", help="the commit to break (default HEAD)")
    args = ap.parse_args(argv)
    chosen = [n for n in BREAKS if not args.names or any(s in n for s in args.names)]
    missed = 0
    for name in chosen:
        file, edits, tests = BREAKS[name]
        dest = WORK / "".join(c if c.isalnum() else "-" for c in name)[:60]
        shutil.rmtree(dest, ignore_errors=True)
        measured = copy_tree(dest, args.rev)
        shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
        apply(dest, file, edits)
        env = {**os.environ, "PYTHONPATH": str(dest / "src"), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
               "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        started = time.monotonic()
        r = subprocess.run(["nice", "-n", "10", sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                            *tests], cwd=dest, env=env, capture_output=True, text=True)
        tail = [ln for ln in r.stdout.splitlines() if ln.strip()][-1:] or [r.stderr.strip()[-200:]]
        caught = r.returncode == 1
        missed += not caught
        print(f"{'caught    ' if caught else 'NOT CAUGHT'} {name}  [{' '.join(tests)}; {tail[0]}; "
              f"{time.monotonic() - started:.0f} s; on {measured}]", flush=True)
        if caught:
            shutil.rmtree(dest, ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
