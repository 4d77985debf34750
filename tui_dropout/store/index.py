"""`.index.json` in the runs folder: what each run's files said, so listing thousands of runs costs one stat a
run (its folder) instead of reading and checking four files. Any doubt means a fresh read: a stamp that differs,
a value of the wrong type, an index that is missing, damaged or from another version. Written atomically, best
effort (a read-only runs folder simply goes without).

Why one stat is enough: every program writer of config.json, summary.json, notes.json and status.json writes a
temporary file beside and renames it in (`files.write_text_atomic`), and a rename into a folder moves the folder's
mtime. A change made by hand in place to one of those files lists the run as it was until its folder changes
(`touch` the folder to show it at once); every other read (show, resume, export...) reads the files themselves.
A stamp taken within SETTLE_NS of a write is not kept: a filesystem's clock ticks coarsely (milliseconds, seconds
on some), and a second write in the same tick would leave the stamp as it was. A run whose status says running is
never stamped either: its trainer writes it every few seconds, and it is read afresh at each listing.

The index is stored by column (one JSON list per field, run i at position i of each), so reading it decodes few
objects and each column's types are checked in one pass, not once a run; a value of the wrong type costs its own
run only. A config or status value that every run holding the key shares is kept once (`same`). Each run's line
in `dropout-tui runs` (`listed.cells`) is kept too, so the plain listing formats nothing but new or live runs."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import types
import typing
from pathlib import Path
from typing import Any

from .files import dumps, open_regular, write_text_atomic
from ..config import FIELD_TYPES as CONFIG_TYPES
from ..states import State
from .info import FAST_TYPES, RUN_IDS, STATUS_FIELDS, RunInfo, check_fields, fits
from .listed import kept
from .names import all_run_names
from .liveness import ACTIVE, STATES, effective_state

INDEX = ".index.json"
VERSION = 5
TABLES = ("config", "status")
SETTLE_NS = 2_000_000_000  # a run folder written this recently is not stamped (coarse mtime clocks)
# Everything RunInfo holds but the summary (listings never show it; `RunDir.info()` reads it when needed).
FIELDS = [f.name for f in dataclasses.fields(RunInfo)
          if f.name not in ("run_id", "path", "queue_position", "summary", *TABLES)]
_KIND_OF_TABLE = {"config": CONFIG_TYPES, "status": STATUS_FIELDS}
_SCALARS = (str, int, float, bool, type(None))
_bare = object.__new__


def _kinds() -> dict[str, tuple[Any, bool]]:
    """Each cached field's type and whether it may be null, read from RunInfo's annotations."""
    out = {}
    for name, hint in typing.get_type_hints(RunInfo).items():
        if name not in FIELDS:
            continue
        args = typing.get_args(hint)
        optional = (isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union) and type(None) in args
        if optional:
            hint = next(a for a in args if a is not type(None))
        out[name] = (typing.get_origin(hint) or hint, optional)
    return out


_KINDS = _kinds()


def stamp(folder: Path | str) -> tuple:
    """(mtime_ns, inode) of the run folder, or (errno,) when it cannot be had. lstat: a folder swapped for a link
    to itself changes it. Every program writer renames its file into the folder, which moves the folder's mtime."""
    try:
        st = os.lstat(folder)
    except OSError as exc:
        return (exc.errno,)
    return (st.st_mtime_ns, st.st_ino)


def settled(run_stamp: tuple, now_ns: int | None = None) -> bool:
    """Whether the folder was not written within SETTLE_NS of `now_ns`: only then may its stamp stand for the
    files (a write in the same tick of a coarse clock would not change it)."""
    return len(run_stamp) == 2 and run_stamp[0] < (now_ns or time.time_ns()) - SETTLE_NS


def stampable(run_stamp: tuple, now_ns: int, info: RunInfo) -> bool:
    """Whether the index keeps this stamp for the run: settled, not a run its trainer is writing to, and not a
    damaged run (read afresh each time: a chmod that makes its files readable again moves no mtime)."""
    status = info.status
    return settled(run_stamp, now_ns) and info.state != State.CORRUPT and not (
        isinstance(status, dict) and status.get("state") == State.RUNNING)


def key(run_stamp: tuple) -> int:
    """The stamp as one integer for the index file (hash of a tuple of ints: the same in every process)."""
    return hash(run_stamp)


