"""Runs that differ only in their seed form a group: its mean and spread (std over seeds, n) of each figure,
for the study table, compare view and charts. No torch, no UI."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .states import State
from .store import RunInfo

# Config keys that do not make two runs different experiments.
NOT_EXPERIMENT = {"seed", "label", "study", "description", "extra"}
FIGURES = ("final_train_acc", "final_test_acc", "best_train_acc", "best_test_acc", "final_loss")
SEED_WORD = re.compile(r"\s*\bseed=\d+\b")


def run_label(info: RunInfo) -> str:
    """The run's readable name: its label (`D p_fc=0.3 seed=2`), else its preset."""
    return info.label


def experiment_key(config: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in config.items() if k not in NOT_EXPERIMENT}, sort_keys=True, default=str)


@dataclass
class Spread:
    mean: float | None
    std: float | None
    n: int

    def text(self, scale: float = 100.0, digits: int = 1) -> str:
        if self.mean is None:
            return "-"
        if self.n < 2 or self.std is None:
            return f"{self.mean * scale:.{digits}f}"
        return f"{self.mean * scale:.{digits}f}±{self.std * scale:.{digits}f}"


def spread(values: list[float | None]) -> Spread:
    """Mean and sample standard deviation (n-1) of the finite values."""
    xs = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not xs:
        return Spread(None, None, 0)
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return Spread(mean, std, len(xs))


@dataclass
class SeedGroup:
    name: str
    runs: list[RunInfo] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def finished(self) -> list[RunInfo]:
        """The runs that trained to their end: the only ones a study's figures may average."""
        return [info for info in self.runs if info.state == State.FINISHED]

    @property
    def unfinished(self) -> list[RunInfo]:
        return [info for info in self.runs if info.state != State.FINISHED]

    def figure(self, name: str, finished_only: bool = False) -> Spread:
        """Mean and sample std of a figure over the group's runs (only the finished ones when asked: a run
        cancelled at epoch 5 of 40 is no sample of the experiment)."""
        return spread([getattr(info, name) for info in (self.finished if finished_only else self.runs)])

    @property
    def seeds(self) -> list[Any]:
        return [info.config.get("seed") for info in self.runs]


def seed_groups(infos: list[RunInfo]) -> list[SeedGroup]:
    """Groups in first-seen order; a damaged run (no config) stands alone."""
    groups: dict[str, SeedGroup] = {}
    for info in infos:
        key = experiment_key(info.config) if info.config else f"alone:{info.run_id}"
        group = groups.get(key)
        if group is None:
            group = groups[key] = SeedGroup(SEED_WORD.sub("", info.study_label).strip() or info.run_id)
        group.runs.append(info)
    out = list(groups.values())
    _tell_apart(out)
    return out


def _tell_apart(groups: list[SeedGroup]) -> None:
    """Groups that would share a name (two lone runs of one preset, `mnist-mlp` with and without dropout) take the
    name the user gave their runs (`l`, `--name`), else the config fields they differ in (`mnist-mlp
    placement=none`), then a run id's tail: tables, figures and reports key their groups by name, and two groups
    of one name would read as one."""
    by_name: dict[str, list[SeedGroup]] = {}
    for group in groups:
        by_name.setdefault(group.name, []).append(group)
    for name, same in by_name.items():
        if len(same) < 2:
            continue
        given = [{info.name or "" for info in g.runs} for g in same]
        names = [next(iter(n)) if len(n) == 1 else "" for n in given]  # one name the user gave all its runs
        if all(names) and len(set(names)) == len(same):
            for group, given_name in zip(same, names):
                group.name = given_name
            continue
        configs = [g.runs[0].config or {} for g in same]
        keys = sorted(k for k in set().union(*configs) if k not in NOT_EXPERIMENT
                      and len({json.dumps(c.get(k), sort_keys=True, default=str) for c in configs}) > 1)
        for group, config in zip(same, configs):
            group.name = " ".join([name] + [f"{k}={_short(config.get(k))}" for k in keys[:3]])
    names = [g.name for g in groups]
    for group in groups:
        if names.count(group.name) > 1:
            group.name = f"{group.name} ·{group.runs[0].run_id[-4:]}"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 24 else text[:23] + "…"
