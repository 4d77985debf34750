"""`.index.json` in the runs folder: what each run's files said, keyed by their (mtime, size, inode), so listing
thousands of runs stats three files a run instead of reading and checking them. Any doubt means a fresh read:
a stamp that differs, an index that is missing, damaged or from another version. Written atomically, best effort
(a read-only runs folder simply goes without)."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from .files import dumps, open_regular, write_text_atomic
from .info import RunInfo
from .liveness import ACTIVE, effective_state

INDEX = ".index.json"
VERSION = 2
FILES = ("status.json", "summary.json", "config.json", "notes.json")
# Everything RunInfo holds but the summary (listings never show it; `RunDir.info()` reads it when needed).
_CACHED = [f.name for f in dataclasses.fields(RunInfo)
           if f.name not in ("run_id", "path", "queue_position", "summary")]


def stamp(folder: Path, files: int = len(FILES)) -> list:
    """(mtime_ns, size, inode) of each file RunInfo is read from (status.json first), or its errno: any write
    changes it. `files=1` stamps status.json alone."""
    out = []
    for name in FILES[:files]:
        try:
            st = os.stat(os.path.join(folder, name))
            out.append([st.st_mtime_ns, st.st_size, st.st_ino])
        except OSError as exc:
            out.append(exc.errno)
    return out


def load(root: Path) -> dict[str, Any]:
    """The index's entries; {} when it is missing or cannot be trusted as a whole."""
    try:
        with open_regular(Path(root) / INDEX) as f:
            data = json.loads(f.read())
    except (OSError, ValueError, RecursionError):
        return {}
    runs = data.get("runs") if isinstance(data, dict) else None
    return runs if data.get("version") == VERSION and isinstance(runs, dict) else {}


def save(root: Path, entries: dict[str, Any]) -> None:
    try:
        write_text_atomic(Path(root) / INDEX, dumps({"version": VERSION, "runs": entries}, separators=(",", ":")))
    except (OSError, ValueError, RecursionError):
        pass  # read-only or full: the next listing reads the files again, nothing is lost


def to_entry(info: RunInfo, run_stamp: list) -> dict[str, Any]:
    return {"stamp": run_stamp, **{name: getattr(info, name) for name in _CACHED}}


def from_entry(run_id: str, path: Path, entry: Any, run_stamp: list) -> RunInfo | None:
    """The cached RunInfo when the files are as they were; its state is worked out again (a live trainer dies
    without touching its files)."""
    if not isinstance(entry, dict) or entry.get("stamp") != run_stamp:
        return None
    try:
        info = RunInfo(run_id, path, **{name: entry[name] for name in _CACHED})
    except (KeyError, TypeError):
        return None
    if not info.problem and isinstance(info.status, dict) and info.status.get("state") in ACTIVE:
        info.state = effective_state(info.status)
    return info
