"""metrics.jsonl: rows checked for shape, and an incremental reader that holds back a torn last line."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

NUMBER_KEYS = ("loss", "lr", "seconds", "elapsed", "train_acc", "test_acc")


def clean_row(row: Any) -> dict[str, Any] | None:
    """A metrics row fit to plot, or None when it is not one (wrong types from a damaged or hand-edited file).

    Non-finite or null numbers (a diverged loss) are kept as NaN so charts show the gap."""
    if not isinstance(row, dict):
        return None
    epoch = row.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        return None
    out = dict(row)
    for key in NUMBER_KEYS:
        if key not in row:
            continue
        value = row[key]
        if value is None:
            out[key] = math.nan
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        else:
            out[key] = float(value)
    return out


class MetricsTail:
    """Incremental reader of a JSONL file: keeps its byte offset and holds back a torn last line."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.offset = 0
        self._inode: int | None = None
        self.bad_lines = 0
        self.reset_needed = False

    def read_new(self) -> list[dict[str, Any]]:
        try:
            st = self.path.stat()
        except OSError:
            return []
        if self._inode is not None and (st.st_ino != self._inode or st.st_size < self.offset):
            self.offset = 0  # replaced or truncated (a resume rewrites it): start over
            self.reset_needed = True
            self.bad_lines = 0
        self._inode = st.st_ino
        if st.st_size == self.offset:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except OSError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        rows = []
        for line in chunk[:end].splitlines():
            if not line.strip():
                continue
            try:
                row = clean_row(json.loads(line))
            except (ValueError, RecursionError):
                row = None
            if row is None:
                self.bad_lines += 1
            else:
                rows.append(row)
        return rows

    def take_reset(self) -> bool:
        """True once after the file was replaced, so a reader that accumulates rows can drop them."""
        was, self.reset_needed = self.reset_needed, False
        return was
