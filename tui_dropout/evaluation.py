"""Evaluations of a run's checkpoint (dropout off vs Monte-Carlo dropout, calibration), without torch.

`start()` launches `python -m tui_dropout.trainer.evaluate` (the torch side) for a stopped run that has a
checkpoint, holding the run's evaluation lock for it; `read()` reads evaluation.json with every type
checked; `describe()` and `columns()` word and tabulate it for the console and the tables."""
from __future__ import annotations

import fcntl
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .errors import DropoutTuiError
from .states import ACTIVE, State
from .store import EVALUATION, STALE_SECONDS, DamagedFile, RunDir, process_alive, read_json
from .store.info import fits, is_number
from .store.files import open_append
from .store.rundir import EVALUATE_LOCK

LOCK = EVALUATE_LOCK  # held (flock) by the one process evaluating the run, for its whole life
OUTPUT = "evaluate.out"  # a background evaluation's stdout and stderr
DEFAULT_PASSES = 20
MAX_PASSES = 100_000
STATES = (State.RUNNING, State.FINISHED, State.FAILED)
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])


class Refused(DropoutTuiError, ValueError):
    """The run cannot be evaluated as asked (active, no checkpoint, already being evaluated, a bad value)."""


# ----- starting one ------------------------------------------------------------------------------------------
def refusal(run: RunDir) -> str | None:
    """Why `run` cannot be evaluated now, in one line, or None. The lock is checked when it is taken."""
    info = run.info()
    if info.damaged:
        return f"run: {run.run_id}: {info.problem}"
    if info.state in ACTIVE:
        return (f"run: {run.run_id} is {info.state}; only a stopped run's checkpoint is evaluated "
                "(wait for it to end, or cancel it)")
    if not run.has_checkpoint():
        return f"run: {run.run_id} has no checkpoint to evaluate (it stopped before its first one)"
    return None


def passes_problem(mc: Any) -> str | None:
    if isinstance(mc, bool) or not isinstance(mc, int):
        return f"mc: {mc!r} is not a whole number of passes"
    if not 1 <= mc <= MAX_PASSES:
        return f"mc: must be between 1 and {MAX_PASSES} passes, got {mc}"
    return None


def device_problem(device: str | None) -> str | None:
    if device is None or device in ("cpu", "cuda", "auto"):
        return None
    head, _, index = device.partition(":")
    if head == "cuda" and index.isdigit():
        return None
    return f"device: {device!r} is not auto, cpu, cuda or cuda:N"


def lock(run: RunDir) -> int:
    """The run's evaluation lock, taken without waiting: an open descriptor, or Refused when it is held."""
    try:
        fd = os.open(run.file(LOCK), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)  # never through a link
    except OSError as exc:
        raise Refused(f"run: cannot write to {exc.filename or run.path} ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Refused(f"run: {run.run_id} is being evaluated already") from None
    return fd


def start(run_dir: Path | str | RunDir, mc: int = DEFAULT_PASSES, device: str | None = None,
          detach: bool = True) -> subprocess.Popen:
    """Start evaluating the run's checkpoint in a process of its own; Refused (one line) when it cannot be.

    detach: a session of its own, stdin closed, output appended to the run's evaluate.out (a closed console or
    SSH link leaves it running). Otherwise a child of this process whose stdout gives `progress DONE TOTAL`
    lines and whose stderr gives the one line of a refusal or failure. The evaluation lock is taken here and
    handed to the child, so two starts on one run can never both go ahead."""
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    why = passes_problem(mc) or device_problem(device) or refusal(run)
    if why:
        raise Refused(why)
    fd = lock(run)
    try:
        cmd = [sys.executable, "-m", "tui_dropout.trainer.evaluate", "--mc", str(mc), "--lock-fd", str(fd),
               *(["--device", device] if device else []), *([] if detach else ["--progress"]),
               str(run.path.resolve())]
        env = dict(os.environ)
        env["PYTHONPATH"] = PACKAGE_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        if not detach:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=env, pass_fds=(fd,))
        try:
            out = open_append(run.file(OUTPUT))  # never through a link
        except OSError as exc:
            raise Refused(f"run: cannot write to {exc.filename or run.path} ({exc.strerror or exc})") from None
        with out:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=env, pass_fds=(fd,))
    finally:
        os.close(fd)  # the child holds the lock from here on


