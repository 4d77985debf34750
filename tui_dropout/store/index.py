"""`.index.json` in the runs folder: what each run's files said, keyed by their (mtime, size, inode), so listing
thousands of runs stats four files a run instead of reading and checking them. Any doubt means a fresh read:
a stamp that differs, an index that is missing, damaged or from another version. Written atomically, best effort
(a read-only runs folder simply goes without).

The runs of a folder share most of their config (a study varies a field or two) and much of their status: the
values that more than half the runs share are kept once (`common`), each entry keeps only how its own differ.
At 50,000 runs that makes the index a third of the size, and its values are type-checked once, not once a run."""
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
VERSION = 3
SHARED = ("config", "status")  # the tables factored into `common`; an entry holds only its differences from them
_ABSENT = "absent"  # an entry's list of common keys its own table lacks, per shared table: {"config": [...]}
_ORDER = "order"  # the order of the tables' keys: the index's (every run's), or an entry's own where it differs
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
_MISSING = object()
# Exact types that pass without a closer look (bool is no int; a float is looked at for NaN).
_FAST = {name: ((int,) if kind is float else (kind,)) + ((type(None),) if optional else ())
         for name, (kind, optional) in _KINDS.items()}


def entry_problem(entry: dict[str, Any]) -> str | None:
    """Why a cached entry cannot stand for its run's files (a field missing or of the wrong type: a damaged or
    hand-written index), or None. Such an entry is dropped and the run read from its own files again."""
    for name, (kind, optional) in _KINDS.items():
        value = entry.get(name, _MISSING)
        if type(value) in _FAST[name] or type(value) is float and kind is float and value == value:
            continue  # the usual case at a glance (an exact type, not NaN): 50,000 entries are checked a listing
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


def load(root: Path) -> "Cached":
    """The index's entries; none when it is missing or cannot be trusted as a whole."""
    try:
        with open_regular(Path(root) / INDEX) as f:
            data = json.loads(f.read())
    except (OSError, ValueError, RecursionError):
        return Cached({}, {})
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return Cached({}, {})
    runs, common, order = data.get("runs"), data.get("common"), data.get("order")
    if not isinstance(runs, dict) or not isinstance(common, dict) or common_problem(common) is not None or \
            not _orders_sound(order):
        return Cached({}, {})
    return Cached(runs, {**common, _ORDER: order})


class Cached:
    """The entries of a loaded index, by run id, and the values they share."""

    def __init__(self, runs: dict[str, Any], common: dict[str, dict[str, Any]]):
        self.runs, self.common = runs, common

    def __len__(self) -> int:
        return len(self.runs)

    def get(self, run_id: str) -> Any:
        return self.runs.get(run_id)


def _orders_sound(order: Any) -> bool:
    return isinstance(order, dict) and set(order) == set(SHARED) and all(
        isinstance(keys, list) and all(isinstance(k, str) for k in keys) for keys in order.values())


def common_problem(common: dict[str, Any]) -> str | None:
    """Why the shared values cannot stand in for any run's (the wrong type in a hand-written index), or None."""
    if set(common) != set(SHARED) or not all(isinstance(common[name], dict) for name in SHARED):
        return "common tables missing"
    found: list[str] = []
    check_fields(common["status"], STATUS_FIELDS, "status.json", found)
    check_fields(common["config"], CONFIG_TYPES, "config.json", found)
    return found[0] if found else None


def save(root: Path, entries: dict[str, Any]) -> None:
    sound = [e for e in entries.values() if e["state"] != State.CORRUPT]  # a damaged run's values are never shared
    common = {name: _shared([e[name] for e in sound if isinstance(e[name], dict)]) for name in SHARED}
    # the keys in the order the runs' files hold them (the config's field order): a table comes back in its order
    order = {name: list(dict.fromkeys(k for e in entries.values() if isinstance(e[name], dict) for k in e[name]))
             for name in SHARED}
    runs = {run_id: _factored(entry, {**common, _ORDER: order}) for run_id, entry in entries.items()}
    try:
        write_text_atomic(Path(root) / INDEX, dumps({"version": VERSION, "common": common, "order": order,
                                                     "runs": runs}, separators=(",", ":")))
    except (OSError, ValueError, RecursionError):
        pass  # read-only or full: the next listing reads the files again, nothing is lost


def _scalar(value: Any) -> bool:
    return value is None or type(value) in (str, int, float, bool)


def _shared(tables: list[dict[str, Any]]) -> dict[str, Any]:
    """The plain values (text, numbers, true/false, null) that more than half of `tables` hold under the same key,
    with the same type (1, 1.0 and true are three values here)."""
    counts: dict[tuple, int] = {}
    for table in tables:
        for key, value in table.items():
            if _scalar(value):
                mark = (key, type(value), value)
                counts[mark] = counts.get(mark, 0) + 1
    half = len(tables) // 2
    return {key: value for (key, _, value), n in counts.items() if n > half}


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _factored(entry: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    absent, own_order = {}, {}
    for name in SHARED:
        table, base = entry[name], common[name]
        if not isinstance(table, dict):
            continue  # kept as it is: the entry is refused when read
        out[name] = delta = {k: v for k, v in table.items() if k not in base or not _same(base[k], v)}
        missing = [k for k in base if k not in table]
        if missing:
            absent[name] = missing
        if list(_merged(base, delta, missing, common[_ORDER][name])) != list(table):
            own_order[name] = list(table)  # written by hand in another order: its own order, kept
    if absent:
        out[_ABSENT] = absent
    if own_order:
        out[_ORDER] = own_order
    return out


def _merged(base: dict[str, Any], delta: dict[str, Any], gone: list, order: list[str]) -> dict[str, Any]:
    """A table from the shared values and an entry's own, in `order` (keys it does not name come last)."""
    out = {}
    for k in order:
        if k in delta:
            out[k] = delta[k]
        elif k in base and k not in gone:
            out[k] = base[k]
    if len(out) < len(delta):
        out.update((k, v) for k, v in delta.items() if k not in out)
    return out


def _expanded(entry: dict[str, Any], common: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The entry's own tables, the shared values put back; None when its list of absent keys is malformed."""
    absent, own_order = entry.get(_ABSENT, {}), entry.get(_ORDER, {})
    if not isinstance(absent, dict) or not isinstance(own_order, dict):
        return None
    out = {}
    for name in SHARED:
        gone, order = absent.get(name, []), own_order.get(name, common[_ORDER][name])
        if not isinstance(gone, list) or not isinstance(order, list) or not all(isinstance(k, str) for k in order):
            return None
        out[name] = _merged(common[name], entry[name], gone, order)
    return out


def to_entry(info: RunInfo, run_stamp: list) -> dict[str, Any]:
    return {"stamp": run_stamp, **{name: getattr(info, name) for name in _CACHED}}


def from_entry(run_id: str, path: Path, entry: Any, run_stamp: list, common: dict[str, Any] | None = None
               ) -> RunInfo | None:
    """The cached RunInfo when the files are as they were; its state is worked out again (a live trainer dies
    without touching its files). `common`: the shared values of the index the entry came from (None: the entry is
    whole)."""
    if not isinstance(entry, dict) or entry.get("stamp") != run_stamp or entry_problem(entry) is not None:
        return None
    values = {name: entry[name] for name in _CACHED}
    if common is not None:
        tables = _expanded(entry, common)
        if tables is None:
            return None
        values.update(tables)
    info = RunInfo(run_id, path, **values)
    if not info.problem and isinstance(info.status, dict) and info.status.get("state") in ACTIVE:
        info.state = effective_state(info.status)
    return info
