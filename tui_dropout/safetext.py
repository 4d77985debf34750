"""Text from a run folder made safe for a terminal: every control, escape and bidi character shown as a visible escape.

Run folders may be written by someone else. A label holding an OSC sequence would retitle or clear the reader's
terminal, a cursor move in train.log would overwrite the screen, a right-to-left override would show a name
reversed. Every printer (CLI and console) passes run-folder text through `safe` (or `safe_lines`, which keeps line
breaks and tabs); console widgets that read markup take `safe_markup`, or a `rich.text.Text` of `safe` text."""
from __future__ import annotations

import re

# Bidi embeddings, overrides and isolates, and the marks that steer them (LRM, RLM, ALM): a name holding one can
# be shown in an order other than it is stored. Line and paragraph separators: some terminals break lines at them.
BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
SEPARATORS = "\u2028\u2029"
# C0 controls (ESC among them, so no CSI or OSC sequence survives), DEL and the C1 controls (0x9b is a one-byte CSI
# on terminals that honour 8-bit controls).
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + BIDI + SEPARATORS + "]")
UNSAFE_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + BIDI + SEPARATORS + "]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object) -> str:
    """`text` (any value: str() is taken) with every control, escape and bidi character written as `\\x1b`,
    `\\u202e`...; printable text, whatever its script, is kept as it is. Applying it twice changes nothing more."""
    text = text if isinstance(text, str) else str(text)
    return UNSAFE.sub(_escape, text) if UNSAFE.search(text) else text


def safe_lines(text: object) -> str:
    """Like `safe`, but line breaks and tabs are kept: for a note, a log's lines, a whole output."""
    text = text if isinstance(text, str) else str(text)
    return UNSAFE_KEEP_LINES.sub(_escape, text) if UNSAFE_KEEP_LINES.search(text) else text


def is_safe(text: str, keep_lines: bool = False) -> bool:
    """True when `text` holds nothing `safe` (or `safe_lines`) would change."""
    return not (UNSAFE_KEEP_LINES if keep_lines else UNSAFE).search(text)


def escape_markup(text: str) -> str:
    """Rich/Textual markup in `text` shown as typed: `[red]x[/]` and `[/]` print literally."""
    from rich.markup import escape

    return escape(text)


def safe_markup(text: object, keep_lines: bool = False) -> str:
    """`safe` (or `safe_lines`) text with its markup escaped, for a widget that reads markup (Static, notify)."""
    return escape_markup(safe_lines(text) if keep_lines else safe(text))
