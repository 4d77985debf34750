"""One path that launches: `start(plan, launcher)` makes a plan's run folders (grouped for fused training, claimed
for one trainer each) and hands them to a launcher, the CLI and the console alike; `start_groups` starts claimed
groups (a resume's too). A new launcher is one module and one row of launchers.LAUNCHERS."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from ..config import ConfigError, RunConfig
from ..errors import DropoutTuiError
from ..states import State
from ..store import RunDir, RunStore
from ..store.notes import launch_name
from .plan import MAX_FUSED, Plan, group_configs

# What starting one group may raise (a process that cannot start, a folder that takes no writes): that group fails,
# with the reason, and the others start all the same.
START_ERRORS = (OSError, DropoutTuiError)


class LaunchRefused(ConfigError):
    """The launcher refused the whole launch before anything started (sbatch said no): `start` removes the run
    folders it made for it, so a refused launch leaves none behind."""


@dataclass
class Group:
    """Runs one trainer trains together (fused when more than one), claimed with one token."""

    runs: list[RunDir]
    claim: str


@dataclass
class Started:
    """What a launcher's start did: one line on how ("3 trainer process(es)", "queued behind 4") and the groups that
    could not start, each with its exception."""

    note: str = ""
    failed: list[tuple[Group, BaseException]] = field(default_factory=list)


@dataclass
class Launched:
    groups: list[Group] = field(default_factory=list)
    note: str = ""  # one line on how they were started
    failed: list[tuple[Group, BaseException]] = field(default_factory=list)  # groups that did not start, and why

    @property
    def runs(self) -> list[RunDir]:
        return [run for group in self.groups for run in group.runs]

    @property
    def started(self) -> list[RunDir]:
        """The runs of the groups that started."""
        failed = {id(group) for group, _ in self.failed}
        return [run for group in self.groups if id(group) not in failed for run in group.runs]

    def failures(self) -> list[str]:
        """One line for each group that did not start."""
        return [f"trainer for {', '.join(r.run_id for r in group.runs)} did not start: {exc}"
                for group, exc in self.failed]


class Launcher(Protocol):
    """Starts groups of claimed run folders somewhere: here in the foreground, a detached process, the local
    queue, Slurm. Built from options by launchers.launcher_for (the table LAUNCHERS)."""

    name: str
    groups_runs: bool  # True: start() fuses configs into groups first; False: the launcher packs them itself

    def start(self, store: RunStore, groups: list[Group], resume: bool = False) -> Started:
        """Start the groups; one that cannot start goes in `failed` (its runs are marked by start_groups). Raise
        LaunchRefused when the whole launch is refused before anything started."""
        ...


def each_group(groups: list[Group], start_one: Callable[[Group], str]) -> Started:
    """Start groups one at a time: one that cannot start (START_ERRORS) goes in `failed`, the others start all the
    same; the note is the last group's."""
    started = Started()
    for group in groups:
        try:
            started.note = start_one(group) or started.note
        except START_ERRORS as exc:
            started.failed.append((group, exc))
    return started


def notes_for(notes: dict | None, cfg: RunConfig, many: bool) -> dict | None:
    """The name, tags and note a launch gives one of its runs: with several runs, each name ends in the run's
    label (`sweep D p_fc=0.3 seed=2`), so the names tell them apart."""
    if not notes:
        return None
    name = notes.get("name") or ""
    if name and many:
        name = launch_name(name, cfg.label or cfg.preset)
    return {"name": name, "tags": list(notes.get("tags") or []), "note": notes.get("note") or ""}


def prepare(store: RunStore, cfgs: list[RunConfig], fuse: bool = True, max_members: int = MAX_FUSED,
            notes: dict | None = None) -> list[Group]:
    """Run folders for `cfgs`, grouped for fused training and claimed (one token a group). Nothing starts.

    `notes` ({"name", "tags", "note"}, checked by the caller) are written into each run's notes.json."""
    groups: list[Group] = []
    made: list[RunDir] = []
    try:
        for indices in group_configs(cfgs, fuse, max_members):
            token = secrets.token_hex(8)
            runs = []
            for i in indices:
                runs.append(store.create(cfgs[i].to_dict(), claim=token,
                                         notes=notes_for(notes, cfgs[i], len(cfgs) > 1)))
                made.append(runs[-1])
            groups.append(Group(runs, token))
    except (OSError, RuntimeError) as exc:  # a disk that fills up halfway: what was made says so, never 'queued'
        for run in made:
            try:
                run.update_status(state=State.FAILED, error=f"not started: {exc}", ended=time.time())
            except OSError:
                pass
        raise
    return groups


def start(plan: Plan, launcher: Launcher) -> Launched:
    """The one launch path: create, group and claim the plan's run folders, then start them with `launcher`."""
    groups = prepare(plan.store, plan.configs(), plan.options.fuse and launcher.groups_runs,
                     plan.options.members if launcher.groups_runs else 1, plan.notes)
    return start_groups(plan.store, groups, launcher)


def start_groups(store: RunStore, groups: list[Group], launcher: Launcher, resume: bool = False) -> Launched:
    """Start claimed groups (a new launch's, or a resumed one). A group that cannot start fails its own runs, with
    the reason (in `failed`), and the others start all the same. A launch refused whole (LaunchRefused) leaves no
    new run folder behind (a resumed run is left to its caller to put back); anything else that escapes the
    launcher fails every run not started, and is raised."""
    runs = [run for group in groups for run in group.runs]
    try:
        started = launcher.start(store, groups, resume=resume)
    except LaunchRefused:
        if not resume:
            discard_unstarted(runs)
        raise
    except BaseException as exc:  # no process could start: the runs say so, never 'queued'
        fail_unstarted(runs, f"not started: {exc}")
        raise
    for group, exc in started.failed:
        for run in group.runs:
            try:
                run.update_status(state=State.FAILED, error=f"trainer did not start: {exc}", pid=None)
            except START_ERRORS:
                pass  # the folder takes no writes either: it reads as lost once this process is gone
    return Launched(groups, started.note, started.failed)


def fail_unstarted(runs: list[RunDir], reason: str) -> None:
    """Mark failed the runs still waiting on this process's launch (claimed by it, no trainer, no queue)."""
    me = os.getpid()
    for run in runs:
        try:
            run.update_status_if(lambda s: s.get("state") == State.QUEUED and s.get("pid") == me
                                 and not s.get("queue_pid") and not s.get("job_id"),
                                 state=State.FAILED, error=reason, ended=time.time(), pid=None)
        except OSError:
            pass


def discard_unstarted(runs: list[RunDir]) -> None:
    """Remove the folders this process made for a launch that was refused whole (still queued and claimed by this
    process, no trainer, no queue, no job): what never started leaves nothing. Others are marked failed."""
    import shutil

    me = os.getpid()
    for run in runs:
        try:
            status = run.read_status()
            if (status.get("state") == State.QUEUED and status.get("pid") == me and not status.get("queue_pid")
                    and not status.get("job_id") and not run.path.is_symlink()):
                shutil.rmtree(run.path)
                continue
        except (OSError, ValueError):
            pass
        fail_unstarted([run], "not started: the launch was refused")
