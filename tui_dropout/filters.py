"""A network's first-layer filters as pixels (the paper's figure 7): each filter scaled to 0-255 on its own and laid
out in a mosaic, for the console's half-block view and the report. No UI, no torch."""
from __future__ import annotations

import math
from typing import Optional, Sequence

Pixel = tuple[int, int, int]
Image = list[list[Optional[Pixel]]]  # rows of pixels; None is the gap between filters


def filter_images(shape: Sequence[int], values: Sequence[Sequence[float]]) -> list[Image]:
    """Each of k filters of `shape` (k, c, h, w), `values` a row of c*h*w weights each, as an h x w image: three
    channels as colour, any other count as the grey of their mean. A filter is stretched over 0-255 by its own minimum and
    maximum (a flat one is mid grey), so a weak filter's pattern shows as well as a strong one's."""
    k, c, h, w = (int(n) for n in shape)
    images = []
    for flat in values[:k]:
        if len(flat) != c * h * w:
            raise ValueError(f"filters: a filter has {len(flat)} values where its shape says {c * h * w}")
        finite = [v for v in flat if math.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
        span = high - low

        def level(v: float) -> int:
            if not math.isfinite(v) or span == 0:
                return 128
            return max(0, min(255, round((v - low) / span * 255)))

        image: Image = []
        for y in range(h):
            row: list[Optional[Pixel]] = []
            for x in range(w):
                at = [flat[ch * h * w + y * w + x] for ch in range(c)]
                if c == 3:
                    row.append((level(at[0]), level(at[1]), level(at[2])))
                else:
                    g = level(sum(at) / c)
                    row.append((g, g, g))
            image.append(row)
        images.append(image)
    return images


def scale_for(width: int, height: int, columns: int, lines: int, count: int, gap: int = 1) -> int:
    """The largest whole zoom (1-4) at which `count` filters of width x height pixels, wrapped to `columns`
    terminal columns, fit `lines` lines of two pixel rows each, so small filters (LeNet's 5x5) are not a few
    dots; 1 when even that does not fit (the mosaic is then cut at the bottom)."""
    for zoom in (4, 3, 2):
        per_row = (columns + gap) // (width * zoom + gap)
        if per_row and -(-count // per_row) * (height * zoom + gap) - gap <= lines * 2:
            return zoom
    return 1


def zoomed(image: Image, zoom: int) -> Image:
    return [[p for p in row for _ in range(zoom)] for row in image for _ in range(zoom)]


def mosaic(images: list[Image], columns: int, gap: int = 1) -> tuple[Image, int]:
    """The images side by side in rows that fit `columns` pixels, `gap` empty pixels between them; returns the
    mosaic and how many images it holds (as many whole rows as there are images)."""
    if not images:
        return [], 0
    h, w = len(images[0]), len(images[0][0])
    per_row = max(1, (columns + gap) // (w + gap))
    out: Image = []
    for start in range(0, len(images), per_row):
        band = images[start:start + per_row]
        if out:
            out.extend([[None] * len(out[0]) for _ in range(gap)])
        for y in range(h):
            row: list[Optional[Pixel]] = []
            for i, img in enumerate(band):
                if i:
                    row.extend([None] * gap)
                row.extend(img[y])
            full = min(len(images), per_row) * (w + gap) - gap
            row.extend([None] * (full - len(row)))
            out.append(row)
    return out, len(images)
