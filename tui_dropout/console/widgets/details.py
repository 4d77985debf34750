"""The selected run's config, state and the tail of its log."""
from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ...export import pct
from ...store import RunDir, RunInfo

SHOWN = ("dataset", "placement", "conv_kind", "p_conv", "fc_kind", "p_fc", "epochs", "batch_size", "lr",
         "momentum", "lr_step", "lr_gamma", "eval_every", "device", "seed")


class RunDetails(Widget):
    """Renders its own text and repaints without a layout pass (its size is fixed by the stylesheet)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.text = Text("")

    def render(self) -> Text:
        return self.text

    def set_text(self, text: Text) -> None:
        if text.plain != self.text.plain:
            self.text = text
            self.refresh()

    def show(self, run: RunDir | None, info: RunInfo | None, log_lines: int = 6) -> None:
        if run is None or info is None:
            self.set_text(Text("no run selected: press n to start one"))
            return
        text = Text()
        text.append(f"{run.run_id}  ", style="bold")
        text.append(f"{info.state}", style="bold red" if info.state in ("failed", "lost") else "bold")
        text.append(f"  epoch {info.epoch}/{info.epochs}  best train {pct(info.best_train_acc)}"
                    f"  test {pct(info.best_test_acc)}\n")
        if info.error or info.problem:
            text.append(f"error: {info.error or info.problem}\n", style="red")
        if info.config:
            text.append(" ".join(f"{k}={info.config.get(k)}" for k in SHOWN if k in info.config) + "\n",
                        style="dim")
        for line in run.log_tail(log_lines):
            text.append(line[:200] + "\n")
        self.set_text(text)
