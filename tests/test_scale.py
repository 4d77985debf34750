"""Large runs folders and huge run files: readers stream and thin, the listing index gives back every run as its
files say, and the console formats and sweeps bounded slices. Behaviour only; the figures are benchmarks/."""
import json
import os
import time
import tracemalloc

import pytest

from typer.testing import CliRunner

from conftest import make_run_folder, settle, until
from tui_dropout.cli.main import app as cli_app
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.widgets.runs_table import RunsTable
from tui_dropout.series import KEEP_ROWS
from tui_dropout.store import RunDir, RunStore, index, write_json_atomic

runner = CliRunner()
RUN_ID = "20261201-100000-D-huge"
ROWS = 40_000  # about 4.6 MB of metrics.jsonl: many times what a reader may hold at once


def big_run(runs_dir, rows=ROWS, log_lines=0):
    path = make_run_folder(runs_dir, RUN_ID, {"state": "finished", "epoch": rows, "epochs": rows})
    with open(path / "metrics.jsonl", "w") as f:
        f.writelines(json.dumps({"epoch": e, "loss": 2.3 / e ** 0.3, "lr": 0.01, "seconds": 0.5, "elapsed": 0.6 * e,
                                 **({"train_acc": 0.5, "test_acc": 0.4 + e / rows / 4} if e % 20 == 0 else {})}) + "\n"
                     for e in range(1, rows + 1))
    if log_lines:
        with open(path / "train.log", "w") as f:
            f.writelines(f"[2026-12-01 10:00:00] epoch: {e} time: 0.50 loss: 0.0100\n" for e in range(1, log_lines + 1))
    return path


def whole_file_reads_refused(monkeypatch):
    """Readers of a long run must stream it: the whole-file reader fails the test if anything calls it."""
    def refuse(self):
        raise AssertionError(f"{self.run_id}: metrics.jsonl read whole")
    monkeypatch.setattr(RunDir, "read_metrics", refuse)


def peak_bytes(action):
    tracemalloc.start()
    try:
        result = action()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_every_export_streams_a_huge_metrics_file_in_memory_far_below_its_size(runs_dir, tmp_path, monkeypatch):
    import tui_dropout.export as export
    import tui_dropout.store.tail as tail

    path = big_run(runs_dir, log_lines=20_000)
    size = (path / "metrics.jsonl").stat().st_size
    whole_file_reads_refused(monkeypatch)
    # smaller pieces than the real ones (1 MB read, 2,048 rows written at a time), so that a file of modest size is
    # many pieces: memory must follow the piece, not the file
    monkeypatch.setattr(tail, "CHUNK_BYTES", 64 << 10)
    monkeypatch.setattr(export, "CHUNK_ROWS", 256)
    runner.invoke(cli_app, ["export", RUN_ID, "--runs-dir", str(runs_dir), "--format", "tensorboard", "-o",
                            str(tmp_path / "warm")])  # imports and first-use caches stay out of the figures
    for fmt in ("csv", "jsonl", "md", "dir", "tensorboard"):
        out = tmp_path / f"out-{fmt}"
        result, peak = peak_bytes(lambda: runner.invoke(cli_app, ["export", RUN_ID, "--runs-dir", str(runs_dir),
                                                                   "--format", fmt, "-o", str(out)]))
        assert result.exit_code == 0, (fmt, result.output, result.exception)
        assert peak < size / 2, (fmt, peak, size)  # a chunk at a time, never the rows of the whole run
        if fmt in ("csv", "jsonl", "md"):
            with open(out) as f:
                lines = sum(1 for _ in f)
            assert lines >= ROWS and lines <= ROWS + 20  # every row, plus a header
    folder = tmp_path / "out-dir" / RUN_ID
    assert sum(1 for _ in open(folder / "metrics.csv")) == ROWS + 1
    assert (folder / "train.log").stat().st_size == (path / "train.log").stat().st_size


def test_show_reads_the_end_of_a_huge_log_and_nothing_before_it(runs_dir):
    path = big_run(runs_dir, rows=10, log_lines=300_000)  # 15 MB of log
    runner.invoke(cli_app, ["show", RUN_ID, "--runs-dir", str(runs_dir), "--lines", "0"])  # its imports, not measured
    result, peak = peak_bytes(lambda: runner.invoke(cli_app, ["show", RUN_ID, "--runs-dir", str(runs_dir),
                                                               "--lines", "5"]))
    assert result.exit_code == 0, result.output
    assert "epoch: 300000 time:" in result.output and "epoch: 299995 time:" not in result.output
    assert peak < (path / "train.log").stat().st_size / 20


