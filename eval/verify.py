"""Verifiers: did a completion solve its task? Code runs its tests; answers are compared; gym tasks are scored.

Generated code never runs in the harness's process. Each check runs in a separate `python -I -B` process
(the same interpreter) that
- gets its own fresh temp directory as cwd, HOME and TMPDIR, and a minimal environment (no inherited
  variables, so no API keys);
- sets, before any generated code runs, limits on address space (`memory_mb`), CPU time, file size, core
  files and the number of processes;
- installs an audit hook (PEP 578) that refuses writes, renames, deletes and `chdir` outside that directory,
  and refuses starting processes, signalling them and opening sockets;
- is killed with its whole process group when it runs past `timeout` seconds (wall clock);
- runs the program with `__name__` not "__main__" and reports through a result file, so a `sys.exit()` or a
  `__main__` block in the model's code cannot pass for passing tests.
The directory is removed afterwards. The limits are set by the child itself before it reads the program, not
in a `preexec_fn`: the harness verifies from worker threads, where `preexec_fn` can deadlock.

What this is not: a security sandbox. It bounds accidents of an honest model — an infinite loop, a memory
hog, a stray file write, a `rm`, a fork — and keeps the harness alive and its files intact. Code written to
escape (ctypes, absolute-path tricks through already-open descriptors, a kernel exploit) can escape. Run
untrusted models' code in a container or VM.

Answers: "Final answer: X" (the last such line), else the last \\boxed{X}, else the last non-empty line.
Math references are compared with math-verify, falling back to a normalized string match. Feedback never
reveals the reference answer.
"""

from __future__ import annotations

import ast
import logging
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .tasks import Task, gym_dataset

FEEDBACK_CHARS = 400
FILE_LIMIT_BYTES = 16 * 1024 * 1024
MATH_ANSWER_CHARS = 1000  # longer answers get the string comparison only (bounds sympy's time)


@dataclass
class Verdict:
    correct: bool
    feedback: str  # what the model is told when wrong: the failing assertion / "incorrect" / "timed out"
    answer: str  # what was checked: the extracted code or final answer


# --- extraction ------------------------------------------------------------------------------------------

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_FINAL = re.compile(r"final\s+answer\s*(?:is\s*)?[:：]\s*", re.I)


