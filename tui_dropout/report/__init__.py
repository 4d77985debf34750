"""`dropout-tui report`: a study's conclusions as a page to share (report.html, report.md and figures/)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..store import RunDir


def build(runs: list[RunDir], dest: Path, title: str, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Gather, draw and write; returns the files written. RuntimeError when matplotlib is missing."""
    from .content import gather
    from .environment import environment
    from .figures import all_figures
    from .write import write

    say = progress or (lambda _: None)
    say(f"reading {len(runs)} runs")
    content = gather(runs)
    say("drawing the figures")
    figures = all_figures(content)
    say("checking the environment and the datasets")
    env = environment(content.infos, say)
    return write(dest, title, content, figures, env)
