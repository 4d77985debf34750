"""Typed messages and requests passed between the console's screens and the app."""
from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

CHANGES = ("", "progress", "structure")  # what a refresh saw, least to most


class RunsRefreshed(Message, bubble=False):
    """The watcher worker looked at the runs folder: `change` is "structure" (runs came, went or changed state),
    "progress" or "" (nothing; the view still redraws a live run on time). A newer one waiting replaces an older one
    that says no more: the view catches up with the newest state, not with every step."""

    def __init__(self, change: str) -> None:
        super().__init__()
        self.change = change

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunsRefreshed) and CHANGES.index(message.change) >= CHANGES.index(self.change)


class WatchFailed(Message, bubble=False):
    """The watcher worker met an error of its own (a run folder's faults are told per run): told once each."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ListChanged(Message, bubble=False):
    """What the main view shows changed (marks, filter, order, axis, the charts picked): it lists and draws again,
    once however many changes are waiting. `listing` False: the charts alone. `select` moves the cursor to that run
    once it is listed (a run just launched)."""

    def __init__(self, select: str | None = None, listing: bool = True) -> None:
        super().__init__()
        self.select = select
        self.listing = listing

    def can_replace(self, message: Message) -> bool:
        return (isinstance(message, ListChanged) and message.listing >= self.listing
                and (message.select is not None or self.select is None))


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
