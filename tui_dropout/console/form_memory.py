"""The new-run form's last launch, kept across console sessions in the user's config folder
($XDG_CONFIG_HOME/dropout-tui/form.json, else ~/.config/dropout-tui/form.json). No Textual."""
from __future__ import annotations

import os
from pathlib import Path

from ..config import EDITABLE_FIELDS
from ..errors import DropoutTuiError
from ..store.files import read_json, write_json_atomic
from .study import LAUNCH_DEFAULTS

# What the form keeps: its own rows and every field it shows; anything else in the file is not the form's.
FORM_KEYS = frozenset({"preset", "together", "name", "tags", "note", *LAUNCH_DEFAULTS, *EDITABLE_FIELDS})
MAX_TEXT = 10_000  # a note's limit; no field of the form is longer


def form_file() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "dropout-tui" / "form.json"


def load() -> dict[str, str]:
    """The form as last launched: the fields it knows, as text. A missing, damaged or hand-edited file gives what
    it holds that is the form's (nothing, at worst), and the next launch writes it anew."""
    try:
        data = read_json(form_file()) or {}
    except (OSError, DropoutTuiError):
        return {}
    return {key: value for key, value in data.items()
            if key in FORM_KEYS and isinstance(value, str) and len(value) <= MAX_TEXT}


def save(form: dict[str, str]) -> None:
    """Keep the form's fields for the next console (OSError when the config folder cannot be written)."""
    path = form_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {key: value for key, value in form.items() if key in FORM_KEYS})
