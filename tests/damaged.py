"""Damaged run-folder files: the contract for their known fields, strategies that break them, and every reader."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import plotext
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rich.console import Console

from tui_dropout import export
from tui_dropout import launch as launcher
from tui_dropout.cli import runs as cli_runs
from tui_dropout.console.widgets.details import RunDetails
from tui_dropout.console.widgets.runs_table import RunsTable
from tui_dropout.launch import control
from tui_dropout.series import downsample, ema
from tui_dropout.errors import DropoutTuiError
from tui_dropout.store import STATES, RunDir, RunStore, slurm
from tui_dropout.watch import RunsWatcher

RUN_ID = "20260101-000002-A-d4m9"
SIBLING_ID = "20260101-000001-B-0k0k"  # a healthy run beside the damaged one
FUZZ = float(os.environ.get("DROPOUT_TUI_FUZZ", "1"))  # e.g. 20: twenty times the examples, for a long hunt


def examples(n: int) -> settings:
    return settings(max_examples=max(1, int(n * FUZZ)), deadline=None, suppress_health_check=list(HealthCheck))


SETTINGS = examples(30)
NOW = time.time()

CONFIG = {"preset": "A", "description": "", "dataset": "digits", "data_dir": None, "train_limit": 256,
          "placement": "all", "p_conv": 0.5, "p_fc": 0.5, "conv_kind": "dropout2d", "fc_kind": "dropout", "epochs": 3,
          "batch_size": 64, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "lr_step": 150, "lr_gamma": 0.5,
          "eval_every": 1, "eval_batch_size": 2048, "checkpoint_every": 1, "device": "cpu", "seed": 0,
          "channels_last": True, "compile": False, "extra": {"torch": "2.x"}}
STATUS = {"state": "finished", "epoch": 3, "epochs": 3, "pid": 999999, "pid_start": 1, "host": "elsewhere",
          "heartbeat": NOW, "created": NOW - 60, "updated": NOW, "started": NOW - 59, "ended": NOW, "error": None,
          "group": [RUN_ID], "claim": "c0ffee", "best_test_acc": 0.5, "best_test_epoch": 3, "best_train_acc": 0.6,
          "best_train_epoch": 3, "final_loss": 1.25, "final_train_acc": 0.6, "final_test_acc": 0.5, "elapsed": 9.5,
          "lr": 0.01}
SUMMARY = {"state": "finished", "epochs_done": 3, "epochs": 3, "train_seconds": 8.0, "wall_seconds": 9.5,
           "error": None, "best_test_acc": 0.5, "best_test_epoch": 3, "best_train_acc": 0.6, "best_train_epoch": 3,
           "final_loss": 1.25, "final_train_acc": 0.6, "final_test_acc": 0.5}
ROWS = [{"epoch": e, "loss": 2.0 / e, "lr": 0.01, "seconds": 3.0, "elapsed": 3.1 * e, "train_acc": 0.2 * e,
         "test_acc": 0.15 * e} for e in (1, 2, 3)]
LOG = "[2026-01-01 00:00:01] epoch: 1 time: 3.00 loss: 2.0000\n"
HIST = {"edges": [0.0, 0.5, 1.0], "counts": [3, 1]}
INSIDE = {"epoch": 3, "images": 2, "layers": [{"name": "fc1", "units": 2, "mean": 0.25, "zero_fraction": 0.5,
                                               "weight_norm": 1.5, "hist": HIST,
                                               "unit_mean_hist": {"edges": [0.0, 1.0], "counts": [2]}}],
          "filters": {"layer": "fc1", "shape": [1, 1, 1, 2], "values": [[0.5, -0.5]]}}

# ----- the contract for the files' known fields (this test's own statement of it) -------------------------------
NUM, INT, TEXT, STATE, BOOL, TABLE, IDS = "number", "int", "text", "state", "bool", "table", "ids"
SPEC = {
    "status.json": {"state": STATE, "epoch": INT, "epochs": INT, "pid": INT, "pid_start": INT, "host": TEXT,
                    "heartbeat": NUM, "created": NUM, "updated": NUM, "best_test_acc": NUM, "best_test_epoch": INT,
                    "best_train_acc": NUM, "final_loss": NUM, "elapsed": NUM, "error": TEXT, "group": IDS,
                    "claim": TEXT, "final_test_acc": NUM, "lr": NUM, "device": TEXT, "backend": TEXT,
                    "job_id": TEXT, "queue_seq": INT, "queue_pid": INT, "queue_pid_start": INT, "slot": TEXT,
                    "gpu": INT},
    "config.json": {"preset": TEXT, "epochs": INT, "placement": TEXT, "p_conv": NUM, "p_fc": NUM, "dataset": TEXT,
                    "batch_size": INT, "lr": NUM, "seed": INT, "device": TEXT, "channels_last": BOOL,
                    "extra": TABLE},
    "summary.json": {"state": STATE, "best_test_acc": NUM, "best_test_epoch": INT, "best_train_acc": NUM,
                     "final_loss": NUM, "final_test_acc": NUM, "epochs_done": INT, "wall_seconds": NUM,
                     "error": TEXT, "epochs": INT, "epoch": INT, "elapsed": NUM},
}
ROW_NUMBERS = ("loss", "train_acc", "test_acc", "elapsed", "seconds", "lr", "sparsity.conv1", "act_mean.fc1",
               "wnorm.h2")  # and a per-layer family's keys: numbers like any metric
VALID = {"config.json": CONFIG, "status.json": STATUS, "summary.json": SUMMARY}


def fits(value, kind) -> bool:
    if value is None:
        return True
    if kind == NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == TEXT:
        return isinstance(value, str)
    if kind == STATE:
        return value in STATES
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == TABLE:
        return isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def huge_int_inside(value) -> bool:
    """An integer beyond any float (over 300 digits): no reader can compare or convert it."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**300:
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def depth(value) -> int:
    if isinstance(value, dict):
        value = list(value.values())
    return 1 + max(map(depth, value), default=0) if isinstance(value, list) else 0


