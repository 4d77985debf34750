"""The command palette's entries for the main view (ctrl+p): every row of its key table, by name, with its key."""
from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .actions import ACTIONS, Action


def entry(action: Action) -> tuple[str, str]:
    """(name, help): "Cancel" and "cancel the selected run ... (key c)"."""
    return action.word, f"{action.help} (key {action.shown_key})"


class MainActions(Provider):
    """Offers the main view's keys by name; choosing one runs the key's action on the screen the palette was
    opened from, as pressing the key would."""

    def _run(self, action: Action):
        return partial(self.screen.run_action, action.action)

    async def discover(self) -> Hits:
        for action in ACTIONS:
            name, help_text = entry(action)
            yield DiscoveryHit(name, self._run(action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for action in ACTIONS:
            name, help_text = entry(action)
            score = max(matcher.match(name), matcher.match(f"{name} {action.help}") * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._run(action), text=name, help=help_text)