async def test_the_console_reads_a_huge_metrics_file_in_the_background_holding_a_bounded_series(
        runs_dir, monkeypatch):
    import tui_dropout.watch as watch

    big_run(runs_dir)
    whole_file_reads_refused(monkeypatch)
    monkeypatch.setattr(watch, "BACKGROUND_BYTES", 256 << 10)  # this run's backlog counts as huge
    loaders = []
    real_start = watch.SeriesLoader.start
    monkeypatch.setattr(watch.SeriesLoader, "start", lambda self: loaders.append(self) or real_start(self))
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: loaders and not app.watcher.loading(RUN_ID), timeout=60,
                    what="the background read to end")
        series = app.watcher.series(RUN_ID)
        assert series.epochs[0] == 1 and series.epochs[-1] == ROWS  # the whole run, first and last epochs kept
        assert len(series.epochs) <= KEEP_ROWS and len(series.acc_epochs) <= KEEP_ROWS  # thinned as it was read
        assert max(series.test_acc) == 65.0  # the extremes survive the thinning
        assert len(loaders) == 1  # read once, in a thread: the UI never blocked on it


def test_the_index_keeps_shared_values_once_and_gives_every_run_back_as_its_files_say(runs_dir):
    base = {"preset": "D", "epochs": 10, "placement": "all", "p_conv": 0.5, "p_fc": 0.5, "dataset": "digits",
            "description": "a description every run shares"}
    configs = [{**base, "p_fc": 0.1 * i, "label": f"D p_fc={0.1 * i:.1f}"} for i in range(5)]
    configs.append({k: v for k, v in base.items() if k != "placement"})  # lacks a key the others share
    configs.append({**base, "p_conv": 1})  # an int where the others hold a float: kept as written
    configs.append(dict(reversed(base.items())))  # written by hand in another order: listed in its order
    for i, config in enumerate(configs):
        make_run_folder(runs_dir, f"20261201-10000{i}-D-{i:04x}", {"state": "finished", "epoch": 10, "epochs": 10,
                                                                   "best_test_acc": 0.5 + i / 100}, config=config)
    fresh = RunStore(runs_dir).list()  # read from the files; writes the index
    text = (runs_dir / ".index.json").read_text()
    assert text.count("a description every run shares") == 1
    cached = RunStore(runs_dir).list()
    assert "label" not in json.loads(text)["tables"]["config"]["same"]  # no run's own value is shared
    loaded = index.load(runs_dir)
    assert all(loaded.info(i.run_id, i.path, index.stamp(i.path)) is not None for i in cached)  # served from it
    for a, b in zip(fresh, cached):
        assert json.dumps([a.config, a.status]) == json.dumps([b.config, b.status])  # the types too (1 vs 1.0)
        assert (a.run_id, a.best_test_acc, a.label) == (b.run_id, b.best_test_acc, b.label)
    assert "placement" not in cached[[c.run_id for c in cached].index("20261201-100005-D-0005")].config


def test_a_shared_value_of_the_wrong_type_costs_the_index_and_nothing_else(runs_dir):
    for i in range(3):
        make_run_folder(runs_dir, f"20261201-10000{i}-A-{i:04x}", {"state": "finished", "epoch": 10,
                                                                   "best_test_acc": 0.61})
    RunStore(runs_dir).list()
    data = json.loads((runs_dir / ".index.json").read_text())
    data["tables"]["config"]["same"]["p_fc"] = "half"
    data["tables"]["status"]["same"]["epoch"] = "ten"
    (runs_dir / ".index.json").write_text(json.dumps(data))
    result = runner.invoke(cli_app, ["runs", "--runs-dir", str(runs_dir)])
    assert result.exit_code == 0 and result.exception is None, result.output
    assert result.output.count("61.00%") == 3 and "half" not in result.output
    infos = RunStore(runs_dir).list()
    assert all(i.config["p_fc"] == 0.5 and i.epoch == 10 for i in infos)
    assert json.loads((runs_dir / ".index.json").read_text())["tables"]["config"]["same"]["p_fc"] == 0.5  # rebuilt


def finished_runs(runs_dir, count: int) -> None:
    """`count` finished runs, the newest first by id and by start time."""
    now = time.time()
    for i in range(count):
        make_run_folder(runs_dir, f"20261201-{i:06d}-A-{i:04x}", {"state": "finished", "epoch": 10,
                                                                  "created": now - i})


async def test_the_console_formats_only_the_rows_it_draws(runs_dir):
    finished_runs(runs_dir, 400)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 400, what="every run listed")
        assert sum(row._cells is not None for row in table.rows) <= 30  # the screen's rows, not the folder's
        await pilot.press("end")
        await until(pilot, lambda: table.cursor_row == 399, what="the cursor on the last row")
        await pilot.pause()
        assert table.rows[399]._cells is not None and table.get_cell_at((399, 0)).strip() == "400"
        assert sum(row._cells is not None for row in table.rows) <= 60


