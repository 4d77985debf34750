"""`evaluate`: what dropout did to a stopped run's network: dropout off vs Monte-Carlo dropout, calibration."""
from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Optional

import typer

from .. import evaluation
from ..config import ConfigError
from ..gpus import check_device_listed
from ..states import State
from ..store import EVALUATION, RunDir, RunNotFound
from ..safetext import safe
from .options import echo, RunsDir, fail, open_store


def evaluate(run_refs: list[str] = typer.Argument(..., metavar="RUN", help="Runs to evaluate (ids, unique parts or list numbers)."),
             mc: str = typer.Option(str(evaluation.DEFAULT_PASSES), "--mc", metavar="T",
                                    help="Monte-Carlo dropout passes (at least 1)."),
             device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or cuda:N \\[default: the run's]."),
             detach: bool = typer.Option(False, "--detach", help="Evaluate in the background and return at once."),
             reliability: bool = typer.Option(False, "--reliability", "--bins",
                                              help="Also print the reliability table (15 confidence bins)."),
             runs_dir: RunsDir = None) -> None:
    """Evaluate stopped runs' checkpoints on their test sets: dropout off and Monte-Carlo dropout (T passes),
    with accuracy, entropy, NLL and calibration (ECE); written to each run's evaluation.json."""
    try:
        passes = int(mc)
    except ValueError:
        fail(f"mc: {mc!r} is not a whole number of passes")
    why = evaluation.passes_problem(passes) or evaluation.device_problem(device)
    if why:
        fail(why)
    if device:
        try:
            check_device_listed(device)
        except ConfigError as exc:
            fail(str(exc))
    store = open_store(runs_dir)
    runs: list[RunDir] = []
    for ref in run_refs:
        try:
            run = store.find(ref)
        except RunNotFound as exc:
            fail(str(exc))
        if run.run_id not in (r.run_id for r in runs):
            runs.append(run)
    for run in runs:  # every refusal before anything starts
        why = evaluation.refusal(run)
        if why:
            fail(why)
    if detach:
        for run in runs:
            try:
                proc = evaluation.start(run, passes, device, detach=True)
            except evaluation.Refused as exc:
                fail(str(exc))
            echo(f"{run.run_id}: evaluating in the background (pid {proc.pid}, MC dropout x{passes}); "
                       f"results in {run.file(EVALUATION)}")
        return
    failed = 0
    for run in runs:
        failed += not _foreground(run, passes, device, reliability)
    if failed:
        raise typer.Exit(1)


def _foreground(run: RunDir, passes: int, device: str | None, reliability: bool) -> bool:
    try:
        proc = evaluation.start(run, passes, device, detach=False)
    except evaluation.Refused as exc:
        fail(str(exc))
    shown = Progress(run.run_id)

    def stop(*_: Any) -> None:  # a kill of this command stops its evaluation too, which records why
        proc.terminate()
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, stop)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        said: list[str] = []  # stderr is read beside stdout: a child filling one pipe never waits on the other
        reader = threading.Thread(target=lambda: said.append(proc.stderr.read()), daemon=True)
        reader.start()
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "progress" and parts[1].isdigit() and parts[2].isdigit():
                shown.update(int(parts[1]), int(parts[2]))
        code = proc.wait()
        reader.join()
        errors = "".join(said).strip()
    except KeyboardInterrupt:  # the child had the same Ctrl-C (or our SIGTERM): it records the interruption, ends
        proc.wait()
        shown.close()
        echo(f"{run.run_id}: evaluation interrupted", err=True)
        raise typer.Exit(130)
    finally:
        signal.signal(signal.SIGTERM, before)
    shown.close()
    if code == 2:  # refused by the evaluating process itself (the run changed meanwhile)
        fail(errors.splitlines()[-1] if errors else f"run: {run.run_id} cannot be evaluated")
    data = evaluation.read(run.path)
    if code != 0 or not data or data.get("state") != State.FINISHED:
        why = (data or {}).get("last_error") or (data or {}).get("error") or (data or {}).get("problem") or errors \
            or f"exit status {code}"
        echo(f"error: {run.run_id}: evaluation failed: {' '.join(str(why).split())}", err=True)
        return False
    print_evaluation(run, data, reliability)
    return True


class Progress:
    """MC passes done: one rewritten line on a terminal, a few lines otherwise (stderr)."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.tty = sys.stderr.isatty()
        self.last_tenth = -1
        self.open = False

    def update(self, done: int, total: int) -> None:
        text = f"{self.run_id}: MC pass {done}/{total}"
        if self.tty:
            sys.stderr.write("\r" + text)
            self.open = True
        else:
            tenth = done * 10 // max(total, 1)
            if tenth == self.last_tenth:
                return
            self.last_tenth = tenth
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.open:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.open = False


def _pc(value: Any) -> str:
    return "-" if value is None else f"{value * 100:.2f}"


def _num(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_evaluation(run: RunDir, data: dict[str, Any], reliability: bool = False) -> None:
    """Dropout off vs MC dropout (accuracy, entropy, NLL, ECE), then the reliability table when asked."""
    info = run.info()
    det, mc = data.get("deterministic") or {}, data.get("mc") or {}
    passes = mc.get("passes") or data.get("mc_passes")
    mc_head = f"MC x{passes}" if data.get("dropout", True) else "MC (= off)"
    epoch = data.get("checkpoint_epoch")
    echo(safe(f"{run.run_id}  {info.label}, checkpoint of epoch {epoch}"
              + (" (mid-epoch)" if data.get("mid_epoch") else "")
              + f", {data.get('test_size', '?')} test images, {data.get('device')}, {_num(data.get('seconds'), 1)}s"))
    if not data.get("dropout", True):
        echo("  no dropout in this network: MC dropout is the network itself")
    rows = [("accuracy %", _pc(det.get("accuracy")), _pc(mc.get("accuracy"))),
            ("entropy", _num(det.get("entropy"), 4), _num(mc.get("entropy"), 4)),
            ("NLL", _num(det.get("nll"), 4), _num(mc.get("nll"), 4)),
            ("ECE %", _pc(det.get("ece")), _pc(mc.get("ece")))]
    echo(f"  {'':12} {'dropout off':>12} {mc_head:>12}")
    for name, a, b in rows:
        echo(f"  {name:12} {a:>12} {b:>12}")
    if reliability:
        print_reliability(data)


def print_reliability(data: dict[str, Any]) -> None:
    """The reliability table of an evaluation (checked by evaluation.read): per confidence bin, how many test
    images, their mean confidence and their accuracy, dropout off beside MC dropout."""
    det, mc = data.get("deterministic") or {}, data.get("mc") or {}
    echo(f"  reliability ({len(det.get('reliability') or [])} confidence bins; conf and acc in %)")
    echo(f"  {'bin':>11} {'off n':>7} {'conf':>6} {'acc':>6} {'MC n':>7} {'conf':>6} {'acc':>6}")
    for d, m in zip(det.get("reliability") or [], mc.get("reliability") or []):
        lo, hi = d["bin"]
        echo(f"  {lo:5.3f}-{hi:5.3f} {d['count']:7d} {_bin(d, 'confidence')} {_bin(d, 'accuracy')} "
             f"{m['count']:7d} {_bin(m, 'confidence')} {_bin(m, 'accuracy')}")


def _bin(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    return f"{'-':>6}" if value is None else f"{value * 100:6.1f}"
