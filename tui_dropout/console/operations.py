"""What the console's keys do to runs, without a screen: launch, cancel, resume, evaluate, export, label, archive and
delete. Each returns what to tell and which runs to look at again; the questions asked first are composed here too
(the screen asks them). No Textual, no torch: testable on plain run folders."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .. import evaluation
from ..config import ConfigError
from ..errors import DropoutTuiError
from ..export import export_folder
from ..launch import Children, Group, Launched, Launcher, cancel, claim_group, resume_group, start, start_groups
from ..states import State
from ..store import RunBusy, RunDir, RunInfo, RunStore, prune
from ..store.notes import NotesError, update_notes
from .labels import fit_label
from .messages import LaunchRequest
from .study import plan_problems, read_form

PROBLEMS_TOLD = 3  # a study's problems named in one notification (the rest are counted)
# What launching, resuming, cancelling and exporting may raise on a bad folder or value: told, never fatal.
EXPECTED_ERRORS = (OSError, DropoutTuiError)
CANCELLABLE = (State.RUNNING, State.QUEUED, State.LOST)
BUSY = (State.RUNNING, State.QUEUED)  # refused by archive and delete


@dataclass
class Told:
    """One notification: its text, severity and how long it stays (None: Textual's default)."""

    text: str
    severity: str = "information"
    timeout: float | None = None


@dataclass
class Outcome:
    """What an operation did: what to tell, the runs to look at again, and the runs that started."""

    told: list[Told] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    def tell(self, text: str, severity: str = "information", timeout: float | None = None) -> None:
        self.told.append(Told(text, severity, timeout))

    def error(self, text: str) -> None:
        self.tell(text, "error", 10)


def plural(count: int, word: str = "run") -> str:
    return f"{count} {word}{'s' * (count != 1)}"


# ----- launching and resuming ---------------------------------------------------------------------------------------
@dataclass
class LaunchOutcome(Outcome):
    what: str = ""  # "3 runs: 3 seeds, study of D ..." as the form said
    study: str = ""


def launch(request: LaunchRequest, store: RunStore, processes: Children) -> LaunchOutcome:
    """Check every run, then start the plan with its launcher (launch.start, as `dropout-tui study` does): the same
    plan, labels and checks as the CLI. Slow (it checks and creates folders): the console calls it off the UI thread."""
    out = LaunchOutcome()
    reading = read_form(request.presets, request.overrides, request.launch, store, grid_limit=None,
                        notes=request.notes, processes=processes)
    problems = [f"{name}: {reason}" for name, reason in reading.errors.items()]
    plan, launcher = reading.plan, reading.launcher
    try:
        cfgs = plan.configs() if plan is not None and not problems else []
    except ConfigError as exc:
        problems.append(str(exc))
    problems += plan_problems(cfgs, plan.options.backend != "slurm" if plan is not None else True)
    if problems or plan is None or launcher is None:
        more = f"; and {len(problems) - PROBLEMS_TOLD} more" if len(problems) > PROBLEMS_TOLD else ""
        out.error("not launched: " + "; ".join(problems[:PROBLEMS_TOLD]) + more)
        return out
    try:  # run folders, grouped to train fused where the launcher wants groups, claimed, started
        launched = start(plan, launcher)
    except EXPECTED_ERRORS as exc:
        out.error(f"not launched: {exc}")
        return out
    tell_failures(out, launched)
    out.started = [run.run_id for run in launched.started]
    if out.started:
        count = len(out.started)
        out.what = reading.describe() if not launched.failed else f"{count} of {reading.describe()}"
        out.study = plan.study
        name = f" (study {plan.study})" if plan.study else f": {out.started[0]}" if count == 1 else ""
        out.tell(f"launched {out.what}{name}", timeout=8)
    return out


def tell_failures(out: Outcome, launched: Launched) -> None:
    for line in launched.failures():
        out.error(line)


def start_claimed(store: RunStore, groups: list[Group], launcher: Launcher, resume: bool = False) -> Outcome:
    """Start claimed groups (a resume) with a launcher; a group that cannot start fails its runs, with the reason,
    and is told."""
    out = Outcome()
    try:
        launched = start_groups(store, groups, launcher, resume=resume)
    except EXPECTED_ERRORS as exc:
        out.error(f"not started: {exc}")
        return out
    tell_failures(out, launched)
    out.started = [run.run_id for run in launched.started]
    return out


def resume(store: RunStore, run: RunDir, launcher: Launcher) -> Outcome:
    """Resume the run with its fused partners that stopped with it, from their checkpoint."""
    try:
        group = resume_group(store, run)
        token = claim_group(group)
    except EXPECTED_ERRORS as exc:
        out = Outcome()
        out.error(f"resume of {run.run_id} failed: {exc}")
        return out
    out = start_claimed(store, [Group(group, token)], launcher, resume=True)
    if out.started:
        out.tell("resuming " + ", ".join(r.run_id for r in group))
    out.touched = [member.run_id for member in group]
    return out


# ----- cancelling ---------------------------------------------------------------------------------------------------
def cancel_question(info: RunInfo) -> str | Told:
    """What to ask before cancelling the run, or why there is nothing to cancel."""
    if info.state not in CANCELLABLE:
        return Told(f"{info.run_id} is {info.state}: nothing to cancel", "warning")
    name = f"{info.run_id} ({info.label})" if info.label != info.preset else info.run_id
    if info.state == State.QUEUED and not info.status.get("pid"):
        where = "the queue" if info.status.get("backend") == "queue" else "its launch"
        return (f"Cancel run {name}?\nIt is waiting for {where}: it leaves it and never starts (R would start it "
                "from epoch 1).")
    group = info.status.get("group")
    partners = [r for r in group if r != info.run_id] if isinstance(group, list) else []
    also = f"\nIt trains fused with {len(partners)} other run(s) in one process: they stop too." if partners else ""
    return f"Cancel run {name}?\nIt stops after the current step and keeps a checkpoint (R resumes it).{also}"


def cancel_run(run: RunDir) -> Outcome:
    out = Outcome(touched=[run.run_id])
    try:
        out.tell(f"{run.run_id}: {cancel(run)}")
    except EXPECTED_ERRORS as exc:
        out.error(f"cancel of {run.run_id} failed: {exc}")
    return out


# ----- evaluating ---------------------------------------------------------------------------------------------------
def evaluate(runs: list[RunDir], hidden: Callable[[str], bool]) -> tuple[Outcome, list]:
    """Start a background evaluation (dropout off vs MC dropout) of each run; returns the outcome and the processes
    started (to reap). `hidden(run_id)`: marked but hidden by the filter (said, so nothing happens unseen)."""
    out, processes = Outcome(), []
    for run in runs:
        try:
            processes.append(evaluation.start(run, evaluation.DEFAULT_PASSES))
        except (evaluation.Refused, OSError) as exc:
            out.tell(f"cannot evaluate: {exc}", "warning", 8)
            continue
        out.started.append(run.run_id)
    out.touched = list(out.started)
    if out.started:
        unseen = sum(hidden(run_id) for run_id in out.started)
        out.tell(f"evaluating {', '.join(out.started)} in the background (dropout off and MC dropout "
                 f"x{evaluation.DEFAULT_PASSES}); the results show in each run's details"
                 + (f" ({unseen} marked but hidden by the filter)" if unseen else ""), timeout=8)
    return out, processes


# ----- exporting ----------------------------------------------------------------------------------------------------
def export_question(run: RunDir, exports_dir: Path | str) -> str | None:
    """As the CLI refuses without --force: an earlier export of the run is asked about, not overwritten."""
    earlier = Path(exports_dir) / run.run_id
    if earlier.exists() or earlier.is_symlink():
        return f"Replace the earlier export of {run.run_id}?\n{earlier.resolve()}"
    return None


def export_run(run: RunDir, exports_dir: Path | str) -> Outcome:
    out = Outcome()
    try:
        target = export_folder(run, Path(exports_dir))
    except (OSError, ValueError) as exc:
        out.error(f"export of {run.run_id} failed: {exc}")
        return out
    out.tell(f"exported {run.run_id} to {target.resolve()}", timeout=8)
    return out


# ----- labelling ----------------------------------------------------------------------------------------------------
def label_title(infos: list[RunInfo]) -> str:
    one = infos[0]
    return f"Label {len(infos)} marked runs" if len(infos) > 1 else f"Label {one.run_id} ({one.study_label})"


def label(infos: list[RunInfo], values: dict) -> Outcome:
    """Write the name, tags and note into each run's notes.json; a run that refuses is told, the others go on."""
    out = Outcome()
    for info in infos:
        try:
            update_notes(info.path, **values)
        except (NotesError, OSError) as exc:
            out.error(f"cannot label {info.run_id}: {exc}")
            continue
        out.touched.append(info.run_id)
    if out.touched:
        out.tell(f"labelled {plural(len(out.touched))}")
    return out


# ----- archiving and deleting ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prune:
    """Archive or delete: the word told, what it does to one run, the question and the answer Enter gives."""

    verb: str
    act: Callable[[RunInfo], None]
    question: str
    default: bool


def archiving(root: Path) -> Prune:
    return Prune("archived", lambda info: prune.archive(root, RunDir(info.path)),
                 "Archive {runs}? (moved to runs/.archive; `dropout-tui unarchive` brings them back)", True)


def deleting() -> Prune:
    return Prune("deleted", lambda info: prune.remove(RunDir(info.path)),
                 "Delete {runs} for good, with every file? (Enter: no)", False)


def prune_question(how: Prune, infos: list[RunInfo], hidden: int, rows: int) -> str | Told:
    """The question naming the runs (as many as `rows` allow), or why nothing can be done: a running or queued
    run is refused whole."""
    if not infos:
        return Told("no run selected", "warning")
    busy = [i for i in infos if i.state in BUSY]
    if busy:
        return Told(f"{busy[0].run_id} is {busy[0].state}: cancel it first (nothing was {how.verb})", "warning", 8)
    room = max(4, rows)
    shown = infos if len(infos) <= room else infos[:room - 1]
    names = "\n".join(f"  {i.run_id}  {i.state:9} {fit_label(i.label, 32)}" for i in shown)
    more = f"\n  and {len(infos) - len(shown)} more" if len(infos) > len(shown) else ""
    if hidden:
        more += f"\n  ({hidden} of them marked but hidden by the filter)"
    return how.question.format(runs=plural(len(infos))) + f"\n{names}{more}"


def prune_runs(how: Prune, infos: list[RunInfo]) -> Outcome:
    out = Outcome()
    done = 0
    for info in infos:
        try:
            how.act(info)
            done += 1
        except (RunBusy, OSError) as exc:
            out.error(f"{info.run_id} not {how.verb}: {exc}")
    if done:
        out.tell(f"{how.verb} {plural(done)}")
    return out
