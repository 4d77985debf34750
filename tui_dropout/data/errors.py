"""The one error every dataset reader raises (no numpy: the CLI's quick commands import this)."""
from ..errors import FieldError


class DataError(FieldError, RuntimeError):
    """Data that is missing, truncated or malformed; the message says what and what to do. `field` is the setting at
    fault (data_dir, timeout, network, dataset), or None when the data itself is."""