def parsed(data: bytes):
    """The JSON value in `data`, or raise ValueError when a reader cannot use it."""
    value = json.loads(data.decode("utf-8"))
    if huge_int_inside(value):
        raise ValueError("huge integer")
    if depth(value) > 64:  # no run file nests more than a few levels; writing one back would recurse too far
        raise ValueError("nested too deeply")
    return value


def damaged(name: str, data: bytes) -> bool:
    """Whether `data` as run-folder file `name` must be shown as damaged."""
    try:
        value = parsed(data)
    except (ValueError, RecursionError):
        return True
    return not isinstance(value, dict) or any(not fits(value.get(k), kind) for k, kind in SPEC[name].items())


def good_row(value) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("epoch"), int) and not isinstance(value["epoch"], bool)
            and 1 <= value["epoch"] < 2**31 and all(fits(value.get(k), NUM) for k in ROW_NUMBERS))


def expected_metrics(data: bytes) -> tuple[list[dict], int]:
    """The rows a reader must plot and export, and how many complete lines it must count as bad."""
    end = data.rfind(b"\n")
    rows, bad = [], 0
    for line in data[:max(end, 0)].splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            ok = not huge_int_inside(value) and good_row(value)
        except (ValueError, RecursionError):
            ok = False
        if ok:
            rows.append(value)
        else:
            bad += 1
    return rows, bad


def plotted_epochs(rows: list[dict]) -> list[int]:
    """A row for an epoch already plotted means the run went back there: it replaces that epoch and later ones."""
    out: list[int] = []
    for row in rows:
        out = [e for e in out if e < row["epoch"]] + [row["epoch"]]
    return out


# ----- strategies ------------------------------------------------------------------------------------------
ALL_KEYS = sorted({k for spec in SPEC.values() for k in spec} | set(ROW_NUMBERS) | {"epoch"})
HUGE = [2**63, -(2**63) - 1, 10**30, 10**299, -(10**299), 10**300, -(10**300), 10**400, 10**4000]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from(HUGE), st.floats(),  # NaN and +-inf included
    st.text(max_size=12), st.sampled_from(list(STATES) + ["corrupt", "", RUN_ID, SIBLING_ID, "queue", "slurm",
                                                          "local", "123"]),
)
keys = st.one_of(st.sampled_from(ALL_KEYS), st.text(max_size=6))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner,
                                                                                                 max_size=5),
                           max_leaves=12)


def dump(value) -> bytes:
    """JSON the Python way: a bare NaN / Infinity, as older versions wrote."""
    return json.dumps(value).encode()


def valid_value(kind):
    """A value of the right type (null, NaN and Infinity included: they read as 'no value')."""
    return {NUM: st.none() | st.integers(-10**12, 10**12) | st.floats(),
            INT: st.none() | st.integers(-2**40, 2**40),
            TEXT: st.none() | st.text(max_size=10),
            STATE: st.none() | st.sampled_from(STATES),
            BOOL: st.none() | st.booleans(),
            TABLE: st.none() | st.dictionaries(st.text(max_size=5), json_values, max_size=3),
            IDS: st.none() | st.lists(st.sampled_from([RUN_ID, SIBLING_ID]) | st.text(max_size=8), max_size=3)}[kind]


