"""Run exports (CSV, JSONL, Markdown, a whole folder, TensorBoard event files) and the seed-style results table.
No torch. Rows stream from metrics.jsonl to the output a chunk at a time: an export of a huge run costs memory for
one chunk, not for the run."""
from __future__ import annotations

from .store.files import open_regular

import csv
import io
import json
import math
import os
import shutil
import struct
import threading
import time
from pathlib import Path
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from . import metrics
from .errors import DropoutTuiError
from .store import CONFIG, EVALUATION, INSIDE, LOG, METRICS, NOTES, SUMMARY, RunDir, RunInfo
from .store.files import dumps
from .store.listed import pct  # noqa: F401 (the listing's percent, used by every table)
from .store.tail import rows_containing
from .states import State

FORMATS = ("csv", "jsonl", "md", "dir", "tensorboard")
TENSORBOARD_HINT = "pip install 'dropout-tui[tensorboard]'"
# The columns of the CSV and Markdown exports, the Markdown formats, the TensorBoard tags and which values were
# measured in float32 all come from the metric registry (tui_dropout/metrics.py): a new row is a new column there.


def columns(rows: Iterable[dict[str, Any]] = ()) -> list[str]:
    """The export columns for these rows: epoch, every recorded metric, then each family's layers they hold."""
    return metrics.row_columns(key for row in rows for key in row)


def run_columns(run: RunDir) -> list[str]:
    """The export columns of a run's metrics: only the lines that name a family's key are parsed, so a run without
    per-layer metrics (or a huge one) costs one plain read of its file."""
    needles = [f'"{m.name}.'.encode() for m in metrics.families()]
    return columns(rows_containing(run.file(METRICS), needles))


def float32_column(column: str) -> bool:
    m = metrics.metric_of_column(column)
    return m is not None and m.float32


def float32_text(value: float) -> str:
    """The shortest decimal that reads back as the same float32: the figure the run measured (0.1005), not the
    float32's float64 expansion (0.10050000250339508)."""
    text = repr(value)
    if len(text) <= 9:
        return text
    f32 = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        short = f"{value:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(short)))[0] == f32:
            return short
    return text


def _cell(value: Any, float32: bool) -> Any:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if float32 and isinstance(value, float):
        return float32_text(value)
    return value


CHUNK_ROWS = 2048  # rows formatted into one piece of text before it is written out


def _pieces(lines: Iterable[str]) -> Iterator[str]:
    """Lines joined into pieces of CHUNK_ROWS lines: a write per piece, not per row, and never the whole text."""
    lines = iter(lines)
    while piece := "".join(islice(lines, CHUNK_ROWS)):
        yield piece


def _columns_of(rows: Iterable[dict[str, Any]], names: list[str] | None) -> tuple[Iterable[dict[str, Any]], list[str]]:
    """`names`, or the columns of `rows` when it is a list (an iterator's rows are read once: the plain columns)."""
    if names is not None:
        return rows, names
    return rows, columns(rows if isinstance(rows, (list, tuple)) else ())


def csv_chunks(rows: Iterable[dict[str, Any]], names: list[str] | None = None) -> Iterator[str]:
    rows, names = _columns_of(rows, names)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    rows = iter(rows)
    kinds = [(k, float32_column(k)) for k in names]  # looked up once a column, not once a cell
    while True:
        batch = list(islice(rows, CHUNK_ROWS))
        writer.writerows({k: _cell(row.get(k), f32) for k, f32 in kinds} for row in batch)
        yield out.getvalue()
        if not batch:
            return
        out.seek(0)
        out.truncate()


def metrics_csv(rows: Iterable[dict[str, Any]], names: list[str] | None = None) -> str:
    return "".join(csv_chunks(rows, names))


def jsonl_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    return _pieces(dumps(r, sort_keys=True) + "\n" for r in rows)


def metrics_jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(jsonl_chunks(rows))


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


def md_format(column: str) -> Callable[[Any], str]:
    """How the Markdown table writes a value of `column`: its metric's format, a percentage for a fraction (looked
    up once a column, not once a cell: a huge run's table has millions)."""
    m = metrics.metric_of_column(column)
    if m is None:
        return lambda value: "" if value is None else number_text(value, "d")  # the epoch
    if m.percent:
        return lambda value: "" if value is None else pct(value)
    fmt = m.fmt
    return lambda value: "" if value is None else number_text(value, fmt)


