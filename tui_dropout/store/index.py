"""`.index.json` in the runs folder: what each run's files said, keyed by their (mtime, size, inode), so listing
thousands of runs stats three files a run instead of reading and checking them. Any doubt means a fresh read:
a stamp that differs, an index that is missing, damaged or from another version. Written atomically, best effort
(a read-only runs folder simply goes without)."""
from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any

from .files import dumps, open_regular, write_text_atomic
from ..config import FIELD_TYPES as CONFIG_TYPES
from ..states import State
from .info import STATUS_FIELDS, RunInfo, check_fields, fits
from .liveness import ACTIVE, STATES, effective_state

INDEX = ".index.json"
VERSION = 2
FILES = ("status.json", "summary.json", "config.json", "notes.json")
# Everything RunInfo holds but the summary (listings never show it; `RunDir.info()` reads it when needed).
_CACHED = [f.name for f in dataclasses.fields(RunInfo)
           if f.name not in ("run_id", "path", "queue_position", "summary")]


def _kinds() -> dict[str, tuple[Any, bool]]:
    """Each cached field's type and whether it may be null, read from RunInfo's annotations."""
    out = {}
    for name, hint in typing.get_type_hints(RunInfo).items():
        if name not in _CACHED:
            continue
        args = typing.get_args(hint)
        optional = (isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union) and type(None) in args
        if optional:
            hint = next(a for a in args if a is not type(None))
        out[name] = (typing.get_origin(hint) or hint, optional)
    return out


_KINDS = _kinds()


def entry_problem(entry: dict[str, Any]) -> str | None:
    """Why a cached entry cannot stand for its run's files (a field missing or of the wrong type: a damaged or
    hand-written index), or None. Such an entry is dropped and the run read from its own files again."""
    for name, (kind, optional) in _KINDS.items():
        if name not in entry:
            return f"{name} missing"
        value = entry[name]
        if value is None and optional:
            continue
        if not fits(value, kind) or isinstance(value, float) and value != value:
            return f"{name} has the wrong type"
    if not all(isinstance(t, str) for t in entry["tags"]) or entry["state"] not in STATES + (State.CORRUPT,):
        return "tags or state wrong"
    if entry["state"] != State.CORRUPT:  # a sound run's status and config were checked when read: they must still be
        found: list[str] = []
        check_fields(entry["status"], STATUS_FIELDS, "status.json", found)
        check_fields(entry["config"], CONFIG_TYPES, "config.json", found)
        if found:
            return found[0]
    return None


def stamp(folder: Path, files: int = len(FILES)) -> list:
    """(mtime_ns, size, inode) of each file RunInfo is read from (status.json first), or its errno: any write
    changes it. `files=1` stamps status.json alone."""
    out = []
    for name in FILES[:files]:
        try:
            st = os.lstat(os.path.join(folder, name))  # a file swapped for a link to it changes the stamp
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
    if not isinstance(entry, dict) or entry.get("stamp") != run_stamp or entry_problem(entry) is not None:
        return None
    info = RunInfo(run_id, path, **{name: entry[name] for name in _CACHED})
    if not info.problem and isinstance(info.status, dict) and info.status.get("state") in ACTIVE:
        info.state = effective_state(info.status)
    return info
