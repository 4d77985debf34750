"""metrics.jsonl: rows checked for shape, and an incremental reader that holds back a torn last line."""
from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any, Iterator

from .files import loads, open_regular
from .. import metrics

MAX_EPOCH = 2**31 - 1  # the config's own limit on counts; a larger epoch is a damaged row
CHUNK_BYTES = 1 << 20  # read this much of a metrics file at a time: memory stays flat whatever its size


def clean_row(row: Any) -> dict[str, Any] | None:
    """A metrics row fit to plot, or None when it is not one (wrong types from a damaged or hand-edited file).

    Every metric of the registry (tui_dropout/metrics.py), a family's per-layer keys included, must be a number or
    null. Non-finite or null numbers (a diverged loss; a bare NaN or Infinity from an older version) are kept as NaN
    so charts show the gap. Other fields are kept only when they are plain values (text, numbers, true/false)."""
    if not isinstance(row, dict):
        return None
    epoch = row.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 1 <= epoch <= MAX_EPOCH:
        return None
    out = {k: v for k, v in row.items() if v is None or isinstance(v, (str, int, float))}
    for key in number_keys(row):
        value = row[key]
        if value is None:
            out[key] = math.nan
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        else:
            try:
                value = float(value)
            except OverflowError:  # an integer beyond any float
                return None
            out[key] = value if math.isfinite(value) else math.nan
    return out


def number_keys(row: dict[str, Any]) -> list[str]:
    """The keys of `row` that the registry says hold numbers: its plain metrics and any family's layer keys."""
    keys = [m.name for m in metrics.recorded() if m.name in row]
    if len(row) > len(keys) + 1:  # more than epoch and the plain metrics: perhaps per-layer ones
        keys += [key for key, _, _ in metrics.family_keys(row)]
    return keys


class MetricsTail:
    """Incremental reader of a JSONL file: keeps its byte offset and holds back a torn last line."""

    def __init__(self, path: Path, only: list[bytes] | None = None):
        self.path = Path(path)
        self.only = only  # when given: only lines holding one of these bytes are parsed, the rest skipped unread
        self.offset = 0
        self._inode: int | None = None
        self.bad_lines = 0
        self.reset_needed = False

    def read_new(self) -> list[dict[str, Any]]:
        """Every whole row appended since the last read, as a list (iter_new streams them instead)."""
        return list(self.iter_new())

    def restart(self) -> None:
        """Read the file from its start again, as if new."""
        self.offset, self._inode, self.bad_lines, self.reset_needed = 0, None, 0, False

    def pending(self) -> int:
        """Bytes appended since the last read (the whole file when it was replaced): 0 when there is none to read."""
        try:
            st = self.path.stat()
        except OSError:
            return 0
        if not stat.S_ISREG(st.st_mode):
            return 0
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
            return st.st_size
        return max(0, st.st_size - self.offset)

    def iter_new(self, chunk_bytes: int | None = None) -> Iterator[dict[str, Any]]:
        """The rows appended since the last read, read `chunk_bytes` at a time: a file of any size costs one chunk
        of memory. The offset moves past a chunk's whole lines as their rows are handed out; rows appended while
        it reads wait for the next read. `chunk_bytes`: CHUNK_BYTES unless given."""
        chunk_bytes = chunk_bytes or CHUNK_BYTES
        try:
            st = self.path.stat()
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode):
            return  # a folder, a FIFO (reading it would block) or a device: nothing to plot
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
            self.offset = 0  # replaced or truncated (a resume rewrites it): start over
            self.reset_needed = True
            self.bad_lines = 0
        self._inode = st.st_ino
        if st.st_size == self.offset:
            return
        try:
            with open_regular(self.path) as f:
                if os.fstat(f.fileno()).st_ino != st.st_ino:
                    return  # replaced since the stat above: the next read starts over on the new file
                f.seek(self.offset)
                end_at = st.st_size  # what the stat saw: rows appended while we read wait for the next read
                carry = b""
                while self.offset + len(carry) < end_at:
                    chunk = f.read(min(chunk_bytes, end_at - self.offset - len(carry)))
                    if not chunk:
                        break
                    chunk = carry + chunk
                    end = chunk.rfind(b"\n")
                    if end < 0:
                        carry = chunk  # one line longer than a chunk: keep reading until it ends
                        continue
                    carry = chunk[end + 1:]
                    lines = chunk[:end].splitlines() if self._wanted(chunk[:end]) else []
                    self.offset += end + 1
                    yield from self._rows(lines)
        except OSError:
            return

    def _wanted(self, text: bytes) -> bool:
        return self.only is None or any(needle in text for needle in self.only)

    def _rows(self, lines: list[bytes]) -> Iterator[dict[str, Any]]:
        for line in lines:
            if not line.strip() or self.only is not None and not self._wanted(line):
                continue
            try:
                row = clean_row(loads(line))
            except (ValueError, RecursionError):
                row = None
            if row is None:
                self.bad_lines += 1
            else:
                yield row

    def take_reset(self) -> bool:
        """True once after the file was replaced, so a reader that accumulates rows can drop them."""
        was, self.reset_needed = self.reset_needed, False
        return was


def rows_containing(path: Path, needles: list[bytes]) -> Iterator[dict[str, Any]]:
    """The rows of a metrics file whose lines hold one of `needles`; the other lines are skipped without parsing
    (a scan for the per-layer keys an export's columns need costs a plain read of a file without them)."""
    if not needles:
        return iter(())
    return MetricsTail(path, only=list(needles)).iter_new()


class LogTail:
    """Incremental reader of a text log (train.log): whole lines as they are appended, a torn last line held back.

    The first read starts at most `max_bytes` before the end (`skipped` says how many bytes it left out); a file
    replaced or truncated starts over (`take_reset`). `problem` says why the file could not be read, "" when it
    could (a missing file is a problem until it appears)."""

    def __init__(self, path: Path, max_bytes: int = 4 << 20):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.offset = 0
        self.skipped = 0
        self.size = 0
        self.problem = ""
        self._inode: int | None = None
        self._reset = False

    def read_new(self) -> list[str]:
        try:
            with open_regular(self.path) as f:  # a FIFO or device must not block the reader
                st = os.fstat(f.fileno())
                if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
                    self.offset, self.skipped, self._reset = 0, 0, True  # replaced or truncated: start over
                if self._inode is None or self._reset and self.offset == 0:
                    self.skipped = max(0, st.st_size - self.max_bytes)
                    self.offset = self.skipped
                self._inode, self.size = st.st_ino, st.st_size
                if st.st_size <= self.offset:
                    self.problem = ""
                    return []
                mid = int(self.offset == self.skipped and self.skipped > 0)  # one byte back: a line may start here
                f.seek(self.offset - mid)
                chunk = f.read(st.st_size - self.offset + mid)
        except FileNotFoundError:
            self.problem = f"no {self.path.name} yet"
            return []
        except OSError as exc:
            self.problem = f"cannot read {self.path.name}: {(exc.strerror or str(exc)).lower()}"
            return []
        self.problem = ""
        start = 0
        if mid:  # began mid-file: drop the partial first line (none when the cut fell on a line's start)
            start = chunk.find(b"\n") + 1
            if start == 0:
                return []  # no line ends yet within what was read: read it whole next time
        end = chunk.rfind(b"\n")
        if end < start:
            return []
        self.offset += end + 1 - mid
        return chunk[start:end].decode("utf-8", "replace").split("\n")

    def take_reset(self) -> bool:
        """True once after the file was replaced or truncated, so the lines shown so far can be dropped."""
        was, self._reset = self._reset, False
        return was