def markdown_chunks(run: RunDir, names: list[str] | None = None) -> Iterator[str]:
    """The run's Markdown page: a head of figures, then its metrics table, row by row as they are read."""
    info = run.info()
    names = names if names is not None else run_columns(run)
    cfg = info.config
    about = ", ".join(f"{k} {value_text(cfg.get(k))}" for k in ("preset", "placement", "p_conv", "p_fc", "dataset",
                                                               "epochs"))
    if cfg.get("train_limit") is not None:
        about += f", train_limit {value_text(cfg.get('train_limit'))}"
    study = info.config.get("study")
    about_user = [f"tags {' '.join('#' + t for t in info.tags)}" if info.tags else "",
                  f"note: {' '.join(info.note.split())}" if info.note else ""]
    progress = f" at epoch {info.epoch}/{info.epochs}" if info.state != State.FINISHED else ""
    head = [f"# Run {run.run_id}: {info.label}", "",
            *([f"study {study}", ""] if isinstance(study, str) and study else []),
            *[text for line in about_user if line for text in (line, "")],
            f"{about}, state {info.state}{progress}", "",
            f"final train accuracy {pct(info.final_train_acc)}, final test accuracy {pct(info.final_test_acc)}; "
            f"best train {pct(info.best_train_acc)} (epoch {info.best_train_epoch or '-'}), "
            f"best test {pct(info.best_test_acc)} (epoch {info.best_test_epoch or '-'}); "
            f"final loss {number_text(info.final_loss, '.4f')}", "",
            "| " + " | ".join(names) + " |", "|" + "---:|" * len(names)]
    yield "\n".join(head) + "\n"
    cells = [(name, md_format(name)) for name in names]
    yield from _pieces("| " + " | ".join([write(r.get(c)) for c, write in cells]) + " |\n" for r in run.iter_metrics())


def metrics_markdown(run: RunDir) -> str:
    return "".join(markdown_chunks(run))


def render_chunks(run: RunDir, fmt: str) -> Iterator[str]:
    """The export in `fmt` (csv, jsonl, md) as pieces of text, read from the run as they are written out."""
    if fmt == "csv":
        return csv_chunks(run.iter_metrics(), run_columns(run))
    if fmt == "jsonl":
        return jsonl_chunks(run.iter_metrics())
    if fmt == "md":
        return markdown_chunks(run)
    raise ValueError(f"format: unknown format {fmt!r} (choose from {', '.join(FORMATS)})")


def render(run: RunDir, fmt: str) -> str:
    return "".join(render_chunks(run, fmt))


def swap_in(new: Path, target: Path, old: Path) -> None:
    """Put the folder `new` in the place of `target`; an earlier `target` is moved to `old` first and put back
    when the swap fails, so the place holds the earlier folder or the new one, never neither."""
    if target.is_dir() and not target.is_symlink():
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if old.is_dir() and not target.exists():
            os.replace(old, target)
        raise


def export_folder(run: RunDir, dest: Path) -> Path:
    """metrics.csv, metrics.jsonl, metrics.md, train.log, config.json, summary.json (and notes.json,
    evaluation.json and inside.json when the run has them) into dest/<run-id>/.

    The folder is built beside its place and renamed in, replacing an earlier export: a failure (a full disk)
    leaves the earlier export or nothing, never half a folder."""
    dest = Path(dest)
    target = dest / run.run_id
    dest.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}.{threading.get_ident()}.tmp"
    new, old = dest / f".{run.run_id}.{tag}", dest / f".{run.run_id}.old.{tag}"
    try:
        new.mkdir()
        for name, fmt in (("metrics.csv", "csv"), ("metrics.jsonl", "jsonl"), ("metrics.md", "md")):
            with open(new / name, "w") as f:
                f.writelines(render_chunks(run, fmt))
        if not run.file(SUMMARY).exists():  # a run still going (or one that died) has none yet: its figures so far
            write_partial_summary(run, new / SUMMARY)
        for name in (LOG, CONFIG, SUMMARY, NOTES, EVALUATION, INSIDE):
            if name == SUMMARY and (new / SUMMARY).exists():
                continue
            try:  # never through a link: the run's own file or nothing (OSError names it)
                with open_regular(run.file(name)) as src, open(new / name, "wb") as out:
                    shutil.copyfileobj(src, out)
            except OSError:  # missing, a link, a FIFO or a folder: not the run's file, left out
                (new / name).unlink(missing_ok=True)
                continue
        swap_in(new, target, old)
    finally:
        for tmp in (new, old):
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def write_partial_summary(run: RunDir, path: Path) -> None:
    """summary.json for a run without one: its state and figures as status.json holds them now, marked partial."""
    try:
        status = run.read_status()
    except (OSError, ValueError):
        return
    keep = ("state", "epoch", "epochs", "elapsed", "best_train_acc", "best_train_epoch", "best_test_acc",
            "best_test_epoch", "final_train_acc", "final_test_acc", "final_loss", "error")
    summary = {k: status[k] for k in keep if k in status}
    summary.update(partial=True, exported=time.time())
    path.write_text(json.dumps(summary, indent=2) + "\n")


class MissingExtra(DropoutTuiError, RuntimeError):
    """An optional dependency is not installed; the message says how to install it."""


