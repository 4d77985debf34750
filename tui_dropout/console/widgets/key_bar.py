"""The key bar at the bottom of a screen: its keys in the order the screen lists them, as many as fit.

One widget drawing one line, rather than Textual's Footer, which builds a widget per key and rebuilds them all on
every focus change (most of the console's idle CPU in tests). The order is the screen's BINDINGS order, so the keys
that matter most come first and are the ones a narrow terminal keeps; `?` lists them all."""
from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.widget import Widget


def entries(bindings: list[Binding], key_display) -> list[str]:
    """Markup per entry: "k Word", or "ab word" for a group of keys (one Binding.Group in a row)."""
    out: list[tuple[object, list[str], str]] = []  # (group, keys, description)
    for binding in bindings:
        if not binding.show:
            continue
        key = Content(binding.key_display or key_display(binding)).markup
        if binding.group is not None and out and out[-1][0] == binding.group:
            out[-1][1].append(key)
            continue
        out.append((binding.group, [key], binding.group.description if binding.group else binding.description))
    return [f"[b $footer-key-foreground]{''.join(keys)}[/] {description}" for _, keys, description in out]


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; background: $footer-background; color: $footer-description-foreground; }
    """

    def __init__(self, bindings: list[Binding], **kwargs):
        super().__init__(**kwargs)
        self.bindings = [b if isinstance(b, Binding) else Binding(*b) for b in bindings]
        self.shown: list[str] = []  # the entries that fitted last time, as plain text (tests, README)

    def render(self) -> Content:
        width = self.size.width
        parts: list[Content] = []
        used = 0
        self.shown = []
        for markup in entries(self.bindings, self.app.get_key_display):
            part = Content.from_markup(markup)
            if used + part.cell_length > width:
                break
            parts.append(part)
            self.shown.append(part.plain)
            used += part.cell_length + 1
        return Content(" ").join(parts)
