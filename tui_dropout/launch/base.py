"""One path that launches: configs become run folders (grouped for fused training, claimed for one trainer each)
and a Launcher starts them. The CLI and the console both call `launch`; a new launcher is one module."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Protocol

from ..config import ConfigError, RunConfig
from ..states import State
from ..store import RunDir, RunStore
from ..store.notes import launch_name
from .plan import MAX_FUSED, group_configs


class LaunchRefused(ConfigError):
    """The launcher refused the whole launch before anything started (sbatch said no): `launch` removes the run
    folders it made for it, so a refused launch leaves none behind."""


@dataclass
class Group:
    """Runs one trainer trains together (fused when more than one), claimed with one token."""

    runs: list[RunDir]
    claim: str


@dataclass
class Launched:
    groups: list[Group] = field(default_factory=list)
    note: str = ""  # one line on how they were started ("3 fused trainers", "queued behind 4")

    @property
    def runs(self) -> list[RunDir]:
        return [run for group in self.groups for run in group.runs]


class Launcher(Protocol):
    """Starts groups of claimed run folders somewhere: a detached process, the local queue, Slurm."""

    name: str
    groups_runs: bool  # True: launch() fuses configs into groups first; False: the launcher packs them itself

    def start(self, store: RunStore, groups: list[Group], resume: bool = False) -> str: ...


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


def launch(store: RunStore, cfgs: list[RunConfig], launcher: Launcher, fuse: bool = True,
           max_members: int = MAX_FUSED, notes: dict | None = None) -> Launched:
    """Create, group, claim and start `cfgs` with `launcher`; returns the groups and a line saying how."""
    groups = prepare(store, cfgs, fuse and launcher.groups_runs, max_members if launcher.groups_runs else 1, notes)
    try:
        note = launcher.start(store, groups)
    except LaunchRefused:
        discard_unstarted([run for group in groups for run in group.runs])
        raise
    except BaseException as exc:  # no process could start: the runs say so, never 'queued'
        fail_unstarted([run for group in groups for run in group.runs], f"not started: {exc}")
        raise
    return Launched(groups, note)


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
