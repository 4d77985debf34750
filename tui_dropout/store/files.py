"""JSON files written atomically and read defensively, the flock that orders writers, and temp-file sweeping."""
from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable

from ..errors import DropoutTuiError
from .liveness import process_alive

# Every temporary file a writer leaves while it works: .<name>.<pid>[.<thread>].tmp
# Run-folder files are never opened through a link: a neighbour's link to a file outside the runs folder would
# be read, written or created as the reader. ELOOP is what O_NOFOLLOW answers for a link.
NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
TEMP_NAME = re.compile(r"^\..+?\.(\d+)(\.\d+)?\.tmp$")


class DamagedFile(DropoutTuiError, ValueError):
    """A run-folder file that exists but cannot be used; the message names the file and what is wrong."""


def json_safe(value: Any) -> Any:
    """Non-finite floats become null: a bare NaN or Infinity is not JSON, and other readers reject it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(data: Any, **kwargs: Any) -> str:
    return json.dumps(json_safe(data), allow_nan=False, **kwargs)


def temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def write_text_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Write beside, then rename over: a reader sees the old file or the new one, never half of one. `text` may be
    pieces (a generator), written as they come."""
    tmp = temp_path(path)
    tmp.unlink(missing_ok=True)  # litter (or a planted link) of that name: O_EXCL below then creates a new file
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644), "w") as f:
            f.writelines([text] if isinstance(text, str) else text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not also leave litter behind
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps(data, indent=2, sort_keys=True) + "\n")


MAX_JSON_BYTES = 64 << 20  # a status, config or summary file is a few kB; anything this big is not one
MAX_INT_DIGITS = 300  # an integer beyond a float's range (1.8e308) cannot be a time, count or figure
MAX_DEPTH = 64  # run files nest two or three levels; far deeper ones would break every recursive writer and printer


class NumberTooLarge(DropoutTuiError, ValueError):
    """An integer in a JSON file too long to convert safely."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise NumberTooLarge(f"a number with {len(text.lstrip('-'))} digits")
    return int(text)


_CHECKED = json.JSONDecoder(parse_int=_parse_int)
_LONG_DIGITS = re.compile(r"\d{%d}" % (MAX_INT_DIGITS + 1))


def loads(text: str | bytes) -> Any:
    """json.loads, also reading the bare NaN/Infinity that older versions wrote; integers too large for any
    float raise ValueError (every reader compares or converts them to floats, which would overflow).

    The C decoder does the work; the slower checking one only runs when a long run of digits is in the text."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if _LONG_DIGITS.search(text):
        return _CHECKED.decode(text)
    return json.loads(text)


def nesting(value: Any) -> int:
    """How deeply lists and objects nest in `value` (0 for a plain value), without recursing."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            v = v.values()
        elif not isinstance(v, list):
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((item, depth + 1) for item in v)
    return deepest


def _open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """os.open that refuses a link as the last part of `path` (OSError ELOOP, worded "a link, not a file")."""
    try:
        return os.open(path, flags | NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "a link, not a file (links are not followed)", str(path)) from None
        raise


def open_append(path: Path):
    """`path` opened to append text (created when missing), never through a link."""
    return os.fdopen(_open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a")


def open_regular(path: Path):
    """`path` opened for binary reading when it is a regular file; OSError for anything else, at once.

    A FIFO would block the reader until some writer came, a device like /dev/zero never ends."""
    fd = _open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            folder = stat.S_ISDIR(mode)
            raise OSError(errno.EISDIR if folder else errno.EINVAL, "a folder, not a file" if folder else
                          "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_regular(path: Path, limit: int) -> bytes:
    """The whole file when it is a regular one of at most `limit` bytes; three syscalls for a small file
    (a list of thousands of runs reads three of these per run)."""
    fd = _open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            folder = stat.S_ISDIR(st.st_mode)
            raise OSError(errno.EISDIR if folder else errno.EINVAL, "a folder, not a file" if folder else
                          "not a regular file")
        if st.st_size > limit:
            raise OSError(errno.EFBIG, f"{st.st_size} bytes, too large")
        chunks = [os.read(fd, st.st_size + 1)]
        while chunks[-1] and sum(map(len, chunks)) <= limit:  # a file that grew while we read
            chunks.append(os.read(fd, 1 << 16))
        return b"".join(chunks)
    finally:
        os.close(fd)


def json_kind(value: Any) -> str:
    """What a JSON value is, in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    return "text" if isinstance(value, str) else "a list" if isinstance(value, list) else "an object"


def read_json(path: Path, limit: int = MAX_JSON_BYTES) -> dict[str, Any] | None:
    """None when absent; DamagedFile (naming the file) when present but not a readable JSON object (or larger than
    `limit` bytes)."""
    try:
        text = _read_regular(path, limit).decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise DamagedFile(f"{path.name} is not UTF-8 text") from None
    except OSError as exc:
        raise DamagedFile(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    try:
        data = loads(text)  # also reads the bare NaN that older versions wrote
    except NumberTooLarge as exc:
        raise DamagedFile(f"{path.name} holds {exc}, too large to be a real value") from None
    except ValueError as exc:
        raise DamagedFile(f"{path.name} is not valid JSON ({exc})") from None
    except RecursionError:
        raise DamagedFile(f"{path.name} is nested too deeply to read") from None
    if (text.count("[") + text.count("{")) > MAX_DEPTH and nesting(data) > MAX_DEPTH:  # count first: cheap
        raise DamagedFile(f"{path.name} is nested too deeply to read")
    if not isinstance(data, dict):
        raise DamagedFile(f"{path.name} is not a JSON object (it holds {json_kind(data)})")
    return data


@contextmanager
def file_lock(path: Path):
    """An flock across processes: launchers, the trainer and cancel all update status.json."""
    with os.fdopen(_open_nofollow(path, os.O_RDWR | os.O_CREAT), "r+") as f:  # a dangling link creates nothing
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def sweep_temp_files(folder: Path) -> list[str]:
    """Remove temporary files whose writer is gone (a kill or a full disk mid-write); returns their names."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_NAME.match(entry.name)
        if not match or process_alive(int(match.group(1)), None) and int(match.group(1)) != os.getpid():
            continue
        try:
            os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            pass
    return removed
