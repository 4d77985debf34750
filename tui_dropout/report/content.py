"""What a report says, as plain data: each group's learning curves with their spread over seeds, the sweep, the
differences between groups, the reliability tables pooled over each group's seeds, the seed's table where the
study is the seed's, and the configs that differ. No plotting, no torch."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .. import evaluation, stats
from ..groups import SeedGroup, seed_groups, spread
from ..store import RunDir, RunInfo
from ..store.inside import Inside, read_inside
from ..sweep import Sweep, sweep

# The seed document's table (train / test accuracy after 1000 epochs, one run each), for studies of its presets.
SEED_TABLE = {"A": ("100%", "60.45%"), "B": ("99.84%", "61.47%"), "C": ("57.04%", "-"), "D": ("50.93%", "-")}
CURVES = ("test_acc", "train_acc", "loss")


@dataclass
class Curve:
    """One figure of a group over epochs: at each epoch every finished seed recorded, the mean and sample std."""
    epochs: list[int] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    n: int = 0


@dataclass
class Reliability:
    """A group's reliability table, the bins' counts summed over its evaluated seeds (accuracy and confidence
    weighted by count): dropout off and MC dropout."""
    bins: list[tuple[float, float]]
    off: list[dict[str, Any]]
    mc: list[dict[str, Any]]
    runs: int
    mc_passes: Any = None


@dataclass
class Content:
    infos: list[RunInfo]
    groups: list[SeedGroup]
    curves: dict[str, dict[str, Curve]]  # group name -> figure -> curve
    found: Sweep
    differences: list[stats.Difference]
    reliability: dict[str, Reliability]
    seed_rows: list[tuple[str, str, str, str, str]]  # preset, seed train, seed test, ours train, ours test
    configs: dict[str, list[Any]]  # differing field -> value per group
    inside: dict[str, tuple[str, Inside]] = field(default_factory=dict)  # group name -> (run id, its inside.json)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def group_curves(group: SeedGroup) -> dict[str, Curve]:
    """Mean and spread at the epochs every finished run recorded (accuracy only at evaluated epochs)."""
    runs = group.finished or group.runs
    per_run: list[dict[str, dict[int, float]]] = []
    for info in runs:
        values: dict[str, dict[int, float]] = {name: {} for name in CURVES}
        for row in RunDir(info.path).iter_metrics():
            epoch = row.get("epoch")
            if isinstance(epoch, int):
                for name in CURVES:
                    if _finite(row.get(name)):
                        values[name][epoch] = float(row[name])
        per_run.append(values)
    out: dict[str, Curve] = {}
    for name in CURVES:
        common = set.intersection(*(set(v[name]) for v in per_run)) if per_run else set()
        curve = Curve(n=len(per_run))
        for epoch in sorted(common):
            s = spread([v[name][epoch] for v in per_run])
            curve.epochs.append(epoch)
            curve.mean.append(s.mean)
            curve.std.append(s.std or 0.0)
        out[name] = curve
    return out


def _pool(tables: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for rows in zip(*tables):
        count = sum(r.get("count") or 0 for r in rows)
        row: dict[str, Any] = {"bin": rows[0]["bin"], "count": count, "accuracy": None, "confidence": None}
        if count:
            for key in ("accuracy", "confidence"):
                row[key] = sum((r.get(key) or 0.0) * (r.get("count") or 0) for r in rows) / count
        out.append(row)
    return out


def group_reliability(group: SeedGroup) -> Reliability | None:
    found = []
    for info in group.runs:
        data = evaluation.read(info.path)
        if evaluation.columns(data)["det_acc"] is None:
            continue
        off = (data.get("deterministic") or {}).get("reliability") or []
        mc = (data.get("mc") or {}).get("reliability") or []
        if off and len(off) == len(mc):
            found.append((data, off, mc))
    if not found or len({len(off) for _, off, _ in found}) != 1:
        return None
    off_tables, mc_tables = [f[1] for f in found], [f[2] for f in found]
    return Reliability([tuple(r["bin"]) for r in off_tables[0]], _pool(off_tables), _pool(mc_tables), len(found),
                       found[0][0].get("mc_passes"))


def seed_rows(groups: list[SeedGroup]) -> list[tuple[str, str, str, str, str]]:
    """Beside the seed's table, where the study is the seed's (its presets on CIFAR-10)."""
    rows = []
    for g in groups:
        cfg = g.runs[0].config
        preset = cfg.get("preset")
        if preset not in SEED_TABLE or cfg.get("dataset") != "cifar10":
            continue
        train, test = g.figure("final_train_acc", True), g.figure("final_test_acc", True)
        rows.append((preset, *SEED_TABLE[preset], train.text() + "%" if train.mean is not None else "-",
                     test.text() + "%" if test.mean is not None else "-"))
    return rows if len(rows) == len(groups) else []


def differing(groups: list[SeedGroup]) -> dict[str, list[Any]]:
    from ..export import config_differences
    from ..groups import NOT_EXPERIMENT

    found = config_differences([g.runs[0] for g in groups])
    return {k: v for k, v in found.items() if k not in NOT_EXPERIMENT}


def group_inside(group: SeedGroup) -> tuple[str, Inside] | None:
    """The group's first finished run (else any run) that recorded what dropout did inside: one seed shows it;
    histograms of different runs have different bins and are not pooled."""
    for info in (group.finished or []) + [i for i in group.runs if i not in (group.finished or [])]:
        data = read_inside(info.path)
        if data:
            return info.run_id, data
    return None


def gather(runs: list[RunDir]) -> Content:
    infos = [run.info() for run in runs]
    groups = [g for g in seed_groups(infos) if g.runs and g.runs[0].config]
    finished = [g for g in groups if g.finished]
    return Content(infos, groups, {g.name: group_curves(g) for g in groups}, sweep(infos),
                   stats.differences(finished) if len(finished) > 1 else [],
                   {g.name: r for g in groups if (r := group_reliability(g)) is not None},
                   seed_rows(groups), differing(groups),
                   {g.name: found for g in groups if (found := group_inside(g)) is not None})
