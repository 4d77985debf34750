"""Run exports (CSV, JSONL, Markdown, a whole folder) and the seed-style results table. No torch."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from .store import CONFIG, LOG, SUMMARY, RunDir, RunInfo
from .store.files import dumps

COLUMNS = ("epoch", "loss", "lr", "seconds", "train_acc", "test_acc", "elapsed")
FORMATS = ("csv", "jsonl", "md", "dir")


def _cell(value: Any) -> Any:
    return "" if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def metrics_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in COLUMNS})
    return out.getvalue()


def metrics_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(dumps(r, sort_keys=True) + "\n" for r in rows)


def pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value * 100:.2f}%"


def acc_text(value: float | None, epoch: int | None = None) -> str:
    """An accuracy in percent without the sign (tables say % in the title), with its epoch when given."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value * 100:.1f}" + (f"@{epoch}" if epoch is not None else "")


def seconds_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f}min"


def number_text(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)  # a hand-edited file: shown as it is, never a crash
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return format(value, spec)


def value_text(value: Any) -> str:
    """A config value for prose: numbers short (0.3, not 0.30000000000000004), others as they are."""
    if isinstance(value, float):
        return format(value, ".6g")
    return "-" if value is None else str(value)


# How the Markdown table writes each column.
MD_FORMATS = {"epoch": lambda v: number_text(v, "d"), "loss": lambda v: number_text(v, ".4f"),
              "lr": lambda v: number_text(v, ".2e"), "seconds": lambda v: number_text(v, ".2f"),
              "train_acc": pct, "test_acc": pct, "elapsed": lambda v: number_text(v, ".1f")}


def metrics_markdown(run: RunDir) -> str:
    info = run.info()
    cfg = info.config
    about = ", ".join(f"{k} {value_text(cfg.get(k))}" for k in ("preset", "placement", "p_conv", "p_fc", "dataset",
                                                               "epochs"))
    study = info.config.get("study")
    lines = [f"# Run {run.run_id}: {info.label}", "",
             *([f"study {study}", ""] if isinstance(study, str) and study else []),
             f"{about}, state {info.state}", "",
             f"final train accuracy {pct(info.final_train_acc)}, final test accuracy {pct(info.final_test_acc)}; "
             f"best train {pct(info.best_train_acc)} (epoch {info.best_train_epoch or '-'}), "
             f"best test {pct(info.best_test_acc)} (epoch {info.best_test_epoch or '-'}); "
             f"final loss {number_text(info.final_loss, '.4f')}", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---:|" * len(COLUMNS)]
    for r in run.read_metrics():
        lines.append("| " + " | ".join("" if r.get(c) is None else MD_FORMATS[c](r[c]) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def render(run: RunDir, fmt: str) -> str:
    if fmt == "csv":
        return metrics_csv(run.read_metrics())
    if fmt == "jsonl":
        return metrics_jsonl(run.read_metrics())
    if fmt == "md":
        return metrics_markdown(run)
    raise ValueError(f"format: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def export_folder(run: RunDir, dest: Path) -> Path:
    """metrics.csv, metrics.jsonl, metrics.md, train.log, config.json, summary.json into dest/<run-id>/.

    The folder is built beside its place and renamed in, replacing an earlier export: a failure (a full disk)
    leaves the earlier export or nothing, never half a folder."""
    dest = Path(dest)
    target = dest / run.run_id
    dest.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}.{threading.get_ident()}.tmp"
    new, old = dest / f".{run.run_id}.{tag}", dest / f".{run.run_id}.old.{tag}"
    try:
        new.mkdir()
        rows = run.read_metrics()
        (new / "metrics.csv").write_text(metrics_csv(rows))
        (new / "metrics.jsonl").write_text(metrics_jsonl(rows))
        (new / "metrics.md").write_text(metrics_markdown(run))
        for name in (LOG, CONFIG, SUMMARY):
            if run.file(name).is_file():
                shutil.copyfile(run.file(name), new / name)
        if target.is_dir() and not target.is_symlink():
            os.replace(target, old)
        try:
            os.replace(new, target)
        except OSError:
            if old.is_dir() and not target.exists():
                os.replace(old, target)
            raise
    finally:
        for tmp in (new, old):
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def results_row(info: RunInfo) -> dict[str, Any]:
    """One run as a row of the seed's table: final and best (with epoch) accuracy, final loss, time."""
    return {"run": info.run_id, "preset": info.preset, "placement": info.config.get("placement", "?"),
            "state": info.state, "epoch": info.epoch, "epochs": info.epochs,
            "final_train_acc": info.final_train_acc, "final_test_acc": info.final_test_acc,
            "best_train_acc": info.best_train_acc, "best_train_epoch": info.best_train_epoch,
            "best_test_acc": info.best_test_acc, "best_test_epoch": info.best_test_epoch,
            "final_loss": info.final_loss, "wall_seconds": info.elapsed, "error": info.error or info.problem}


def results_rows(runs: list[RunDir]) -> list[dict[str, Any]]:
    return [results_row(run.info()) for run in runs]


def config_differences(infos: list[RunInfo]) -> dict[str, list[Any]]:
    """The config fields whose values differ between runs (preset and description left out)."""
    cfgs = [i.config for i in infos]
    keys = sorted({k for c in cfgs for k in c} - {"preset", "description", "extra"})
    return {k: [c.get(k) for c in cfgs] for k in keys if len({json.dumps(c.get(k), default=str) for c in cfgs}) > 1}
