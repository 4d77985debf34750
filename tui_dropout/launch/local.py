"""The local launcher: one detached trainer process per group, started now, on this machine's default device."""
from __future__ import annotations

from ..store import RunStore
from .base import Group
from .process import TrainerProcess


class LocalLauncher:
    name = "local"
    groups_runs = True

    def __init__(self) -> None:
        self.processes: list[TrainerProcess] = []  # the console reaps these; a CLI process exits and leaves them

    def start(self, store: RunStore, groups: list[Group], resume: bool = False) -> str:
        for group in groups:
            process = TrainerProcess(group.runs, resume=resume, claim=group.claim)
            process.start()
            for run in group.runs:
                run.update_status(backend="local")
            self.processes.append(process)
        fused = sum(len(g.runs) > 1 for g in groups)
        return f"{len(groups)} trainer process(es)" + (f", {fused} fused" if fused else "")
