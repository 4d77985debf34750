"""The states a run (and an evaluation) can be in: one enum, whose values are the words status.json holds."""
from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """A StrEnum, so a member is the very string written to and read from the run folder's JSON."""

    QUEUED = "queued"  # made, waiting for a slot, a Slurm job or its trainer to start
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"  # said queued or running, but its trainer is gone (read, never written by a trainer)
    CORRUPT = "corrupt"  # a damaged run folder (read, never written)


# Tuples, not sets: `x in ACTIVE` must stay False, not raise, for a list or dict a damaged status.json holds.
STATES = (State.QUEUED, State.RUNNING, State.FINISHED, State.FAILED, State.CANCELLED, State.LOST)  # as messages list them
ACTIVE = (State.QUEUED, State.RUNNING)  # a trainer holds the run or is yet to take it
ENDED = (State.FINISHED, State.FAILED, State.CANCELLED)  # its trainer is done with it, one way or another
