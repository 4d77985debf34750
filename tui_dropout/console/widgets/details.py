"""The selected run: state, final and best accuracy, config, and the newest lines of its log that fit."""
from __future__ import annotations

import re

from rich.text import Text
from textual.widget import Widget

from ... import evaluation
from ...export import number_text, seconds_text
from ...safetext import safe
from ...store import RunDir, RunInfo
from ..labels import acc, acc_at, state_text

SHOWN = ("dataset", "network", "train_limit", "placement", "conv_kind", "p_conv", "fc_kind", "p_fc", "max_norm",
         "epochs", "batch_size", "lr", "momentum", "lr_step", "lr_gamma", "eval_every", "device", "seed")
LOG_LINES = 50  # read at most this many; the pane shows the newest that fit
LOG_STAMP = re.compile(r"^\[\d{4}-\d\d-\d\d (\d\d:\d\d:\d\d)\] ")  # the day is in the run id: keep the time


class RunDetails(Widget):
    """`text` holds everything known; render() fits it to the pane: the head lines, then the newest log lines."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.head: list[Text] = [Text("no run: press n to start one")]
        self.config: Text = Text("")
        self.log_lines: list[str] = []
        self.text = Text("")

    def show(self, run: RunDir | None, info: RunInfo | None, empty: str | None = None) -> None:
        if run is None or info is None:
            self._set([Text(empty or "no run: press n to start one")], Text(""), [])
            return
        head = Text(run.run_id, style="bold")
        progress = Text.assemble(state_text(info), f"  epoch {info.epoch}/{info.epochs}  {seconds_text(info.elapsed)}")
        train = Text(f"train {_pct(info.final_train_acc)}" + _best(info.best_train_acc, info.best_train_epoch))
        test = Text(f"test  {_pct(info.final_test_acc)}" + _best(info.best_test_acc, info.best_test_epoch))
        loss = Text(f"loss  {number_text(info.final_loss, '.4f')}")
        evaluated = [Text(safe(line), style="magenta") for line in evaluation.describe(evaluation.read(run.path))]
        lines = [head, progress, train, test, *evaluated, loss]  # the calibration beside the accuracy
        # a name given to several runs at launch already ends in each run's label: the label is not said twice
        label = "" if info.name and info.study_label and info.name.endswith(info.study_label) else info.study_label
        named = [n for n in dict.fromkeys((info.name, label)) if n and n != info.preset]
        if named:  # the user's name for the run, and a study's readable label for it
            lines.insert(1, Text(safe(" · ".join(named)), style="italic"))
        if info.tags:
            lines.insert(2 if named else 1, Text(safe(" ".join("#" + t for t in info.tags)), style="cyan"))
        if info.note:
            lines += [Text(safe(line), style="italic dim") for line in info.note.splitlines()[:3]]
        if info.error or info.problem:
            lines.append(Text(safe(f"error: {info.error or info.problem}"), style="red"))
        # an optional field left unset (train_limit, max_norm) is left out rather than shown as None, and so are
        # the kind and rate of a dropout site the placement does not use (placement=none: no conv_kind=dropblock)
        unused = {k for k, uses in (("conv", ("conv", "all")), ("fc", ("fc", "all")))
                  if info.config.get("placement") not in uses for k in (f"{k}_kind", f"p_{k}")}
        config = Text(safe(" ".join(f"{k}={info.config[k]}" for k in SHOWN
                                    if info.config.get(k) is not None and k not in unused)), style="dim")
        log = [safe(LOG_STAMP.sub(r"\1 ", line)) for line in run.log_tail(LOG_LINES)]
        self._set(lines, config, log)

    def _set(self, head: list[Text], config: Text, log: list[str]) -> None:
        text = Text("\n").join([*head, config, *map(Text, log)])
        if text.plain != self.text.plain:
            self.head, self.config, self.log_lines, self.text = head, config, log, text
            self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        if width <= 0 or height <= 0:
            return self.text
        console = self.app.console
        rows = [_cut(line, width) for line in self.head][:height]
        # whole log lines, newest last, wrapped when three of them fit so, else one row each (cut short)
        logs = [list(Text(line).wrap(console, width)) for line in self.log_lines]
        wrapped_fit = _fitting(logs, height - len(rows))
        if len(wrapped_fit) < min(3, len(logs)):
            logs = [[_cut(Text(line), width)] for line in self.log_lines]
        # the config goes in when it leaves room for two log lines
        config_rows = list(self.config.wrap(console, width)) if self.config.plain else []
        if len(config_rows) + len(rows) + sum(map(len, logs[-2:])) <= height:
            rows += config_rows
        return Text("\n").join(rows + _fitting(logs, height - len(rows)))


def _pct(value: float | None) -> str:
    return "-" if acc(value) == "-" else acc(value) + "%"


def _best(value: float | None, epoch: int | None) -> str:
    return "" if acc(value) == "-" else f" (best {acc_at(value, epoch)})"


def _fitting(lines: list[list[Text]], room: int) -> list[Text]:
    """The rows of the newest whole lines that fit in `room` rows, oldest first."""
    shown: list[Text] = []
    for rows in reversed(lines):
        if len(shown) + len(rows) > room:
            break
        shown[:0] = rows
    return shown


def _cut(text: Text, width: int) -> Text:
    if text.cell_len <= width:
        return text
    out = text.copy()
    out.truncate(width - 1)
    out.append("…")
    return out
