"""Run exports (CSV, JSONL, Markdown, a whole folder) and the seed-style results table. No torch."""
from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

from .store import CONFIG, LOG, SUMMARY, RunDir

COLUMNS = ("epoch", "loss", "lr", "seconds", "train_acc", "test_acc", "elapsed")


def metrics_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in COLUMNS})
    return out.getvalue()


def metrics_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows)


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


def seconds_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}s" if value < 120 else f"{value / 60:.1f}min"


def metrics_markdown(run: RunDir) -> str:
    rows = run.read_metrics()
    cfg = run.read_config()
    summary = run.read_summary() or {}
    lines = [f"# Run {run.run_id}", "",
             f"preset {cfg.get('preset')}, placement {cfg.get('placement')}, p_conv {cfg.get('p_conv')}, "
             f"p_fc {cfg.get('p_fc')}, dataset {cfg.get('dataset')}, epochs {cfg.get('epochs')}", "",
             f"best train accuracy {pct(summary.get('best_train_acc'))}, best test accuracy "
             f"{pct(summary.get('best_test_acc'))}, final loss {summary.get('final_loss', '-')}", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r.get(c)) for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def render(run: RunDir, fmt: str) -> str:
    if fmt == "csv":
        return metrics_csv(run.read_metrics())
    if fmt == "jsonl":
        return metrics_jsonl(run.read_metrics())
    if fmt == "md":
        return metrics_markdown(run)
    raise ValueError(f"format: unknown format {fmt!r} (csv, jsonl or md)")


def export_folder(run: RunDir, dest: Path) -> Path:
    """metrics.csv, metrics.jsonl, metrics.md, train.log, config.json, summary.json into dest/<run-id>/."""
    target = Path(dest) / run.run_id
    target.mkdir(parents=True, exist_ok=True)
    rows = run.read_metrics()
    (target / "metrics.csv").write_text(metrics_csv(rows))
    (target / "metrics.jsonl").write_text(metrics_jsonl(rows))
    (target / "metrics.md").write_text(metrics_markdown(run))
    for name in (LOG, CONFIG, SUMMARY):
        if run.file(name).exists():
            shutil.copyfile(run.file(name), target / name)
    return target


def results_rows(runs: list[RunDir]) -> list[dict[str, Any]]:
    """One row per run, like the seed's table: best train / best test accuracy, final loss, time."""
    rows = []
    for run in runs:
        info = run.info()
        summary = info.summary
        rows.append({"run": run.run_id, "preset": info.preset, "placement": info.config.get("placement", "?"),
                     "state": info.state, "epoch": info.epoch, "epochs": info.epochs,
                     "best_train_acc": info.best_train_acc, "best_test_acc": info.best_test_acc,
                     "final_loss": summary.get("final_loss", info.status.get("last_loss")),
                     "wall_seconds": summary.get("wall_seconds", info.status.get("elapsed"))})
    return rows


def config_differences(runs: list[RunDir]) -> dict[str, list[Any]]:
    """The config fields whose values differ between runs (preset and description left out)."""
    cfgs = [r.read_config() for r in runs]
    keys = sorted({k for c in cfgs for k in c} - {"preset", "description", "extra"})
    return {k: [c.get(k) for c in cfgs] for k in keys if len({json.dumps(c.get(k)) for c in cfgs}) > 1}
