"""What a run folder may be called (a leaf: the store and its queue folder both check it)."""
from __future__ import annotations

import re

RUN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")  # a run folder's name: no separators, never . or ..
