"""Typed messages and requests passed between the console's screens and the app."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LaunchRequest:
    """What the new-run form asks for: these presets launched together, each with the fields the user changed.

    `form` is every field's text as the user left it ("preset" and "together" included): the form reopens so."""

    presets: list[str]
    overrides: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
