"""The local launcher: one detached trainer process per group, started now, on this machine's default device."""
from __future__ import annotations

from ..store import RunStore
from .base import Group, Started, each_group
from .process import Children, TrainerProcess


class LocalLauncher:
    name = "local"
    groups_runs = True

    def __init__(self, processes: Children | None = None) -> None:
        # the console passes the list its tick reaps; a CLI process exits and leaves its trainers running
        self.processes = processes if processes is not None else Children()

    def start(self, store: RunStore, groups: list[Group], resume: bool = False) -> Started:
        """Each group in its own process, one after another: one that cannot start fails only its own runs."""

        def start_one(group: Group) -> str:
            process = TrainerProcess(group.runs, resume=resume, claim=group.claim)
            process.start()
            self.processes.add(process)
            for run in group.runs:
                run.update_status(backend="local")
            return ""

        started = each_group(groups, start_one)
        ok = [g for g in groups if all(g is not f for f, _ in started.failed)]
        fused = sum(len(g.runs) > 1 for g in ok)
        started.note = f"{len(ok)} trainer process(es)" + (f", {fused} fused" if fused else "")
        return started