# ----- reading one -------------------------------------------------------------------------------------------
FIGURES = {"accuracy": float, "entropy": float, "nll": float, "ece": float, "confidence": float,
           "passes": int, "same_as_deterministic": bool, "expected_entropy": float, "mutual_info": float}
FIELDS = {"mc_passes": int, "checkpoint_epoch": int, "device": str, "started": float, "ended": float,
          "seconds": float, "error": str, "dropout": bool, "test_size": int, "bins": int, "mid_epoch": bool,
          "host": str, "pid": int, "pid_start": int}


def _clean(data: dict[str, Any], kinds: dict[str, type], where: str, problems: list[str]) -> dict[str, Any]:
    """The known fields of `data` with the right type (floats as finite floats, else None); others noted."""
    out: dict[str, Any] = {}
    for key, kind in kinds.items():
        value = data.get(key)
        if value is None:
            continue
        if not fits(value, kind):
            problems.append(f"{where}{key} is {str(value)[:40]!r}, not {_WHAT[kind]}")
            continue
        if kind is float:
            try:
                value = float(value)
            except OverflowError:
                problems.append(f"{where}{key} is a number too large to use")
                continue
            value = value if math.isfinite(value) else None
        out[key] = value
    return out


_WHAT = {float: "a number", int: "a whole number", str: "text", bool: "true or false"}


def _figures(data: Any, where: str, problems: list[str]) -> dict[str, Any] | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        problems.append(f"{where} is not an object")
        return None
    out = _clean(data, FIGURES, f"{where}.", problems)
    table = data.get("reliability")
    if table is None:
        return out
    if not isinstance(table, list):
        problems.append(f"{where}.reliability is not a list")
        return out
    rows = []
    for i, row in enumerate(table):
        if not isinstance(row, dict):
            problems.append(f"{where}.reliability[{i}] is not an object")
            return out
        clean = _clean(row, {"count": int, "confidence": float, "accuracy": float}, f"{where}.reliability[{i}].",
                       problems)
        edges = row.get("bin")
        if not (isinstance(edges, list) and len(edges) == 2 and all(is_number(e) for e in edges)):
            problems.append(f"{where}.reliability[{i}].bin is not a pair of numbers")
            return out
        clean["bin"] = [float(edges[0]), float(edges[1])]
        clean.setdefault("count", 0)
        rows.append(clean)
    out["reliability"] = rows
    return out


def read(run_path: Path | str) -> dict[str, Any] | None:
    """The run's evaluation.json with every type checked: None when there is none; a damaged file gives
    {"problem": "..."}, never an exception. A running evaluation whose process is gone reads state "lost"."""
    path = Path(run_path) / EVALUATION
    try:
        data = read_json(path)
    except DamagedFile as exc:
        return {"problem": str(exc)}
    except OSError as exc:  # a name too long, a link loop
        return {"problem": f"{EVALUATION} cannot be read: {exc.strerror or exc}"}
    if data is None:
        return None
    out = _parse(data)
    previous = data.get("previous")
    if out.get("state") in (State.FAILED, State.LOST) and isinstance(previous, dict):
        kept = _parse(previous)
        if kept.get("state") == State.FINISHED:  # a re-evaluation that failed leaves the last good one standing
            kept["last_error"] = str(out.get("error") or "a later evaluation did not finish")
            return kept
    return out


def finished_record(run: RunDir) -> dict[str, Any] | None:
    """The last finished evaluation evaluation.json holds (checked), else None: the record itself, or the one it
    kept while a later evaluation ran, so that any number of killed or failed re-evaluations lose nothing."""
    try:
        data = read_json(run.file(EVALUATION))
    except (DamagedFile, OSError):
        return None
    if data is None:
        return None
    if _parse(data).get("state") != State.FINISHED:
        data = data.get("previous")  # a re-evaluation killed or failed: the one it kept stands
        if not isinstance(data, dict) or _parse(data).get("state") != State.FINISHED:
            return None
    return {k: v for k, v in data.items() if k != "previous"}