# ----- reading -----------------------------------------------------------------------------------------------
class Cached:
    """A loaded index: each run's cached values by run id, the rows whose values failed their checks left out."""

    def __init__(self, data: dict[str, Any] | None = None):
        self.ids: dict[str, int] = {}
        if data is None:
            return
        self.stamps, self.fields, self.tables, self.lines = data["stamps"], data["fields"], data["tables"], data["lines"]
        self.bad: set[int] = data["bad"]
        self.ids = dict(zip(data["ids"], range(len(data["ids"]))))
        self._made: list[tuple] | None = None

    @property
    def _rows(self) -> list[tuple]:
        """One tuple of cached fields a run, made at C speed when an info is first asked for (a plain `runs`
        listing asks for none)."""
        if self._made is None:
            self._made = list(zip(*[self.fields[name] for name in FIELDS]))
        return self._made

    def __len__(self) -> int:
        return len(self.ids)

    def info(self, run_id: str, path: Path, run_stamp: tuple) -> RunInfo | None:
        """The cached RunInfo when the run's stamp is the one indexed and its values passed their checks; its
        state is worked out again (a live trainer dies without touching its files). Its config and status are
        made from their columns when first read."""
        i = self.ids.get(run_id)
        if i is None or i in self.bad or self.stamps[i] != hash(run_stamp) or self.stamps[i] is None:
            return None
        info = _bare(RunInfo)  # no __init__: its values are set at once, checked when the index was read
        values = info.__dict__
        values.update(zip(FIELDS, self._rows[i]))
        values.update(run_id=run_id, path=path, queue_position=None, summary={}, tags=list(values["tags"]),
                      _tables=(self.tables, i))
        if info.state != State.CORRUPT and self.tables["status"].value(i, "state") in ACTIVE:
            info.state = effective_state(info.status)
        return info

    def stale(self, run_id: str, run_stamp: tuple, now_ns: int, info: RunInfo) -> bool:
        """Whether the index would keep a stamp for this run (read afresh as `info`) that it does not hold yet."""
        i = self.ids.get(run_id)
        return stampable(run_stamp, now_ns, info) and (i is None or i in self.bad or self.stamps[i] != hash(run_stamp))

class Table:
    """One table (config or status) of every run: the shared values, a column per varying key, and the few runs
    that lack a key, hold them in another order or are kept whole (a damaged run's, never type-checked)."""

    def __init__(self, same: dict, columns: dict[str, list], absent: dict[int, list], order: dict[int, list],
                 whole: dict[int, Any], keys: list[str]):
        self.template = {k: same.get(k) for k in keys}  # every key in order: a row is a copy, then its values
        self.columns, self.absent, self.order, self.whole = columns, absent, order, whole
        self._names, self._cols = list(columns), list(columns.values())

    def value(self, i: int, key: str) -> Any:
        """One value of run i's table (None when it has none), without making the row."""
        if i in self.whole:
            table = self.whole[i]
            return table.get(key) if type(table) is dict else None
        column = self.columns.get(key)
        if i in self.absent and key in self.absent[i]:
            return None
        return column[i] if column is not None else self.template.get(key)

    def row(self, i: int) -> Any:
        if i in self.whole:
            return self.whole[i]
        out = self.template.copy()
        for name, col in zip(self._names, self._cols):
            out[name] = col[i]
        if i in self.absent:
            for k in self.absent[i]:
                out.pop(k, None)
        if i in self.order:
            out = {k: out[k] for k in self.order[i] if k in out}
        return out


def load(root: Path) -> Cached:
    """The index's entries; none when it is missing or its layout cannot be trusted as a whole."""
    try:
        with open_regular(Path(root) / INDEX) as f:
            data = json.loads(f.read())
        return _checked(data) if isinstance(data, dict) and data.get("version") == VERSION else Cached()
    except (OSError, ValueError, ArithmeticError, RecursionError, TypeError, KeyError, AttributeError):
        return Cached()


def _is_list(value: Any, n: int) -> bool:
    return type(value) is list and len(value) == n


