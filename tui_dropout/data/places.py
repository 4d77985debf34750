"""Where data and caches live by default (a leaf: the readers and locate.py both use it)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    if os.environ.get("TUI_DROPOUT_CACHE"):
        return Path(os.environ["TUI_DROPOUT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tui_dropout"
