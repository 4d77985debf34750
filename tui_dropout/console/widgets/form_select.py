"""A compact Select for forms: space, up or down open its list; enter is left to the form (where it launches)."""
from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Select


class FormSelect(Select[str], inherit_bindings=False):
    BINDINGS = [Binding("space,down,up", "show_overlay", "Show menu", show=False)]

    def __init__(self, choices: tuple[str, ...] | list[str], value: str, **kwargs):
        self.choices = tuple(choices)
        self._shown = self._listed(value)
        super().__init__(self._shown, value=value, allow_blank=False, compact=True, **kwargs)

    def _listed(self, value: str) -> list[tuple[str, str]]:
        """The choices, plus `value` when it is none of them (a preset may name one; the form flags it)."""
        names = list(self.choices) + ([value] if value not in self.choices else [])
        return [(n, n) for n in names]

    def show(self, value: str) -> None:
        """Select `value`, adding it as an option when it is not one (setting an unknown value would raise)."""
        options = self._listed(value)
        if options != self._shown:
            self._shown = options
            self.set_options(options)
        self.value = value
