"""The project's one error base class, and the field-and-reason error most of its errors are built on."""
from __future__ import annotations


class DropoutTuiError(Exception):
    """Every error tui_dropout raises on purpose derives from this: `except DropoutTuiError` catches what the project
    means to report and lets a bug's own exception through. The message is one line, fit to print.

    Each project error also keeps the builtin it derived from before (ConfigError and DamagedFile a ValueError,
    DataError and RunBusy a RuntimeError, RunNotFound a KeyError), so code that still catches those is not broken."""


class FieldError(DropoutTuiError):
    """An error about one named thing (a config field, data_dir, a run, a tag): `field` and `reason` are kept apart,
    so no caller parses the message; the message is "field: reason", or the reason alone when field is None.

    `FieldError("reason text")` (one argument) is a reason with no field."""

    def __init__(self, field: str | None, reason: str | None = None):
        if reason is None:
            field, reason = None, field or ""
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason

    def __reduce__(self):  # pickled (a Slurm job's result, a worker's) and rebuilt without calling __init__ again
        return _rebuild, (type(self), str(self)), self.__dict__


def _rebuild(cls: type[FieldError], message: str) -> FieldError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error


class RunRefused(FieldError, ValueError):
    """A run that cannot be cancelled or resumed in the state it is in (already ended, damaged); field is "run"."""