def extract_code(completion: str) -> str:
    """The last ```python (or ```py, or unlabelled) block; the whole text when there is none."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(completion or "")]
    python = [b for lang, b in blocks if lang in ("python", "python3", "py")]
    plain = [b for lang, b in blocks if not lang]
    chosen = (python or plain or [None])[-1]
    return (chosen if chosen is not None else completion or "").strip("\n")


def _last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j].strip()
    return None


def _unwrap(answer: str) -> str:
    """Drop markdown emphasis and a wrapping code fence around an answer."""
    a = answer.strip()
    a = re.sub(r"^```[A-Za-z]*\n?|\n?```$", "", a).strip()
    return a.strip("*_` ").strip()


def extract_answer(task: Task, completion: str) -> str:
    """code: the last ```python block (or the whole text); others: the text after the last "Final answer:"
    (its first line; for gym tasks every following line too), else the last \\boxed{X}, else the last line."""
    if task.kind == "code":
        return extract_code(completion)
    text = completion or ""
    marks = list(_FINAL.finditer(text))
    if marks:
        rest = _unwrap(text[marks[-1].end():])
        if task.kind != "gym":
            rest = next((line for line in rest.splitlines() if line.strip()), "")
        boxed = _last_boxed(rest)
        return _unwrap(boxed if boxed is not None else rest)
    boxed = _last_boxed(text)
    if boxed is not None:
        return boxed
    lines = [line for line in text.splitlines() if line.strip()]
    return _unwrap(lines[-1]) if lines else ""


# --- verification ----------------------------------------------------------------------------------------

def verify(task: Task, completion: str, timeout: float = 10.0, memory_mb: int = 1024) -> Verdict:
    answer = extract_answer(task, completion)
    if task.kind == "code":
        return _verify_code(task, answer, timeout, memory_mb)
    if not answer.strip():
        return Verdict(False, "no final answer found; end with a line 'Final answer: <answer>'", answer)
    if task.kind == "gym":
        ok = _gym_correct(task, answer)
    elif task.kind == "answer":
        ok = math_equal(str(task.data["answer"]), answer)
    else:
        raise ValueError(f"unknown task kind {task.kind!r}")
    return Verdict(ok, "" if ok else "incorrect", answer)


def _gym_correct(task: Task, answer: str) -> bool:
    d = task.data
    ds = gym_dataset(d["family"], int(d["seed"]), int(d["size"]))
    entry = ds[int(d["index"])]
    try:
        return float(ds.score_answer(answer, entry) or 0.0) >= 1.0
    except Exception:  # a family's scorer choking on a malformed answer: that answer is wrong
        return False


def normalize_answer(s: str) -> str:
    s = s.strip().strip("$").strip()
    s = re.sub(r"^\\text\{(.*)\}$", r"\1", s)
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)
    s = " ".join(s.lower().split())
    return s.rstrip(".").strip()


def math_equal(gold: str, answer: str) -> bool:
    """math-verify equivalence ("1/2" = "0.5" = "\\frac{1}{2}"), else normalized string equality."""
    if normalize_answer(gold) == normalize_answer(answer):
        return True
    if len(answer) > MATH_ANSWER_CHARS:
        return False
    from math_verify import parse, verify as mv_verify

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its "timeout disabled" notice, once per thread
    # math-verify's own timeouts use SIGALRM, which works only in the main thread; elsewhere run without
    # them (the answer is length-capped above).
    limit = 5 if threading.current_thread() is threading.main_thread() else None

    def parsed(s: str) -> list:
        s = s.strip()
        inner = s[1:-1] if len(s) > 1 and s[0] == s[-1] == "$" else s
        return (parse(f"${inner}$", parsing_timeout=limit) or parse(s, parsing_timeout=limit))

    try:
        g, a = parsed(gold), parsed(answer)
        return bool(g and a and mv_verify(g, a, timeout_seconds=limit))
    except Exception:  # a parser or sympy failure is no equivalence
        return False


def _program(task: Task, code: str) -> tuple[str, int]:
    """The program to run and the line where its tests start."""
    d = task.data
    entry = d.get("entry_point")
    if "prompt" in d:  # HumanEval: the prompt's imports and helpers, then the model's code, then check()
        defines = entry and re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.M)
        if not defines:  # only the body: indent it when the model did not
            first = next((line for line in code.splitlines() if line.strip()), "")
            if first and not first[0].isspace():
                code = "\n".join("    " + line if line.strip() else line for line in code.splitlines())
        head = d["prompt"] + ("\n" if defines else "") + code + "\n\n"
        tests = d["test"] + f"\n\ncheck({entry})\n"
    else:  # the user's tests: plain asserts; `candidate` names the entry point when one is given
        head = code + "\n\n"
        tests = (f"candidate = {entry}\n" if entry else "") + d["tests"] + "\n"
    return head + tests, head.count("\n") + 1


def _verify_code(task: Task, code: str, timeout: float, memory_mb: int) -> Verdict:
    if not code.strip():
        return Verdict(False, "no code found in the answer; give it in one ```python code block", code)
    program, test_line = _program(task, code)
    ok, feedback = run_program(program, test_line, timeout, memory_mb)
    return Verdict(ok, feedback, code)


# --- the child process -----------------------------------------------------------------------------------

