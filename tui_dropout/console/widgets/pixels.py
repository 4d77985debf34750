"""Pixels in a terminal: two pixel rows to a character cell, the upper half block in the top pixel's colour over
the bottom pixel's colour as its background."""
from __future__ import annotations

from rich.color import Color
from rich.style import Style
from rich.text import Text

from ...filters import Image

UPPER = "\u2580"  # ▀


def half_blocks(image: Image) -> Text:
    """The image as rows of half blocks; a None pixel (a gap) takes the terminal's own background."""
    out = Text(no_wrap=True, overflow="crop")
    for y in range(0, len(image), 2):
        top = image[y]
        bottom = image[y + 1] if y + 1 < len(image) else [None] * len(top)
        for t, b in zip(top, bottom):
            if t is None and b is None:
                out.append(" ")
            elif t is None:
                out.append("\u2584", Style(color=Color.from_rgb(*b)))  # ▄: only the lower half is a pixel
            else:
                out.append(UPPER, Style(color=Color.from_rgb(*t), bgcolor=None if b is None else Color.from_rgb(*b)))
        if y + 2 < len(image):
            out.append("\n")
    return out
