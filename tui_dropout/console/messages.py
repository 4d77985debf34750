"""Typed messages and requests passed between the console's screens and the app."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LaunchRequest:
    """What the new-run form asks for: these presets launched together, each with the fields the user changed
    (a list or range in a number field is a grid), on the backend in `launch` (seeds, backend, gpus, per_gpu,
    max_fused, as typed).

    `form` is every field's text as the user left it ("preset" and "together" included): the form reopens so.
    `count` and `what` say how many runs the form promised, and how."""

    presets: list[str]
    overrides: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    launch: dict[str, str] = field(default_factory=dict)
    count: int = 1
    what: str = ""
    notes: dict | None = None  # {"name", "tags", "note"}, checked: written into each run's notes.json