# Runs in the child, before the program: limits, the audit hook, then the program, then the result file.
_RUNNER = r'''
import os, resource, sys
prog, out, root = sys.argv[1], sys.argv[2], os.path.realpath(sys.argv[3])
test_line, mem, cpu, fsize, nproc = (int(x) for x in sys.argv[4:9])

def limit(kind, n):
    if n < 0:
        return
    soft, hard = resource.getrlimit(kind)
    n = n if hard == resource.RLIM_INFINITY else min(n, hard)
    try:
        resource.setrlimit(kind, (n, n))
    except (ValueError, OSError):
        pass

limit(resource.RLIMIT_AS, mem)
limit(resource.RLIMIT_CPU, cpu)
limit(resource.RLIMIT_FSIZE, fsize)
limit(resource.RLIMIT_CORE, 0)
limit(resource.RLIMIT_NPROC, nproc)

WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
# event -> positions of the path arguments that must lie inside the task's directory
PATHS = {"os.chdir": (0,), "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.truncate": (0,),
         "os.chmod": (0,), "os.chown": (0,), "os.utime": (0,), "os.chflags": (0,), "os.mkfifo": (0,),
         "os.mknod": (0,), "shutil.rmtree": (0,), "shutil.chown": (0,), "os.rename": (0, 1),
         "shutil.move": (0, 1), "os.link": (0, 1), "os.symlink": (0, 1), "shutil.copyfile": (1,),
         "shutil.copytree": (1,)}
DENY = {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
        "os.kill", "os.killpg", "pty.spawn", "socket.connect", "socket.bind", "socket.sendto", "os.startfile"}
busy = []

def inside(p):
    try:
        real = os.path.realpath(os.fsdecode(p))
    except (TypeError, ValueError):
        return False
    return real == root or real.startswith(root + os.sep)

def refuse(event, what):
    raise PermissionError(f"not allowed while verifying: {event} {what!r} (outside the task's directory)")

def hook(event, args):
    if busy or not (event == "open" or event in PATHS or event in DENY):
        return
    busy.append(1)
    try:
        if event in DENY:
            raise PermissionError(f"not allowed while verifying: {event}")
        if event == "open":
            path, mode, flags = args
            writes = (flags or 0) & WRITE or (isinstance(mode, str) and any(c in mode for c in "wax+"))
            if writes and not isinstance(path, int) and not inside(path):
                refuse(event, path)
            return
        if event == "os.chdir" and isinstance(args[0], int):
            refuse(event, args[0])
        for i in PATHS[event]:
            a = args[i] if i < len(args) else None
            if isinstance(a, (str, bytes, os.PathLike)) and not inside(a):
                refuse(event, a)
    finally:
        busy.clear()

result = {"ok": False}
try:
    src = open(prog, encoding="utf-8").read()
    sys.addaudithook(hook)
    code = compile(src, prog, "exec")
    exec(code, {"__name__": "__solution__", "__file__": prog, "__builtins__": __builtins__})
    result = {"ok": True}
except BaseException as e:
    result = {"ok": False, "error": type(e).__name__, "message": str(e)[:500]}
    if isinstance(e, SyntaxError):
        result.update(line=(e.text or "").strip(), lineno=e.lineno or 0)
    else:
        import traceback
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == prog]
        tests = [f for f in frames if f.lineno >= test_line]
        where = (tests or frames or [None])[-1]
        if where is not None:
            result.update(line=(where.line or "").strip(), lineno=where.lineno)
        result["in_tests"] = bool(tests)
with open(out, "w", encoding="utf-8") as f:
    f.write(repr(result))  # read back with ast.literal_eval (no json import here: it costs start-up time)
'''


@cache
def _nproc_limit() -> int:
    """RLIMIT_NPROC counts all of the user's tasks, not the child's: allow what runs now plus a margin.
    -1 (not set) where /proc is missing. Root is exempt from this limit anyway."""
    try:
        uid, tasks = os.getuid(), 0
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        tasks += len(os.listdir(f"/proc/{entry.name}/task"))
                except OSError:
                    continue
        return tasks + 64
    except OSError:
        return -1


