"""How the console's charts tell their lines apart: a colour and a marker per series, fainter dotted lines for a
group's spread and a run's second line, and the legend drawn as a header line above the plot, never over it."""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from ..labels import fit_label

RGB = tuple[int, int, int]
# Okabe and Ito's colours, told apart with every common colour vision deficiency, then grey
PALETTE: tuple[RGB, ...] = ((86, 180, 233), (230, 159, 0), (0, 158, 115), (204, 121, 167), (240, 228, 66),
                            (213, 94, 0), (0, 114, 178), (170, 170, 170))
# a marker per series as well, so series read apart without colour: thin braille, half blocks, then characters.
# The cycle is not a divisor of the palette's: colour and marker repeat together only after 24 series.
MARKERS = ("braille", "hd", "•", "+", "x", "o")
SAMPLES = {"braille": "⠒⠒", "hd": "▄▄", "dotted": "··"}  # what a legend shows for a line of each marker
DOTTED = "·"  # the marker of a fainter line: a group's mean±std, a lone run's train accuracy
GREY: RGB = (150, 150, 150)
SPREAD_MIX = 0.55  # how far a spread line's colour goes towards the background


def rich_color(color: RGB) -> str:
    return "rgb({},{},{})".format(*color)


def faint(color: RGB, background: RGB) -> RGB:
    """The colour moved SPREAD_MIX of the way to the background: fainter on dark and light themes alike."""
    return tuple(round(c + (b - c) * SPREAD_MIX) for c, b in zip(color, background))  # type: ignore[return-value]


@dataclass(frozen=True)
class Entry:
    """One legend entry: the line's sample in its colour, what it is, and a shorter word for it (`mean` for
    `mean of 3`) for a narrow pane; `tail` ends the label and survives every cut (the layer of a per-layer line,
    `…lr.01 h1`: several runs' layers differ only there)."""

    marker: str
    color: RGB
    label: str
    short: str = ""
    tail: str = ""

    def sample(self, cells: int = 2) -> str:
        return SAMPLES.get(self.marker, self.marker * 2 if len(self.marker) == 1 else "──")[:cells]


def _legend(entries: list[Entry], labels: list[str], cells: int) -> Text:
    out = Text()
    for i, (entry, label) in enumerate(zip(entries, labels)):
        if i:
            out.append("  ")
        out.append(entry.sample(cells), rich_color(entry.color))
        out.append(" " + label)
    return out


def _variants(entries: list[Entry]):
    """The legend from its fullest to its shortest: (labels, sample cells)."""
    full = [e.label for e in entries]
    short = [e.short or e.label for e in entries]
    yield full, 2
    if short != full:
        yield short, 2
    # the words every series' label shares (the preset, `n=3`, a seed) tell nothing apart: what differs
    named = [i for i, e in enumerate(entries) if e.marker != "dotted"]
    common = set.intersection(*(set(short[i].split()) for i in named)) if len(named) > 1 else set()
    apart = [" ".join(w for w in label.split() if w not in common) or label if i in named else label
             for i, label in enumerate(short)]
    if apart != short:
        yield apart, 2
    # then the grid's values without their fields' names (`0.3 s2`), as the runs list cuts a label
    values = [" ".join(w.split("=", 1)[1] if "=" in w and not w.startswith(("seed=", "n=")) else w.replace("seed=", "s")
                       for w in label.split()) if i in named else label for i, label in enumerate(apart)]
    if values != apart:
        yield values, 2
    for cap in (16, 10, 6):
        yield [_fit(label, cap, e.tail) for e, label in zip(entries, values)], 2
    for cap in (6, 4):  # samples of one cell
        yield [_fit(label, cap, e.tail) for e, label in zip(entries, values)], 1


def _fit(label: str, cap: int, tail: str) -> str:
    """`fit_label`, keeping the entry's tail whole: the run's part is cut (to one cell and `…` at the least)."""
    if not tail or not label.endswith(" " + tail) or len(label) <= cap:
        return fit_label(label, cap)
    head = label[:-len(tail) - 1]
    return fit_label(head, max(2, cap - len(tail) - 1)) + " " + tail


def header_lines(title: str, entries: list[Entry], width: int, most: int) -> list[Text]:
    """The chart's title and its legend in at most `most` lines of `width` cells: on the title's line when they
    fit, else the legend on lines of its own, its labels shorter as need be; the title is cut only when nothing
    else makes room. Lines are centred, as plotext centres a title."""
    width = max(1, width)
    if not entries:
        return [_centred(Text(_cut(title, width)), width)]
    for labels, cells in _variants(entries):
        legend = _legend(entries, labels, cells)
        if len(title) + 2 + legend.cell_len <= width:  # one line: the title, then the legend
            return [_centred(Text(title + "  ") + legend, width)]
        if most > 1:
            rows = _flow(entries, labels, cells, width)
            if len(rows) <= most - 1:  # the title on a line of its own (cut to it), the legend below
                return [_centred(Text(_cut(title, width)), width)] + [
                    _centred(_legend([entries[i] for i in row], [labels[i] for i in row], cells), width)
                    for row in rows]
            rows = _flow(entries, labels, cells, width, first=len(title) + 2)
            if len(rows) <= most and len(title) + 2 < width:  # the legend starts on the title's line
                out = [_legend([entries[i] for i in row], [labels[i] for i in row], cells) for row in rows]
                out[0] = Text(title + ("  " if rows[0] else "")) + out[0]
                return [_centred(line, width) for line in out]
    # nothing fits whole: the shortest legend, cut short (`…`) when even that is too long
    labels, cells = list(_variants(entries))[-1]
    legend = _legend(entries, labels, cells)
    if most > 1:
        legend.truncate(width, overflow="ellipsis")
        return [_centred(Text(_cut(title, width)), width), legend]
    room = max(width - 2 - legend.cell_len, min(len(title), 10, width // 2))  # the title keeps a word or two
    legend.truncate(max(0, width - 2 - room), overflow="ellipsis")
    return [Text(_cut(title, room) + "  ") + legend]


def _flow(entries: list[Entry], labels: list[str], cells: int, width: int, first: int = 0) -> list[list[int]]:
    """Entries laid out in lines of `width` cells, two cells between entries on a line; `first` cells of the
    first line are taken already (by the title and its gap)."""
    lines: list[list[int]] = [[]]
    used = first
    for i, label in enumerate(labels):
        need = len(entries[i].sample(cells)) + 1 + len(label)
        gap = 2 if lines[-1] else 0
        if used + gap + need > width and (lines[-1] or used):
            lines.append([])
            used, gap = 0, 0
        used += need + gap
        lines[-1].append(i)
    return lines


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def _centred(text: Text, width: int) -> Text:
    pad = max(0, (width - text.cell_len) // 2)
    return Text(" " * pad) + text if pad else text