def _index_map(value: Any, n: int, kind: Any) -> dict[int, Any]:
    """{"3": [...]} as {3: [...]}: run positions that exist, values of `kind` (a list of text, or any)."""
    if type(value) is not dict:
        raise ValueError("not a table")
    out = {}
    for k, v in value.items():
        i = int(k)
        if not 0 <= i < n or kind is list and not (type(v) is list and all(type(x) is str for x in v)):
            raise ValueError("bad position")
        out[i] = v
    return out


def _checked(data: dict[str, Any]) -> Cached:
    ids, stamps, fields, tables = data["ids"], data["stamps"], data["fields"], data["tables"]
    n = len(ids)
    if not _is_list(ids, n) or not all(type(x) is str for x in ids) or len(set(ids)) != n \
            or not all_run_names(ids) \
            or not _is_list(stamps, n) or not set(map(type, stamps)) <= {int, type(None)} \
            or type(fields) is not dict or type(tables) is not dict:
        raise ValueError("layout")
    bad: set[int] = set()
    shared: dict[str, tuple[Any, list[int]]] = {}  # a compact column's one value, and the runs that differ
    for name, (kind, optional) in _KINDS.items():
        raw = fields[name]
        column = fields[name] = _expand(raw, n)
        if not _is_list(column, n):
            raise ValueError(name)
        if type(raw) is dict:  # one value for most runs: it, and the runs that differ, are checked
            found: set[int] = set()
            _check_column([raw["all"]], kind, optional, True, found)
            if found:
                raise ValueError(name)  # a shared value of the wrong type would be every run's: the whole index
            others = sorted(_index_map(raw["except"], n, None))
            _check_column([column[i] for i in others], kind, optional, True, found)
            bad.update(others[j] for j in found)
            shared[name] = (raw["all"], others)
        else:
            _check_column(column, kind, optional, True, bad)
    states = set(STATES) | {State.CORRUPT}
    for name, sound_value in (("tags", lambda t: all(type(x) is str for x in t)), ("state", lambda s: s in states)):
        column = fields[name]
        if name in shared:
            value, others = shared[name]
            if not sound_value(value):
                raise ValueError(name)
            bad.update(i for i in others if i not in bad and not sound_value(column[i]))
        else:
            bad.update(i for i, v in enumerate(column) if i not in bad and not sound_value(v))
    sound = [i for i, s in enumerate(fields["state"]) if s != State.CORRUPT] if any(
        table.get("whole") for table in tables.values() if type(table) is dict) else []
    built = {name: _table(tables[name], n, _KIND_OF_TABLE[name], bad, sound) for name in TABLES}
    lines = data["lines"]
    if not _is_list(lines, n):
        raise ValueError("lines")
    return Cached({"stamps": stamps, "fields": fields, "tables": built, "bad": bad, "ids": ids, "lines": lines})


def _expand(column: Any, n: int) -> Any:
    """A column as a list: {"all": V, "except": {"i": W}} is V for every run but those named."""
    if type(column) is not dict:
        return column
    out = [column["all"]] * n  # one value shared: decoded once, not once a run
    for k, v in _index_map(column["except"], n, None).items():
        out[k] = v
    return out


def _compact(column: list) -> Any:
    """A column whose most runs hold one plain value, written once with the runs that differ."""
    counts: dict[tuple, int] = {}
    for v in column:
        if type(v) in _SCALARS or v == []:
            mark = (type(v), v if type(v) is not list else ())
            counts[mark] = counts.get(mark, 0) + 1
    if not counts:
        return column
    (kind, value), count = max(counts.items(), key=lambda item: item[1])
    if count <= len(column) // 2:
        return column
    value = [] if kind is list else value
    return {"all": value, "except": {str(i): v for i, v in enumerate(column)
                                     if type(v) is not kind or v != value}}


def _check_column(column: list, kind: Any, optional: bool, no_nan: bool, bad: set[int]) -> None:
    """Add to `bad` the positions whose value does not fit `kind`: one pass over the column's types when all is
    well (the usual case), a look at each value only when not. A number column's whole numbers must fit a float
    (10**400 would crash whatever formats it), and with `no_nan` its floats must be finite."""
    allowed = set(FAST_TYPES.get(kind) or ((kind,) if isinstance(kind, type) else ())) | (
        {type(None)} if optional else set())
    kinds = set(map(type, column))
    if allowed and kinds <= allowed:
        if kind is not float or not (int in kinds or no_nan and float in kinds):
            return
        try:
            if all(map(math.isfinite, column if type(None) not in kinds else (v for v in column if v is not None))) \
                    or not no_nan and int not in kinds:
                return
        except OverflowError:  # a whole number beyond any float
            pass
    for i, value in enumerate(column):
        if value is None and optional:
            continue
        if not fits(value, kind) or no_nan and isinstance(value, float) and value != value \
                or kind is float and type(value) is int and not _float_sized(value):
            bad.add(i)