def well_typed(name: str):
    """The valid file with some known fields changed to other values of the right type."""
    spec = SPEC[name]
    return st.fixed_dictionaries({}, optional={k: valid_value(kind) for k, kind in spec.items()}).map(
        lambda patch: {**VALID[name], **patch})


def ill_typed(name: str):
    """The valid file with some known fields given anything at all (mostly the wrong type), or dropped."""
    patch = st.dictionaries(st.sampled_from(sorted(SPEC[name])) | keys, json_values, min_size=1, max_size=4)
    drop = st.lists(st.sampled_from(sorted(SPEC[name])), max_size=3)
    return st.tuples(patch, drop).map(
        lambda pd: {k: v for k, v in {**VALID[name], **pd[0]}.items() if k not in pd[1]})


SPECIAL = [b"", b"null", b"[]", b"[1, 2]", b'"finished"', b"3", b"NaN", b"true", b"{", b'{"state": "finished"',
           b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b"\x00" * 8, b"[" * 1500, b'{"a": ' * 1500,
           b'{"epoch": ' + b"9" * 5000 + b"}", b'{"epoch": ' + b"9" * 400 + b"}", b'{"heartbeat": 1e999}',
           b'{"state": "running", "host": "elsewhere", "heartbeat": ' + b"9" * 310 + b"}",
           b'{"state": "running", "pid": -1}', b'{"state": "running", "pid": 0, "updated": "x"}',
           b'{"state": ["running"]}', b'{"state": {"a": 1}}', b'{"group": "' + RUN_ID.encode() + b'"}',
           b'{"group": 5}', b'{"group": [5]}', b'{"epoch": true}', b'{"epoch": 1.5}', b'{"epoch": "x"}',
           b'{"best_test_acc": "0.5"}', b'{"final_loss": NaN}', b'{"final_loss": -Infinity}',
           b'{"state": "failed", "x": ' + b"[" * 900 + b"]" * 900 + b"}",  # readable, but too deep to write back
           b'{"state": "failed", "x": ' + b"[" * 63 + b"]" * 63 + b"}", b'{"state": "failed", "x": ' + b"[" * 64 +
           b"]" * 64 + b"}"]


special = st.sampled_from(range(len(SPECIAL))).map(SPECIAL.__getitem__)  # (a short repr: the bytes are long)


def json_file(name: str):
    return st.one_of(
        st.binary(max_size=120),
        json_values.map(dump),
        st.dictionaries(st.sampled_from(sorted(SPEC[name])), json_values, max_size=6).map(dump),
        ill_typed(name).map(dump),
        well_typed(name).map(dump),
        special,
    )


row_numbers = st.none() | st.floats() | st.integers(-10**6, 10**6) | st.sampled_from([10**400, "1.0", True, [1]])
row_objects = st.fixed_dictionaries({"epoch": st.integers(1, 6) | st.sampled_from([0, -1, 2**31, 2**31 - 1, True,
                                                                                   "2", 1.0, None])},
                                    optional={k: row_numbers for k in ROW_NUMBERS} | {"note": json_values})
metric_line = st.one_of(row_objects.map(dump), json_values.map(dump), st.binary(max_size=40), st.just(b""),
                        st.just(b'{"epoch": 2, "loss": NaN, "lr": Infinity}'), st.just(b"[" * 1500))
metrics_file = st.tuples(st.lists(metric_line, max_size=8), st.booleans()).map(
    lambda lt: b"\n".join(lt[0]) + (b"\n" if lt[1] else b""))


# ----- the run folder and the readers ----------------------------------------------------------------------------
def write_run(root: Path, run_id: str, **files: bytes) -> Path:
    path = root / run_id
    path.mkdir(parents=True)
    contents = {"config.json": dump(CONFIG), "status.json": dump(STATUS), "summary.json": dump(SUMMARY),
                "metrics.jsonl": b"".join(dump(r) + b"\n" for r in ROWS), "train.log": LOG.encode(),
                "inside.json": dump(INSIDE)}
    contents.update(files)
    for name, data in contents.items():
        if data is not None:
            (path / name).write_bytes(data)
    return path


BASE = Path(tempfile.gettempdir())


