"""PROVISIONAL reader of inside.json (replaced by the store's checked reader)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .files import DamagedFile, read_json


def read_inside(run_path: Path | str) -> dict[str, Any] | None:
    try:
        data = read_json(Path(run_path) / "inside.json")
    except (DamagedFile, OSError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("layers"), list) else None