def _env(tmp: str) -> dict[str, str]:
    return {"PATH": os.defpath, "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _remove(path: str) -> None:
    def unlock(func, p, _exc) -> None:  # a program that made its files read-only must not leave them behind
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=unlock)
    else:
        shutil.rmtree(path, onerror=unlock)


def _truncate(text: str) -> str:
    text = " ".join(text.split()) if "\n" not in text.strip() else text.strip()
    return text if len(text) <= FEEDBACK_CHARS else text[:FEEDBACK_CHARS - 1] + "…"


def _feedback(result: dict, memory_mb: int) -> str:
    error, message, line = result.get("error", "Error"), result.get("message", ""), result.get("line", "")
    if error == "MemoryError":
        return _truncate(f"MemoryError: the program ran out of memory (limit {memory_mb} MB)"
                         + (f" at `{line}`" if line else ""))
    if error == "SyntaxError":
        return _truncate(f"SyntaxError: {message}" + (f" at `{line}`" if line else ""))
    if error == "AssertionError" and result.get("in_tests"):
        return _truncate(f"AssertionError: test failed: `{line}`" + (f" ({message})" if message else ""))
    where = f" (at `{line}`)" if line else ""
    return _truncate(f"{error}: {message}{where}" if message else f"{error}{where}")


def run_program(program: str, test_line: int = 1, timeout: float = 10.0, memory_mb: int = 1024) -> tuple[bool, str]:
    """Run a Python program in a limited child process; (passed, feedback). `test_line`: the first line of
    the tests, so feedback names the failing test rather than a line inside the function."""
    tmp = tempfile.mkdtemp(prefix="memcollab-verify-")
    try:
        prog = os.path.join(tmp, "solution.py")
        out = os.path.join(tmp, f".result-{secrets.token_hex(8)}")
        Path(prog).write_text(program, encoding="utf-8")
        errpath = os.path.join(tmp, ".stderr")
        args = [sys.executable, "-I", "-B", "-c", _RUNNER, prog, out, tmp, str(test_line),
                str(memory_mb * 1024 * 1024), str(math.ceil(timeout) + 1), str(FILE_LIMIT_BYTES),
                str(_nproc_limit())]
        with open(errpath, "wb") as err:
            proc = subprocess.Popen(args, cwd=tmp, env=_env(tmp), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True, close_fds=True)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                return False, f"timed out after {timeout:g} s (killed); look for an infinite loop or a slow algorithm"
            except BaseException:  # Ctrl-C in the harness: leave no child behind
                _kill_group(proc)
                raise
        try:
            with open(out, encoding="utf-8", errors="replace") as f:
                result = ast.literal_eval(f.read(65536))
            if not isinstance(result, dict):
                raise ValueError("not a result")
        except (OSError, ValueError, SyntaxError, RecursionError, MemoryError):
            return False, _no_result(proc.returncode, errpath, memory_mb)
        return bool(result.get("ok")), "" if result.get("ok") else _feedback(result, memory_mb)
    finally:
        _remove(tmp)


def _kill_group(proc: subprocess.Popen) -> None:
    # The child leads its own session (start_new_session), so its pid is the group id; it is not reaped
    # yet, so that id cannot have been reused.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _no_result(returncode: int, errpath: str, memory_mb: int) -> str:
    """Why a child left no result file: killed by a signal or a limit, or it exited early."""
    if returncode < 0:
        sig = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        if sig == "SIGXCPU":
            return "killed: CPU time limit exceeded; look for an infinite loop or a slow algorithm"
        if sig in ("SIGKILL", "SIGSEGV", "SIGABRT", "SIGBUS"):
            return f"killed ({sig}); it may have run out of memory (limit {memory_mb} MB) or crashed"
        return f"killed by {sig}"
    try:
        tail = Path(errpath).read_text("utf-8", "replace").strip().splitlines()[-1:]
    except OSError:
        tail = []
    return _truncate(f"the program exited (code {returncode}) before the tests finished"
                     + (f": {tail[0]}" if tail else ""))
