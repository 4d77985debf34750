"""`queue`: the local GPU queue of a runs folder: its holder, its slots and what waits, in order."""
from __future__ import annotations

import shutil

import typer

from ..launch.queue import recorded_settings
from ..states import ACTIVE
from ..store import RunDir
from ..store.queue import QueueFolder
from ..safetext import safe
from .options import echo, RunsDir, open_store


def queue(runs_dir: RunsDir = None, show: int = typer.Option(20, "--show", min=0, help="Waiting runs to list.")
          ) -> None:
    """Show the local queue: who holds it, each slot's run, and the runs waiting for a slot."""
    store = open_store(runs_dir)
    folder = QueueFolder(store.root)
    record = folder.holder()
    waiting = folder.waiting()
    if not record:
        echo(f"no queue in {store.root.absolute()} (study --backend queue starts one)")
        return
    settings, problem = recorded_settings(record)
    alive = folder.holder_alive()
    who = safe(f"pid {record.get('pid')} on {record.get('host')}") if alive else "nobody (it left or was killed)"
    if settings is None:
        echo(f"held by {who}; {safe(problem)} (not trusted: slots unknown)")
    else:
        echo(f"held by {who}; {safe(settings.describe())}, {settings.per_gpu} per GPU, "
             f"up to {settings.max_fused} fused runs a trainer")
    busy: dict[str, list[str]] = {}
    for info in store.list():
        slot = info.status.get("slot")
        if info.status.get("backend") == "queue" and isinstance(slot, str) and info.state in ACTIVE \
                and info.status.get("pid"):
            busy.setdefault(slot, []).append(f"{safe(info.label)} ({info.run_id[-4:]}, epoch {info.epoch}/{info.epochs})")
    width = shutil.get_terminal_size().columns
    for slot in settings.slots() if settings is not None else []:
        runs = busy.get(slot, [])
        line = f"  {slot:10} " + (f"{len(runs)} fused: " if len(runs) > 1 else "") + ("; ".join(runs) or "free")
        echo(line if len(line) < width else line[:width - 4] + "...")
    echo(f"{len(waiting)} waiting" + (":" if waiting and show else ""))
    for place, (_, run_id) in enumerate(waiting[:show], 1):
        info = RunDir(store.root / run_id).info()
        echo(f"  #{place:<4} {run_id}  {safe(info.label)}")
    if len(waiting) > show:
        echo(f"  ... and {len(waiting) - show} more")