@pytest.fixture(scope="module", autouse=True)
def _base():
    """Every example gets a fresh folder in here, removed once at the end (removing a folder per example costs
    more than the example); in memory where there is /dev/shm (small files on a journaled disk are slow)."""
    global BASE
    BASE = Path(tempfile.mkdtemp(prefix="damaged-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    yield
    shutil.rmtree(BASE, ignore_errors=True)


@contextlib.contextmanager
def run_folder(**files: bytes):
    """A fresh runs folder holding a healthy sibling and run RUN_ID with `files` in place of its own."""
    with pytest.MonkeyPatch.context() as mp:
        # cancel may only signal a proven trainer, or scancel a Slurm job: random pids and job ids from this test
        # must never reach a real process or job; squeue is not asked either
        mp.setattr(control, "proven_process", lambda status: None)
        mp.setattr(control, "scancel", lambda job_id: False)
        mp.setattr(slurm, "job_states", lambda: None)
        root = Path(tempfile.mkdtemp(dir=BASE)) / "runs"
        write_run(root, SIBLING_ID)
        yield root, write_run(root, RUN_ID, **files)


def rendered(*things) -> str:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, force_terminal=False)
    for thing in things:
        console.print(thing)
    return out.getvalue()


def draw(series) -> None:
    """What MetricChart.draw does with a series, on a plotext figure of its own."""
    for xs, ys in ((series.x("time"), series.loss), (series.acc_x("epoch"), series.test_acc)):
        plotext.clear_figure()
        xs, ys = downsample(xs, ema(ys, 0.9), 50)
        if xs:
            plotext.plot(xs, ys)
        plotext.plotsize(40, 10)
        plotext.build()


def read_everything(root: Path, run_path: Path, full: bool = False):
    """Every reader of a run folder, as the CLI and the console call them; returns what they made of it.

    `full` also draws the charts and prints the CLI's runs table (the slow readers: tests of the data behind
    them ask for them)."""
    store = RunStore(root)
    run = RunDir(run_path)
    info = run.info()
    listed = {i.run_id: i for i in store.list()}
    assert set(listed) == {RUN_ID, SIBLING_ID}
    assert listed[RUN_ID].state == info.state and listed[SIBLING_ID].state == "finished"
    assert store.find(RUN_ID).path == run_path and store.find("d4m9").path == run_path
    assert store.find("2").run_id in listed

    watcher = RunsWatcher(store)
    assert watcher.refresh() == "structure"
    assert watcher.refresh() == ""
    assert [i.run_id for i in watcher.ordered()] == sorted(listed, key=lambda r: (listed[r].created, r),
                                                           reverse=True)
    series = watcher.series(RUN_ID)
    for axis in ("epoch", "time"):
        assert len(series.x(axis)) == len(series.loss) and len(series.acc_x(axis)) == len(series.test_acc)
        assert all(math.isfinite(x) for x in series.x(axis) + series.acc_x(axis))
    series.upto(2)
    if full:
        draw(series)

    texts = {fmt: export.render(run, fmt) for fmt in ("csv", "jsonl", "md")}
    for line in texts["jsonl"].splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"export wrote a bare {c}"))
    folder = export.export_folder(run, root.parent / "exports")
    assert (folder / "metrics.csv").read_text() == texts["csv"]
    row = export.results_row(info)
    export.results_rows([run, RunDir(root / SIBLING_ID)])
    export.config_differences([info, listed[SIBLING_ID]])

    table = RunsTable()
    table.label_width = 31
    cells = tuple(table._cells(1, info, {RUN_ID}).values())
    details = RunDetails()
    details.show(run, info)
    shown = rendered(*cells, details.text) if full else " ".join(map(str, cells)) + " " + details.text.plain

    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()):
        if full:
            cli_runs.runs(runs_dir=root)
        cli_runs.show(RUN_ID, runs_dir=root, lines=5)
    shown += out.getvalue()

    # the launcher (writes to the folder: last)
    for action in (lambda: launcher.claim_group(launcher.resume_group(store, run)), lambda: launcher.cancel(run)):
        try:
            action()
        except DropoutTuiError as exc:  # the project's own errors, with one line; any other fails the test
            assert str(exc).strip() and "\n" not in str(exc)
    return info, series, texts, row, cells, shown


def assert_shown_damaged(name: str, info, row, cells, shown) -> None:
    assert info.state == "corrupt" and info.damaged
    assert name in info.problem, info.problem
    assert row["state"] == "corrupt" and name in row["error"]
    assert "corrupt" in map(str, cells)
    assert "corrupt" in shown and name in shown