def _parse(data: dict[str, Any]) -> dict[str, Any]:
    """One evaluation record with every type checked; {"problem": ...} when it is damaged."""
    problems: list[str] = []
    state = data.get("state")
    if state not in STATES:
        problems.append(f"state is {str(state)[:40]!r}, not one of {', '.join(STATES)}")
    out: dict[str, Any] = {"state": state, **_clean(data, FIELDS, "", problems)}
    progress = data.get("progress")
    if progress is not None:
        if isinstance(progress, list) and len(progress) == 2 and all(fits(v, int) for v in progress):
            out["progress"] = [progress[0], progress[1]]
        else:
            problems.append(f"progress is {str(progress)[:40]!r}, not [done, total]")
    for key in ("deterministic", "mc"):
        out[key] = _figures(data.get(key), key, problems)
    if problems:
        return {"problem": f"{EVALUATION}: " + "; ".join(dict.fromkeys(problems))}
    if state == State.RUNNING and _gone(out, data.get("updated")):
        out["state"] = State.LOST
        out["error"] = "the evaluating process ended before it finished"
    return out


def _gone(data: dict[str, Any], updated: Any) -> bool:
    """A running evaluation's process has ended: its pid on this host, else no write for a long while."""
    if data.get("host") == socket.gethostname() and isinstance(data.get("pid"), int):
        return not process_alive(data["pid"], data.get("pid_start"))
    last = updated if is_number(updated) else data.get("started")
    return is_number(last) and time.time() - float(last) > STALE_SECONDS


# ----- showing one -------------------------------------------------------------------------------------------
def _pc(value: Any) -> str:
    return f"{value * 100:.1f}%" if is_number(value) and math.isfinite(value) else "-"


def _num(value: Any, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if is_number(value) and math.isfinite(value) else "-"


def describe(data: dict[str, Any] | None) -> list[str]:
    """Short lines for the console's details pane (none when the run has no evaluation)."""
    if not data:
        return []
    if data.get("problem"):
        return [f"eval  damaged: {data['problem']}"]
    state = data.get("state")
    if state == State.RUNNING:
        done, total = data.get("progress") or [0, data.get("mc_passes") or 0]
        return [f"eval  running: MC pass {done}/{total}"]
    if state in (State.FAILED, State.LOST):
        return [f"eval  {state}: {data.get('error') or 'no reason recorded'}"]
    if data.get("last_error"):
        return [*describe({k: v for k, v in data.items() if k != "last_error"}),
                f"      (a later evaluation failed: {data['last_error']})"]
    det, mc = data.get("deterministic") or {}, data.get("mc") or {}
    if not data.get("dropout", True):
        return [f"eval  no dropout: {_pc(det.get('accuracy'))}  ECE {_pc(det.get('ece'))}  "
                f"entropy {_num(det.get('entropy'))}  (MC = off)"]
    passes = mc.get("passes") or data.get("mc_passes")
    return [f"eval  dropout off {_pc(det.get('accuracy'))}  MC×{passes} {_pc(mc.get('accuracy'))}",
            f"      off→MC: ECE {_pc(det.get('ece'))}→{_pc(mc.get('ece'))}  "
            f"entropy {_num(det.get('entropy'))}→{_num(mc.get('entropy'))}"]


COLUMNS = ("det_acc", "mc_acc", "det_ece", "mc_ece", "mc_entropy")


def columns(data: dict[str, Any] | None) -> dict[str, float | None]:
    """The headline figures of a finished evaluation (fractions; entropy in nats); None where there are none."""
    out: dict[str, float | None] = dict.fromkeys(COLUMNS)
    if not data or data.get("problem") or data.get("state") != State.FINISHED:
        return out
    det, mc = data.get("deterministic") or {}, data.get("mc") or {}
    out.update(det_acc=det.get("accuracy"), mc_acc=mc.get("accuracy"), det_ece=det.get("ece"),
               mc_ece=mc.get("ece"), mc_entropy=mc.get("entropy"))
    return out
