"""What a run folder may be called (a leaf: the store and its queue folder both check it)."""
from __future__ import annotations

import re

RUN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")  # a run folder's name: no separators, never . or ..
# Many names at once: joined by "/" (never in a name), each followed by one, matched in a single call.
RUN_NAMES = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.-]*/)*")


def all_run_names(names: list[str]) -> bool:
    """Whether every one of `names` (text) is a run folder's name, checked at C speed."""
    joined = "/".join(names) + "/" if names else ""
    return RUN_NAMES.fullmatch(joined) is not None and joined.count("/") == len(names)  # no name held a "/"
