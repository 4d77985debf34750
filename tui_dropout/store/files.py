"""JSON files written atomically and read defensively, the flock that orders writers, and temp-file sweeping."""
from __future__ import annotations

import fcntl
import json
import math
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .liveness import process_alive

# Every temporary file a writer leaves while it works: .<name>.<pid>[.<thread>].tmp
TEMP_NAME = re.compile(r"^\..+\.(\d+)(\.\d+)?\.tmp$")


class DamagedFile(ValueError):
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


def write_text_atomic(path: Path, text: str) -> None:
    """Write beside, then rename over: a reader sees the old file or the new one, never half of one."""
    tmp = temp_path(path)
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not also leave litter behind
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, Any] | None:
    """None when absent; DamagedFile (naming the file) when present but not a readable JSON object."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise DamagedFile(f"{path.name} is not UTF-8 text") from None
    except OSError as exc:
        raise DamagedFile(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)  # also reads the bare NaN that older versions wrote
    except ValueError as exc:
        raise DamagedFile(f"{path.name} is not valid JSON ({exc})") from None
    except RecursionError:
        raise DamagedFile(f"{path.name} is nested too deeply to read") from None
    if not isinstance(data, dict):
        raise DamagedFile(f"{path.name} is not a JSON object")
    return data


@contextmanager
def file_lock(path: Path):
    """An flock across processes: launchers, the trainer and cancel all update status.json."""
    with open(path, "a") as f:
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
