"""`queue`: the local GPU queue of a runs folder: its holder, its slots and what waits, in order; `--json` for
scripts (docs/json.md)."""
from __future__ import annotations

import time
from typing import Annotated

import typer

from ..launch.queue import recorded_settings
from ..states import ACTIVE
from ..store import RunDir
from ..store.queue import QueueFolder
from ..safetext import safe
from .options import echo, output_width, RunsDir, open_store


def holder_text(record: dict, alive: bool) -> str:
    """Who holds the queue, as the record and the holder lock tell it: a holder that left when the queue drained
    wrote so (`left`, no pid); one that names a pid but holds no lock was killed or is no holder."""
    if alive:
        return safe(f"pid {record.get('pid')} on {record.get('host')}")
    left = record.get("left")
    if record.get("pid") is None and isinstance(left, (int, float)) and not isinstance(left, bool):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(left)) if 0 < left < 2**33 else "?"
        return f"nobody (the last holder left at {when}, when nothing waited; a launch starts one)"
    if record.get("pid") is None:
        return "nobody (the record names no process)"
    return safe(f"nobody (pid {record.get('pid')} on {record.get('host')} holds no queue lock: it was killed "
                "or is no holder; a launch starts a new one)")


def slot_runs(store, settings) -> dict[str, list]:
    """Slot -> the active runs a queue trainer trains on it."""
    busy: dict[str, list] = {}
    for info in store.list():
        slot = info.status.get("slot")
        if info.status.get("backend") == "queue" and isinstance(slot, str) and info.state in ACTIVE \
                and info.status.get("pid"):
            busy.setdefault(slot, []).append(info)
    return busy


def queue(runs_dir: RunsDir = None, show: int = typer.Option(20, "--show", min=0, help="Waiting runs to list."),
          as_json: Annotated[bool, typer.Option("--json", help="Print the queue as JSON (docs/json.md).")] = False
          ) -> None:
    """Show the local queue: who holds it, each slot's run, and the runs waiting for a slot."""
    store = open_store(runs_dir)
    folder = QueueFolder(store.root)
    record = folder.holder()
    waiting = folder.waiting()
    settings, problem = recorded_settings(record) if record else (None, None)
    alive = bool(record) and folder.holder_alive()
    busy = slot_runs(store, settings) if record else {}
    if as_json:
        from ..jsonout import document, run_record

        waiting_infos = [(place, RunDir(store.root / run_id).info()) for place, (_, run_id) in enumerate(waiting, 1)]
        holder = None if not record else {
            "alive": alive, "pid": record.get("pid") if alive else None, "host": record.get("host"),
            "left": record.get("left"), "recorded_pid": record.get("pid"), "problem": problem,
            "gpus": settings.gpus if settings else None, "per_gpu": settings.per_gpu if settings else None,
            "max_fused": settings.max_fused if settings else None}
        slots = [{"slot": slot, "runs": [run_record(i) for i in busy.get(slot, [])]}
                 for slot in (settings.slots() if settings else [])]
        typer.echo(document("queue", runs_dir=str(store.root.absolute()), holder=holder, slots=slots,
                            waiting=[{**run_record(info), "place": place} for place, info in waiting_infos]))
        return
    damage = None if record else folder.holder_damage()
    if not record and damage is None:
        echo(f"no queue in {store.root.absolute()} (study --backend queue starts one)")
        return
    who = holder_text(record, alive)
    if damage is not None:  # named, not trusted: no pid or slots are read from it
        echo(f"held by nobody provable; {safe(damage)} (not trusted: a launch starts a new holder)")
    elif settings is None:
        echo(f"held by {who}; {safe(problem)} (not trusted: slots unknown)")
    else:
        echo(f"held by {who}; {'' if alive else 'it served '}{safe(settings.describe())}, {settings.per_gpu} per GPU, "
             f"up to {settings.max_fused} fused runs a trainer")
    width = output_width()  # piped into a file or grep: whole lines
    for slot in settings.slots() if settings is not None else []:
        runs = [f"{safe(i.label)} ({i.run_id[-4:]}, epoch {i.epoch}/{i.epochs})" for i in busy.get(slot, [])]
        line = f"  {slot:10} " + (f"{len(runs)} fused: " if len(runs) > 1 else "") + ("; ".join(runs) or "free")
        echo(line if len(line) < width else line[:width - 4] + "...")
    echo(f"{len(waiting)} waiting" + (":" if waiting and show else ""))
    for place, (_, run_id) in enumerate(waiting[:show], 1):
        info = RunDir(store.root / run_id).info()
        echo(f"  #{place:<4} {run_id}  {safe(info.label)}")
    if len(waiting) > show:
        echo(f"  ... and {len(waiting) - show} more")
