"""Verifier cost (eval/verify.py), against floors measured in the same run.

- code: `verify` on HumanEval canonical solutions (a limited child process per task: rlimits, audit hook,
  temp dir, result file) vs. the floor, a bare `python -I -c pass` subprocess, and vs. running the same
  program plainly (`python -I -B solution.py` in a temp dir, no limits, no hook): what the isolation adds;
- answers: `verify` of a math answer (math-verify) and of a reasoning-gym answer (the family's scorer), in
  process, per task.

    python bench/bench_verify.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from memcollab.eval.tasks import Task, gym_dataset, humaneval_canonical, load_tasks  # noqa: E402
from memcollab.eval.verify import _program, verify  # noqa: E402


def p50(xs: list[float]) -> float:
    return statistics.median(xs)


def timed(fn) -> float:  # noqa: ANN001
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bare_python() -> None:
    subprocess.run([sys.executable, "-I", "-c", "pass"], check=True)


def plain_run(program: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "solution.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(program)
        subprocess.run([sys.executable, "-I", "-B", path], cwd=tmp, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="20 HumanEval tasks instead of 164")
    n = 20 if ap.parse_args().quick else 164
    tasks, _ = load_tasks("humaneval", limit=n)
    bare_python()  # warm the page cache
    floor, plain, checked = [], [], []
    for t in tasks:  # interleaved, so drift on a shared machine hits all three alike
        body = humaneval_canonical(t)
        floor.append(timed(bare_python))
        plain.append(timed(lambda t=t, body=body: plain_run(_program(t, body)[0])))
        v: list = []
        checked.append(timed(lambda t=t, body=body: v.append(verify(t, body))))
        assert v[0].correct, (t.id, v[0].feedback)
    f, p, c = p50(floor), p50(plain), p50(checked)
    print(f"floor: bare `python -I -c pass` subprocess        {1000 * f:8.1f} ms p50 ({n} runs)")
    print(f"HumanEval program run plainly (no limits, no hook) {1000 * p:8.1f} ms p50  = {p / f:.2f}× the floor")
    print(f"verify() per HumanEval task (canonical, {n} tasks) {1000 * c:8.1f} ms p50  = {c / f:.2f}× the floor, "
          f"{c / p:.2f}× the plain run; max {1000 * max(checked):.1f} ms")

    math_task = Task("jsonl/m", "What is half of one?", None, None, "answer", {"answer": "\\frac{1}{2}"})
    verify(math_task, "Final answer: 0.5")  # math-verify's first import
    math_t = [timed(lambda: verify(math_task, "Final answer: 0.5")) for _ in range(50)]
    gym, _ = load_tasks("reasoning-gym:basic_arithmetic,word_sorting", limit=20, seed=1)
    answers = {t.id: gym_dataset(t.data["family"], t.data["seed"], t.data["size"])[t.data["index"]]["answer"]
               for t in gym}
    gym_t = [timed(lambda t=t: verify(t, f"Final answer: {answers[t.id]}")) for t in gym]
    print(f"verify() of a math answer (math-verify, in process)  {1000 * p50(math_t):8.2f} ms p50 "
          f"= {p50(math_t) / f:.3f}× the floor")
    print(f"verify() of a reasoning-gym answer (in process)      {1000 * p50(gym_t):8.2f} ms p50 "
          f"= {p50(gym_t) / f:.3f}× the floor")


if __name__ == "__main__":
    main()