def tensorboard_scalars(row: dict[str, Any]) -> list[tuple[str, float]]:
    """(tag, value) of each registry metric in a metrics row that has a TensorBoard tag: accuracies as fractions as
    in metrics.jsonl, the gap in percentage points, a family's layers as `<tag>/<layer>` (`sparsity/conv1`)."""
    out = []
    for m in metrics.METRICS:
        if m.tag is None or m.family:
            continue
        value = m.derive(row) if m.derive else row.get(m.name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((m.tag, float(value)))
    for key, family, layer in metrics.family_keys(row):
        value = row[key]
        if family.tag is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append((f"{family.tag}/{layer}", float(value)))
    return out


def _hparam(value: Any) -> bool | int | float | str | None:
    """A config value as a TensorBoard hparam: numbers, text and true/false as they are, lists as JSON."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else str(value)
    return json.dumps(value, default=str)


def export_tensorboard(run: RunDir, target: Path) -> Path:
    """TensorBoard event files for the run in `target` (a folder, replaced whole when it exists): the scalars of
    `tensorboard_scalars` (the metric registry's) with the epoch as the step and the run's start + elapsed as the wall time, its config as
    hparams and as text. Needs the `tensorboard` package (the extra of that name), never torch.

    Built beside its place and renamed in: a failure leaves the earlier export or nothing."""
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.plugins.hparams import summary_v2 as hparams_summary
        from tensorboard.plugins.text import metadata as text_metadata
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
        from tensorboard.util import tensor_util
    except ImportError as exc:
        raise MissingExtra(f"--format tensorboard needs the tensorboard package: {TENSORBOARD_HINT}") from exc
    target = Path(target)
    info = run.info()
    rows = run.iter_metrics()
    start = info.status.get("started") or info.created
    start = float(start) if isinstance(start, (int, float)) and not isinstance(start, bool) else 0.0
    config = {k: v for k, v in info.config.items() if k not in ("extra", "description")}
    hparams = {k: h for k, h in ((k, _hparam(v)) for k, v in config.items()) if h is not None}
    target.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}.{threading.get_ident()}.tmp"
    new, old = target.parent / f".{target.name}.{tag}", target.parent / f".{target.name}.old.{tag}"
    try:
        new.mkdir()
        writer = EventFileWriter(str(new), flush_secs=3600)
        try:
            text = tensor_util.make_tensor_proto("```\n" + json.dumps(config, indent=2, default=str) + "\n```")
            writer.add_event(event_pb2.Event(wall_time=start, step=0, summary=summary_pb2.Summary(value=[
                summary_pb2.Summary.Value(tag="config", tensor=text, metadata=text_metadata.create_summary_metadata(
                    display_name="config", description=f"run {run.run_id}"))])))
            writer.add_event(event_pb2.Event(wall_time=start, step=0, summary=hparams_summary.hparams_pb(
                hparams, trial_id=run.run_id, start_time_secs=start)))
            for row in rows:
                values = [summary_pb2.Summary.Value(tag=name, simple_value=value)
                          for name, value in tensorboard_scalars(row)]
                elapsed = row.get("elapsed")
                wall = start + (elapsed if isinstance(elapsed, (int, float)) and math.isfinite(elapsed) else 0.0)
                writer.add_event(event_pb2.Event(wall_time=wall, step=row["epoch"],
                                                 summary=summary_pb2.Summary(value=values)))
            evaluated = _evaluation_scalars(run)
            if evaluated:  # what dropout did: at the epoch of the checkpoint it measured
                step, when, values = evaluated
                writer.add_event(event_pb2.Event(wall_time=when or start, step=step, summary=summary_pb2.Summary(
                    value=[summary_pb2.Summary.Value(tag=tag, simple_value=v) for tag, v in values])))
        finally:
            writer.close()
        swap_in(new, target, old)
    finally:
        for tmp in (new, old):
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _evaluation_scalars(run: RunDir) -> tuple[int, float | None, list[tuple[str, float]]] | None:
    """(step, wall time, [(tag, value)]) of the run's finished evaluation: `eval/off_acc`, `eval/mc_acc`,
    `eval/off_ece`, `eval/mc_ece`, `eval/mc_entropy`; None without one."""
    from . import evaluation

    data = evaluation.read(run.path)
    cols = evaluation.columns(data)
    if cols.get("det_acc") is None:
        return None
    names = {"det_acc": "eval/off_acc", "mc_acc": "eval/mc_acc", "det_ece": "eval/off_ece", "mc_ece": "eval/mc_ece",
             "mc_entropy": "eval/mc_entropy"}
    values = [(names[k], float(v)) for k, v in cols.items() if v is not None and k in names]
    step = data.get("checkpoint_epoch") if isinstance(data.get("checkpoint_epoch"), int) else 0
    ended = data.get("ended")
    return step, float(ended) if isinstance(ended, (int, float)) else None, values


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
