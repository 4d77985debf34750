"""The one error every dataset reader raises (no numpy: the CLI's quick commands import this)."""


class DataError(RuntimeError):
    """Data that is missing, truncated or malformed; the message says what and what to do."""