def test_an_idle_watcher_over_a_huge_folder_stats_a_bounded_slice_a_refresh(tmp_path, monkeypatch):
    import tui_dropout.watch as watch
    from tui_dropout.watch import RunsWatcher

    monkeypatch.setattr(watch, "SWEEP_MIN", 5)
    monkeypatch.setattr(watch, "SWEEP_MAX", 20)
    monkeypatch.setattr(watch, "SWEEP_SECONDS", 1)  # as if the folder held far more runs than a minute's sweep
    runs = tmp_path / "runs"
    for i in range(200):
        make_run_folder(runs, f"20260101-{i:06d}-A-{i:04x}", {"state": "finished", "epoch": 10})
    watcher = RunsWatcher(RunStore(runs))
    assert watcher.refresh() == "structure"
    stats = []
    real = watch.stamp
    monkeypatch.setattr(watch, "stamp", lambda folder: stats.append(folder) or real(folder))
    watcher.refresh()
    assert 0 < len(stats) <= 20  # not 200 // SWEEP_SECONDS
    target = runs / "20260101-000007-A-0007" / "status.json"
    write_json_atomic(target, {"state": "finished", "epoch": 10, "best_test_acc": 0.77})  # a resume elsewhere
    for _ in range(200 // 20 + 1):  # one whole sweep at most
        watcher.refresh()
        if watcher.runs["20260101-000007-A-0007"].info.best_test_acc == 0.77:
            break
    assert watcher.runs["20260101-000007-A-0007"].info.best_test_acc == 0.77


def test_the_index_trusts_one_stat_a_run_and_sees_every_file_renamed_in(runs_dir):
    from tui_dropout.store.notes import update_notes

    path = make_run_folder(runs_dir, "20261201-100000-A-0000", {"state": "finished", "epoch": 10})
    store = RunStore(runs_dir)
    store.list()
    reads = []
    real = RunDir.info
    RunDir.info = lambda self: reads.append(self.run_id) or real(self)
    try:
        assert store.list()[0].name == "" and reads == []  # served from the index
        update_notes(path, name="renamed")  # notes.json renamed in: the folder's mtime moves
        assert store.list()[0].name == "renamed" and len(reads) == 1
        settle(path)  # as if long ago: stamped again, served again
        store.list()
        assert store.list()[0].name == "renamed" and len(reads) == 2
        RunDir(path).write_config({**json.loads((path / "config.json").read_text()), "label": "relabelled"})
        assert store.list()[0].study_label == "relabelled" and len(reads) == 3
    finally:
        RunDir.info = real


def test_a_stamp_taken_just_after_a_write_is_not_trusted(runs_dir):
    """A coarse filesystem clock can give a second write in the same tick the same mtime: a folder
    written within SETTLE_NS is read again next time, until it has settled."""
    path = make_run_folder(runs_dir, "20261201-100000-A-0000", {"state": "finished", "epoch": 10})
    write_json_atomic(path / "status.json", {"state": "finished", "epoch": 10, "best_test_acc": 0.5})
    RunStore(runs_dir).list()
    data = json.loads((runs_dir / ".index.json").read_text())
    assert data["stamps"] == [None]  # written just now: not stamped
    settle(path)
    RunStore(runs_dir).list()
    assert json.loads((runs_dir / ".index.json").read_text())["stamps"][0] is not None  # settled: stamped


def test_a_wrongly_typed_value_in_a_column_costs_its_own_run_only(runs_dir):
    ids = [f"20261201-10000{i}-A-{i:04x}" for i in range(3)]
    for run_id in ids:
        make_run_folder(runs_dir, run_id, {"state": "finished", "epoch": 10, "best_test_acc": 0.61})
    RunStore(runs_dir).list()
    data = json.loads((runs_dir / ".index.json").read_text())
    i = data["ids"].index(ids[1])
    epoch = data["fields"]["epoch"]  # every run holds 10: written once
    assert epoch["all"] == 10 and epoch["except"] == {}
    epoch["except"][str(i)] = "ten"
    (runs_dir / ".index.json").write_text(json.dumps(data))
    loaded = index.load(runs_dir)
    served = {run_id: loaded.info(run_id, runs_dir / run_id, index.stamp(runs_dir / run_id)) for run_id in ids}
    assert served[ids[1]] is None and served[ids[0]].epoch == served[ids[2]].epoch == 10
    assert all(info.epoch == 10 for info in RunStore(runs_dir).list())  # read again from its files


async def test_past_99_runs_the_wider_number_column_is_in_the_panes_width(runs_dir):
    """The number column widens with the count (150 runs: "*150" and a gap); the pane is sized for it, so the last
    column (the start time and the id's tail) is drawn whole, not cut at the pane's edge."""
    finished_runs(runs_dir, 150)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.screen.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 150, what="every run listed")
        await pilot.pause()
        assert table.column_width("n") == 5 and "started" in table.keys
        assert table.scrollable_content_region.width >= sum(table.column_width(k) for k in table.keys)
        first = "".join(segment.text for segment in table.render_line(1))
        assert first.rstrip().endswith("0000")  # the newest run's id tail, whole


def test_the_rows_sequence_answers_like_a_list():
    from tui_dropout.console.widgets.runs_table import Rows
    from tui_dropout.store import RunInfo

    infos = [RunInfo(f"20261201-00000{i}-A-000{i}", None, "finished") for i in range(3)]
    rows = Rows(infos, lambda n, info: {"n": str(n)})
    assert len(rows) == 3 and rows[-1].run_id == infos[2].run_id and rows[-1].cells == {"n": "3"}
    assert [r.run_id for r in rows[1:]] == [i.run_id for i in infos[1:]] and [r.run_id for r in rows] == \
        [i.run_id for i in infos]
    for bad in (3, -4):
        with pytest.raises(IndexError):
            rows[bad]
    assert not Rows([], lambda n, info: {})
