"""A study's sweep: which config fields its groups differ in, and each group's figures (test accuracy, the
train-test gap, ECE where evaluated) as mean, sample std and n over its finished seeds. No torch, no UI."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import evaluation
from .groups import NOT_EXPERIMENT, SeedGroup, Spread, seed_groups, spread
from .store import RunInfo

# What a sweep can show on its y axis: (name, heading, how one run gives it). Accuracies and ECE are fractions.
SWEEP_FIGURES = {
    "final_test_acc": "final test %",
    "best_test_acc": "best test %",
    "gap": "train-test gap",
    "mc_ece": "ECE MC %",
    "det_ece": "ECE off %",
}
NOT_AXES = NOT_EXPERIMENT | {"data_dir", "device", "name", "tags", "note"}


def run_figure(info: RunInfo, name: str, evaluations: dict[str, dict | None]) -> float | None:
    if name == "gap":
        if info.final_train_acc is None or info.final_test_acc is None:
            return None
        return info.final_train_acc - info.final_test_acc
    if name in ("mc_ece", "det_ece"):
        return evaluation.columns(evaluations.get(info.run_id))[name]
    return getattr(info, name, None)


@dataclass
class Point:
    """One group of the sweep: its values of the swept fields and its figures over finished seeds."""
    group: SeedGroup
    values: dict[str, Any]
    figures: dict[str, Spread] = field(default_factory=dict)

    @property
    def n_text(self) -> str:
        return f"{len(self.group.finished)}/{self.group.n}"


@dataclass
class Sweep:
    axes: list[str]
    points: list[Point]

    def cells(self, figure: str) -> tuple[list[Any], list[Any], dict[tuple, Spread]]:
        """Two swept fields as a table: the first's values as rows, the second's as columns."""
        rows = list(dict.fromkeys(_key(p.values[self.axes[0]]) for p in self.points))
        cols = list(dict.fromkeys(_key(p.values[self.axes[1]]) for p in self.points))
        found = {(_key(p.values[self.axes[0]]), _key(p.values[self.axes[1]])): p.figures[figure]
                 for p in self.points}
        return rows, cols, found

    def as_dict(self) -> dict[str, Any]:
        return {"axes": self.axes, "points": [
            {"group": p.group.name, "values": p.values, "finished": len(p.group.finished), "runs": p.group.n,
             "figures": {name: {"mean": s.mean, "std": s.std, "n": s.n} for name, s in p.figures.items()}}
            for p in self.points]}


def _key(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def swept_fields(groups: list[SeedGroup]) -> list[str]:
    """Config fields whose value differs between groups. A study over presets sweeps `preset`; fields that
    follow from the preset (each preset one value) are not axes of their own."""
    configs = [g.runs[0].config for g in groups if g.runs and g.runs[0].config]
    keys = list(dict.fromkeys(k for c in configs for k in c if k not in NOT_AXES))
    varied = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True, default=str) for c in configs}) > 1]
    if "preset" not in varied:
        return varied

    def follows_preset(key: str) -> bool:
        seen: dict[str, str] = {}
        for c in configs:
            value = json.dumps(c.get(key), sort_keys=True, default=str)
            if seen.setdefault(str(c.get("preset")), value) != value:
                return False
        return True

    return ["preset"] + [k for k in varied if k != "preset" and not follows_preset(k)]


def sweep(infos: list[RunInfo]) -> Sweep:
    groups = [g for g in seed_groups(infos) if g.runs and g.runs[0].config]
    axes = swept_fields(groups)
    evaluations = {info.run_id: evaluation.read(info.path) for info in infos}
    points = []
    for g in groups:
        point = Point(g, {axis: g.runs[0].config.get(axis) for axis in axes})
        for name in SWEEP_FIGURES:
            point.figures[name] = spread([run_figure(info, name, evaluations) for info in g.finished])
        points.append(point)
    if len(axes) == 1 and all(isinstance(p.values[axes[0]], (int, float)) for p in points):
        points.sort(key=lambda p: p.values[axes[0]])
    return Sweep(axes, points)