def _float_sized(value: int) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def _table(data: Any, n: int, kinds: dict[str, Any], bad: set[int], sound: list[int]) -> Table:
    if type(data) is not dict:
        raise ValueError("table")
    same, columns, keys = data["same"], data["columns"], data["keys"]
    if type(same) is not dict or type(columns) is not dict or type(keys) is not list \
            or not all(type(k) is str for k in keys) or not set(same) | set(columns) <= set(keys) \
            or not all(type(v) in _SCALARS for v in same.values()):
        raise ValueError("table")
    found: list[str] = []
    check_fields(same, kinds, "index", found)  # a shared value of the wrong type would be every run's: the whole index
    if found:
        raise ValueError(found[0])
    for name, column in columns.items():
        if not _is_list(column, n):
            raise ValueError(name)
        kind = kinds.get(name)
        if kind is None:
            continue
        if kind is RUN_IDS:
            bad.update(i for i, v in enumerate(column) if v is not None and not fits(v, RUN_IDS))
        else:
            _check_column(column, kind, True, False, bad)
        if name == "state" and kinds is STATUS_FIELDS:
            bad.update(i for i, v in enumerate(column) if v is not None and (type(v) is not str or v not in STATES))
    whole = _index_map(data["whole"], n, None)
    if any(i in whole for i in sound):
        bad.update(i for i in sound if i in whole)  # only a damaged run's tables are kept whole
    return Table(same, columns, _index_map(data["absent"], n, list), _index_map(data["order"], n, list), whole, keys)


# ----- writing -----------------------------------------------------------------------------------------------
def save(root: Path, runs: list[tuple[str, tuple, RunInfo]], now_ns: int | None = None) -> None:
    """Write the index of `runs` (run id, stamp, info); a stamp not to be kept (`stampable`) is written as null
    (read again)."""
    now_ns = now_ns or time.time_ns()
    infos = [info for _, _, info in runs]
    data = {"version": VERSION, "ids": [run_id for run_id, _, _ in runs],
            "stamps": [hash(s) if stampable(s, now_ns, info) else None for _, s, info in runs],
            "fields": {name: _compact([getattr(info, name) for info in infos]) for name in FIELDS},
            "tables": {name: _columns([getattr(info, name) for info in infos],
                                      [info.state != State.CORRUPT for info in infos]) for name in TABLES},
            "lines": [kept(info) for info in infos]}
    try:
        write_text_atomic(Path(root) / INDEX, dumps(data, separators=(",", ":")))
    except (OSError, ValueError, RecursionError, TypeError):
        pass  # read-only or full: the next listing reads the files again, nothing is lost


def _columns(tables: list[Any], sound: list[bool]) -> dict[str, Any]:
    """Every run's table by column: a key whose value (and its type) is the same in every sound run holding it is
    kept once; a damaged run's table is kept whole, as read."""
    whole = {str(i): t for i, (t, ok) in enumerate(zip(tables, sound)) if not ok or type(t) is not dict}
    held = [t if str(i) not in whole else {} for i, t in enumerate(tables)]
    keys = list(dict.fromkeys(k for t in held for k in t))
    same, columns = {}, {}
    for k in keys:
        values = [t[k] for t in held if k in t]
        first = values[0]
        if type(first) in _SCALARS and all(type(v) is type(first) and v == first for v in values):
            same[k] = first
        else:
            columns[k] = [t.get(k) for t in held]
    absent, order = {}, {}
    for i, t in enumerate(held):
        if str(i) in whole:
            continue
        if len(t) != len(keys):
            absent[str(i)] = [k for k in keys if k not in t]
        if list(t) != [k for k in keys if k in t]:
            order[str(i)] = list(t)  # written by hand in another order: its own order, kept
    return {"keys": keys, "same": same, "columns": columns, "absent": absent, "order": order, "whole": whole}
