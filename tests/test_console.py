"""The console driven by key presses through Textual's pilot, on fixture folders, a stand-in trainer and one real run.

Every wait is for a condition (`until`), never a fixed pause: a loaded 2-core machine only makes them slower."""
import builtins
import errno
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from rich.console import Console

from conftest import make_run_folder, until
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.compare import CompareScreen, results_table
from tui_dropout.console.screens.inspector import InspectorScreen
from tui_dropout.console.screens.new_run import NewRunScreen
from tui_dropout.console.screens.replay import ReplayScreen
from tui_dropout.console.widgets.charts import MetricChart
from tui_dropout.console.widgets.key_bar import KeyBar
from tui_dropout.console.widgets.runs_table import RunsTable
from tui_dropout.launch import local as local_launcher
from tui_dropout.store import process_start_time





def metrics(n, loss0=2.3, acc_every=2):
    rows = []
    for e in range(1, n + 1):
        row = {"epoch": e, "loss": loss0 / e, "lr": 0.01, "seconds": 0.5, "elapsed": 0.6 * e}
        if e % acc_every == 0 or e == n:
            row.update(train_acc=min(1.0, 0.1 * e), test_acc=min(0.9, 0.08 * e))
        rows.append(json.dumps(row))
    return "\n".join(rows) + "\n"


FIGURES = {"best_test_acc": 0.6, "best_test_epoch": 8, "best_train_acc": 0.95, "best_train_epoch": 10,
           "final_test_acc": 0.58, "final_train_acc": 0.95, "final_loss": 0.23, "elapsed": 6.0}


@pytest.fixture
def fixture_runs(runs_dir):
    """One folder for every state, damaged ones, and enough finished runs to list eleven."""
    t = time.time()
    a = make_run_folder(runs_dir, "20260101-000001-A-aaaa", {"state": "finished", "epoch": 10, "created": t - 60,
                                                             **FIGURES}, metrics=metrics(10))
    (a / "train.log").write_text("".join(f"[2026-01-01 00:00:{e:02d}] epoch: {e} loss: {2.3 / e:.4f}\n"
                                         for e in range(1, 31)) + "[2026-01-01 00:00:59] run finished\n")
    make_run_folder(runs_dir, "20260101-000002-B-bbbb", {"state": "finished", "epoch": 10, "created": t - 50},
                    config={"preset": "B", "epochs": 10, "placement": "fc", "p_fc": 0.3, "dataset": "digits"},
                    metrics=metrics(10, loss0=2.0))
    make_run_folder(runs_dir, "20260101-000003-C-cccc", {"state": "failed", "error": "loss became nan at epoch 3",
                                                        "epoch": 3, "created": t - 40}, metrics=metrics(2))
    make_run_folder(runs_dir, "20260101-000004-D-dddd", {"state": "running", "pid": 999999, "pid_start": 1,
                                                        "host": os.uname().nodename, "created": t - 30})
    make_run_folder(runs_dir, "20260101-000005-A-eeee", {"state": "cancelled", "epoch": 4, "created": t - 20},
                    config={"preset": "A", "epochs": 10, "placement": "none", "p_fc": 0.3, "dataset": "digits"},
                    metrics=metrics(4) + '{"epoch": 5, "lo')
    bad = make_run_folder(runs_dir, "20260101-000006-A-ffff", None, metrics="not json\n")
    (bad / "status.json").write_text("{broken")
    make_run_folder(runs_dir, "20260101-000007-A-gggg", {"state": "queued", "created": t - 5}, config=False)
    for i in range(4):
        make_run_folder(runs_dir, f"20251231-00000{i}-A-old{i}", {"state": "finished", "epoch": 10,
                                                                  "created": t - 1000 + i}, metrics=metrics(10))
    return runs_dir


@pytest.fixture
def extra_presets(tmp_path, monkeypatch):
    """$TUI_DROPOUT_PRESETS with a second offline preset (q2), a broken TOML file and presets with bad values."""
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "q2.toml").write_text('description = "quick with dropout everywhere"\ndataset = "digits"\n'
                                    'placement = "all"\nepochs = 40\nbatch_size = 32\neval_every = 1\n'
                                    'train_limit = 300\n')
    (folder / "broken.toml").write_text("epochs = = 3\n")
    (folder / "wrongtype.toml").write_text('dataset = "digits"\nepochs = "ten"\n')
    (folder / "imagenet.toml").write_text('dataset = "imagenet"\nepochs = 3\n')
    monkeypatch.setenv("TUI_DROPOUT_PRESETS", str(folder))
    return folder


def position(app, suffix):
    """The 1-9 key that jumps to the run whose id ends with suffix."""
    ids = [i.run_id for i in app.watcher.ordered()]
    return str(next(n for n, run_id in enumerate(ids, 1) if run_id.endswith(suffix)))


async def go_to(pilot, app, suffix):
    """Select the run whose id ends with suffix with the keys a user would press (9, then down past row 9)."""
    n = int(position(app, suffix))
    await pilot.press(*([str(n)] if n <= 9 else ["9"] + ["down"] * (n - 9)))
    await until(pilot, lambda: app.screen.selected.endswith(suffix), what=f"run {suffix} selected")


def text_of(widget) -> str:
    return str(widget.render())


class RecordingConsole(DropoutConsole):
    """The console, keeping every notification it showed (shown ones expire) in `told`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.told: list[str] = []

    def notify(self, message, **kwargs):
        self.told.append(str(message))
        return super().notify(message, **kwargs)

    def was_told(self, text: str) -> bool:
        return any(text in message for message in self.told)


async def open_form(pilot, app, **fields):
    """Press n and fill fields by id (f_epochs=..., together=...); returns the form once it has checked them."""
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, NewRunScreen), what="the form")
    return await fill_form(pilot, app.screen, **fields)


async def fill_form(pilot, form, **fields):
    ids = {name: f"#{name.replace('_', '-', 1) if name.startswith('f_') else name}" for name in fields}
    for name, value in fields.items():
        form.query_one(ids[name]).value = value
    await until(pilot, lambda: all(str(form.query_one(ids[n]).value) == v for n, v in fields.items()))
    form.check()
    return form


# ----- a stand-in trainer: a torch-free process that writes the run folder as the trainer does -----------------
FAKE_TRAINER = textwrap.dedent("""
    import signal, sys, threading, time
    from tui_dropout.store import RunDir, host_and_pid
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    resume, runs = sys.argv[1] == "--resume", [RunDir(p) for p in sys.argv[2:]]
    for run in runs:
        run.update_status(state="running", heartbeat=time.time(), **host_and_pid())
    done = min(int(run.read_status().get("epoch") or 0) for run in runs) if resume else 0
    epochs = int(runs[0].read_config()["epochs"])
    while done < epochs and not stop.is_set() and not any(r.cancel_requested() for r in runs):
        time.sleep(0.02)
        done += 1
        for run in runs:
            run.append_metric({"epoch": done, "loss": 1.0 / done, "lr": 0.01, "seconds": 0.02,
                               "train_acc": 0.5, "test_acc": 0.4})
            run.log(f"epoch: {done}")
            run.file("checkpoint.pt").write_bytes(b"fake")
            run.update_status(epoch=done, heartbeat=time.time())
    for run in runs:
        run.update_status(state="finished" if done >= epochs else "cancelled", ended=time.time())
        run.clear_cancel_request()
""")


class FakeTrainers:
    """Stands in for TrainerProcess behind the console's LocalLauncher; records what was started (run ids, resume)."""

    def __init__(self):
        self.started: list[tuple[list[str], bool]] = []
        self.procs: list[subprocess.Popen] = []
        fakes = self

        class FakeTrainer:
            def __init__(self, runs, resume=False, claim=None):
                self.runs, self.resume, self.proc = runs, resume, None

            def start(self):
                cmd = [sys.executable, "-c", FAKE_TRAINER, "--resume" if self.resume else "--new",
                       *[str(r.path) for r in self.runs]]
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, start_new_session=True)
                fakes.procs.append(self.proc)
                fakes.started.append(([r.run_id for r in self.runs], self.resume))
                for run in self.runs:
                    run.update_status(pid=self.proc.pid, pid_start=process_start_time(self.proc.pid))
                return self.proc.pid

            def poll(self):
                return self.proc.poll()

        self.cls = FakeTrainer


@pytest.fixture
def fake_trainers(monkeypatch):
    fakes = FakeTrainers()
    monkeypatch.setattr(local_launcher, "TrainerProcess", fakes.cls)
    yield fakes
    for proc in fakes.procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_folders(runs_dir: Path) -> list[Path]:
    """The run folders (the store may keep files of its own beside them, such as a hidden index)."""
    if not runs_dir.exists():
        return []
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def configs(runs_dir: Path) -> list[dict]:
    return [json.loads((p / "config.json").read_text()) for p in run_folders(runs_dir)]


# ----- the list, the details, the layout -----------------------------------------------------------------------
async def test_every_state_and_damaged_folder_is_listed_and_every_row_numbered(fixture_runs, tmp_path):
    app = DropoutConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 11, what="eleven rows")
        states = {i.run_id[-4:]: (i.state, i.problem) for i in app.watcher.ordered()}
        assert states["aaaa"][0] == "finished" and states["cccc"][0] == "failed"
        assert states["dddd"][0] == "lost"  # running on paper, trainer gone
        assert states["eeee"][0] == "cancelled" and "corrupt" in states["ffff"][1]
        assert "config.json missing" in states["gggg"][1]
        # every row has its number, past 9 too
        assert [str(table.get_cell_at((row, 0))).strip() for row in range(11)] == [str(n) for n in range(1, 12)]
        # move to the failed run: its error is on screen
        await pilot.press(position(app, "cccc"))
        await until(pilot, lambda: app.screen.selected.endswith("cccc"))
        assert "loss became nan" in app.query_one("#details").text.plain
        # the damaged folder reads "corrupt" in the list and in the details alike
        await go_to(pilot, app, "ffff")
        row = table.get_row_at(int(position(app, "ffff")) - 1)
        assert str(row[1]).strip() == "corrupt"
        state_line = app.query_one("#details").text.plain.splitlines()[1]
        assert state_line.startswith("corrupt") and "failed" not in state_line


async def test_details_show_the_newest_log_lines_and_final_and_best_accuracy_at_80x24(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"))
        details = app.query_one("#details")
        await until(pilot, lambda: "aaaa" in details.text.plain)
        shown = text_of(details)
        assert "run finished" in shown  # the newest line, not an old one
        assert "epoch: 1 " not in shown
        assert "train 95.0% (best 95.0@10)" in shown and "test  58.0% (best 60.0@8)" in shown
        assert "loss  0.2300" in shown
        assert len(shown.splitlines()) <= details.content_size.height


async def test_the_main_view_fits_80x24_and_uses_a_larger_terminal(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 11)
        assert app.screen.has_class("narrow")
        assert table.outer_size.width <= 38 and list(table.keys) == ["n", "state", "label", "epoch", "test"]
        columns = sum(table.column_width(k) for k in table.keys)
        assert columns <= table.content_size.width  # no column cut off
        loss, acc = app.query_one("#loss"), app.query_one("#acc")
        assert loss.size.width >= 42 and acc.size.width >= 42  # the charts get the rest, stacked
        assert loss.region.y < acc.region.y and loss.size.height >= 9
        assert app.query_one("#details").size.height >= 4
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: "started" in table.keys, what="the started column")
        assert not app.screen.has_class("narrow")
        assert loss.size.height >= 17 and app.query_one("#details").size.height >= 12
        await pilot.resize_terminal(160, 50)
        await until(pilot, lambda: loss.size.width >= 100, what="wider charts")


async def test_the_key_bar_leads_with_help_and_quit_and_shows_every_key_at_120_columns(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.screen.query_one(KeyBar)
        await until(pilot, lambda: bar.shown, what="the key bar")
        # what README says: at 80 columns the bar ends after R
        assert bar.shown == ["? Help", "q Quit", "n New", "space Mark", "/ Filter", "o Compare", "r Replay",
                             "c Cancel", "R Resume"]
        assert bar.region.bottom == 24 and len(" ".join(bar.shown)) <= 80
        await pilot.resize_terminal(120, 40)
        await until(pilot, lambda: len(bar.shown) > 9)
        assert bar.shown[9:] == ["e Export", "l Label", "v Evaluate", "t Charts", "L Log"]


async def test_toggle_between_runs_redraws_the_charts_with_whole_epoch_ticks(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"))
        loss = app.query_one("#loss", MetricChart)
        await until(pilot, lambda: loss.points == 10 and loss.ticks, what="the loss chart")
        assert all(isinstance(t, int) for t in loss.ticks) and loss.ticks[0] >= 1 and loss.ticks[-1] == 10
        await pilot.press("k")  # up: the next newer run
        await until(pilot, lambda: app.screen.selected.endswith("bbbb"))
        await pilot.press("j", "up")
        await until(pilot, lambda: app.screen.selected.endswith("bbbb"))
        await pilot.press("x")  # wall-time axis
        await until(pilot, lambda: app.screen.axis == "time")
        await pilot.press("s", "s")
        await until(pilot, lambda: app.screen.smoothing == 0.8)


# ----- compare, replay, export -------------------------------------------------------------------------------------
async def test_compare_names_runs_of_one_preset_apart_with_final_and_best_and_what_differs(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"), "space", position(app, "eeee"), "space")  # both preset A
        await until(pilot, lambda: len(app.screen.marked) == 2)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert screen.mode == "overlay"
        await until(pilot, lambda: screen.query_one("#overlay .loss", MetricChart).points == 14)  # 10 + 4, one chart
        infos = [app.watcher.runs[r].info for r in screen.run_ids]
        out = io.StringIO()
        Console(file=out, width=80, color_system=None).print(results_table(infos))
        lines = out.getvalue().splitlines()
        assert all(len(line) <= 80 for line in lines) and not any("…" in line for line in lines)
        # both are labelled A (lone runs): told apart by their id tails
        rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in ("A·aaaa", "A·eeee")}
        assert set(rows) == {"A·aaaa", "A·eeee"}
        assert "95.0@10" in rows["A·aaaa"] and "60.0@8" in rows["A·aaaa"] and " 58.0 " in rows["A·aaaa"]
        assert "p_fc: 0.5 | 0.3" in text_of(screen.query_one("#diff"))  # what differs, in launch order
        await pilot.press("o")
        await until(pilot, lambda: screen.mode == "side-by-side" and screen.query_one("#side").display)
        assert sorted(c.points for c in screen.query("#side .loss")) == [4, 10]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, CompareScreen))


async def test_replay_plays_pauses_steps_and_changes_speed(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"), "space", position(app, "bbbb"), "space", "r")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        screen = app.screen
        assert screen.last == 10
        # home pauses at epoch 1 wherever it is (it may have played to the end already); then 2 epochs/s
        await pilot.press("home", "minus", "minus")
        assert screen.paused and screen.epoch == 1 and screen.speed_index == 1
        await pilot.press("space")
        await until(pilot, lambda: screen.epoch >= 2, what="the replay to play")  # five frames an epoch from here
        await pilot.press("space")
        paused_at, frames = screen.epoch, screen.frames
        await until(pilot, lambda: screen.frames >= frames + 3, what="three frames")
        assert screen.paused and screen.epoch == paused_at < 10
        await pilot.press("right")
        assert screen.epoch == paused_at + 1
        await pilot.press("left", "left")
        assert screen.epoch == max(1, paused_at - 1)
        await pilot.press("minus")
        assert screen.speed_index == 0
        assert screen.query_one("#loss", MetricChart).points == 2 * screen.epoch
        await pilot.press("space", *["plus"] * 7)  # play on to the end at 200 epochs/s
        await until(pilot, lambda: screen.epoch == 10 and screen.paused, what="the end")


async def test_compare_and_replay_smooth_their_own_charts(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        main = app.screen
        await pilot.press(position(app, "aaaa"), "space", position(app, "bbbb"), "space", "o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.press("s", "s")
        assert app.screen.smoothing == 0.8 and main.smoothing == 0.0
        await pilot.press("S", "escape", "r")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("s")
        assert app.screen.smoothing == 0.5
        await pilot.press("n", "space", "e")  # main-view keys do nothing while replay is on top
        assert isinstance(app.screen, ReplayScreen) and len(main.marked) == 2


async def test_export_writes_the_run_files(fixture_runs, tmp_path):
    app = DropoutConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    folder = tmp_path / "ex" / "20260101-000001-A-aaaa"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"), "e")
        await until(pilot, lambda: (folder / "config.json").exists())
    assert (folder / "metrics.csv").read_text().count("\n") == 11
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 10


# ----- the new-run form ------------------------------------------------------------------------------------------
async def test_enter_right_after_n_launches_the_preset_shown(runs_dir, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        assert str(app.screen.query_one("#preset").value) == "quick"  # runs here without any download
        assert "enter" in text_of(app.screen.query_one("#hint")) and "space/down opens a list" in text_of(
            app.screen.query_one("#hint"))
        await pilot.press("enter")
        await until(pilot, lambda: fake_trainers.started, what="a launch")
        assert not isinstance(app.screen, NewRunScreen)
        assert [c["preset"] for c in configs(runs_dir)] == ["quick"] and configs(runs_dir)[0]["epochs"] == 40


async def test_the_form_checks_every_field_and_the_presets_launched_together_as_you_type(
        runs_dir, extra_presets, fake_trainers, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU visible, whatever this machine has
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app, f_p_fc="1.5", f_epochs="zero", f_device="cuda", together="B nosuch")
        errors = {name: text_of(form.query_one(f"#e-{name}")) for name in ("p_fc", "epochs", "device", "together")}
        assert "[0, 1]" in errors["p_fc"] and "not a whole number" in errors["epochs"]
        assert "no NVIDIA GPU" in errors["device"]
        assert "nosuch: unknown preset" in errors["together"] and "B: data_dir" in errors["together"]
        assert form.query_one("#launch").disabled
        await pilot.press("enter")  # refused, with every problem named
        assert isinstance(app.screen, NewRunScreen) and not fake_trainers.started
        # fixed: the main preset named again among "together" launches once
        form = await fill_form(pilot, form, f_p_fc="0.4", f_epochs="3", f_device="cpu", together="q2 quick q2")
        await until(pilot, lambda: not form.query_one("#launch").disabled)
        await pilot.press("enter")  # two runs: asked first
        await until(pilot, lambda: "Launch 2 runs?" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: fake_trainers.started)
    assert sorted(c["preset"] for c in configs(runs_dir)) == ["q2", "quick"]
    assert len(fake_trainers.started) == 1 and len(fake_trainers.started[0][0]) == 2  # fused: one trainer
    assert all(c["epochs"] == 3 and c["p_fc"] == 0.4 for c in configs(runs_dir))


async def test_the_form_names_tags_and_annotates_what_it_launches(runs_dir, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app, name="baseline", tags="a,b bad!tag")
        assert "bad!tag" in text_of(form.query_one("#e-tags")) and form.query_one("#launch").disabled
        form = await fill_form(pilot, form, tags="first keep", note="the seed's settings", seeds="2")
        await until(pilot, lambda: not form.query_one("#launch").disabled)
        await pilot.press("enter")  # two seeds: asked first
        await until(pilot, lambda: "Launch 2 runs?" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: fake_trainers.started)
    notes = sorted((json.loads((p / "notes.json").read_text()) for p in runs_dir.iterdir()
                    if (p / "notes.json").exists()), key=lambda n: n["name"])
    assert [n["name"] for n in notes] == ["baseline quick seed=0", "baseline quick seed=1"]
    assert all(n["tags"] == ["first", "keep"] and n["note"] == "the seed's settings" for n in notes)


async def test_broken_presets_are_shown_in_the_form_not_fatal(runs_dir, extra_presets, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app)
        # the list opens with space (and down); escape closes just the list
        select = form.query_one("#preset")
        await pilot.press("space")
        await until(pilot, lambda: select.expanded)
        await pilot.press("escape")
        await until(pilot, lambda: not select.expanded)
        assert isinstance(app.screen, NewRunScreen)
        for name, reason in (("broken", "not valid TOML"), ("wrongtype", "'ten' is not a whole number")):
            form.query_one("#preset").value = name
            await until(pilot, lambda: reason in text_of(form.query_one("#e-preset")), what=f"{name}'s error")
            assert form.query_one("#launch").disabled
            await pilot.press("enter")
            assert isinstance(app.screen, NewRunScreen)
        form.query_one("#preset").value = "imagenet"  # a value no list offers: shown, and flagged beside its field
        await until(pilot, lambda: "unknown dataset 'imagenet'" in text_of(form.query_one("#e-dataset")))
        form.query_one("#preset").value = "quick"
        await until(pilot, lambda: not form.query_one("#launch").disabled)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, NewRunScreen))
        assert app.is_running
    assert not fake_trainers.started and not configs(runs_dir)


# ----- launching, cancelling and resuming --------------------------------------------------------------------------
async def test_cancel_asks_first_then_resume_continues_the_run(runs_dir, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, app, f_epochs="100000")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.selected is not None and app.screen.selected in app.watcher.runs)
        run_id = app.screen.selected
        info = lambda: app.watcher.runs[run_id].info  # noqa: E731
        await until(pilot, lambda: info().state == "running" and info().epoch >= 2, what="training")
        await pilot.press("c")
        await until(pilot, lambda: "Cancel run" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: info().state == "cancelled", what="the cancel")
        stopped_at = info().epoch
        assert (runs_dir / run_id / "checkpoint.pt").exists()
        await pilot.press("R")
        await until(pilot, lambda: info().state == "running" and info().epoch > stopped_at, what="the resume")
        assert fake_trainers.started[-1] == ([run_id], True)
        await pilot.press("c")
        await until(pilot, lambda: "Cancel run" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: info().state == "cancelled")


async def test_launch_from_the_form_watch_it_train_and_reopen_the_form_as_launched(runs_dir, extra_presets):
    """The one test with the real trainer: two presets from the form, 2 epochs, trained fused to finished.

    While the trainer starts (seconds: it imports torch), the form reopens with the values last launched."""
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, app, f_epochs="2", f_p_fc="0.3", f_data_dir=str(runs_dir.parent), together="q2")
        await pilot.press("enter")
        await until(pilot, lambda: "Launch 2 runs?" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: len(app.watcher.runs) == 2, what="two run folders")
        run_id = app.screen.selected
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        form = app.screen
        await until(pilot, lambda: not form.query_one("#launch").disabled, what="the form's first check")
        assert str(form.query_one("#preset").value) == "quick" and form.query_one("#together").value == "q2"
        assert form.query_one("#f-epochs").value == "2" and form.query_one("#f-p_fc").value == "0.3"
        assert form.query_one("#f-data_dir").value == str(runs_dir.parent)
        form.query_one("#preset").value = "q2"  # picking another preset still fills in that preset's values
        await until(pilot, lambda: form.query_one("#f-placement").value == "all")
        assert form.query_one("#f-epochs").value == "40"
        await pilot.press("escape")
        await until(pilot, lambda: all(w.info.state == "finished" for w in app.watcher.runs.values()),
                    timeout=90, what="both runs to finish")
        acc = app.query_one("#acc", MetricChart)
        await until(pilot, lambda: acc.points == 4, what="two epochs of train and test accuracy")
        assert run_id in app.query_one("#details").text.plain
    assert sorted((c["preset"], c["epochs"], c["p_fc"]) for c in configs(runs_dir)) == [("q2", 2, 0.3),
                                                                                      ("quick", 2, 0.3)]
    groups = {tuple(json.loads((p / "status.json").read_text())["group"]) for p in run_folders(runs_dir)}
    assert len(groups) == 1  # fused: one trainer for the two


# ----- nothing kills the console -------------------------------------------------------------------------------------
def read_only(monkeypatch, folder: Path):
    """Writes under `folder` fail as on a read-only file system (the tests may run as root, where chmod is no bar)."""
    root = str(folder)

    def refuse(path):
        if str(os.fspath(path)).startswith(root):
            raise OSError(errno.EROFS, "Read-only file system", str(path))

    real_open, real_mkdir, real_replace = builtins.open, os.mkdir, os.replace

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and any(c in mode for c in "wax+"):
            refuse(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", lambda path, *a, **k: (refuse(path), real_mkdir(path, *a, **k))[1])
    monkeypatch.setattr(os, "replace", lambda src, dst, *a, **k: (refuse(dst), real_replace(src, dst, *a, **k))[1])


async def test_a_read_only_runs_folder_or_exports_folder_is_told_not_fatal(fixture_runs, tmp_path, monkeypatch,
                                                                          fake_trainers):
    app = RecordingConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    before = run_folders(fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.query_one(RunsTable).row_count == 11)
        read_only(monkeypatch, fixture_runs)
        read_only(monkeypatch, tmp_path / "ex")
        told = app.was_told
        await open_form(pilot, app, f_epochs="3")
        await pilot.press("enter")
        await until(pilot, lambda: told("not launched"), what="the launch refused")
        await pilot.press(position(app, "dddd"), "R")  # lost: resume, which must write its claim
        await until(pilot, lambda: told("resume of 20260101-000004-D-dddd failed"), what="the resume refused")
        await pilot.press("c")
        await until(pilot, lambda: "Cancel run" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: told("cancel of 20260101-000004-D-dddd failed"), what="the cancel refused")
        await pilot.press(position(app, "aaaa"), "e")
        await until(pilot, lambda: told("export of 20260101-000001-A-aaaa failed"), what="the export refused")
        assert app.is_running and not fake_trainers.started
    assert run_folders(fixture_runs) == before


async def test_a_trainer_that_cannot_start_fails_its_run_and_the_console_goes_on(runs_dir, monkeypatch):
    class Unstartable(local_launcher.TrainerProcess):
        def start(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_launcher, "TrainerProcess", Unstartable)
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, app, f_epochs="3")
        await pilot.press("enter")
        await until(pilot, lambda: app.was_told("did not start"))
        await until(pilot, lambda: [w.info.state for w in app.watcher.runs.values()] == ["failed"])
        assert app.is_running


async def test_a_run_with_wrongly_typed_files_is_shown_not_fatal(fixture_runs, tmp_path):
    odd = make_run_folder(fixture_runs, "20260102-000000-A-odd0",
                          {"state": "finished", "epoch": "3", "best_test_acc": "high", "group": "abc", "error": 7},
                          config={"preset": 5, "epochs": "ten", "placement": ["fc"], "p_fc": "x", "seed": None},
                          metrics='{"epoch": "1", "loss": "x"}\n{"epoch": 2, "loss": 1.0, "test_acc": "0.5"}\n[1]\n'
                                  '{"epoch": 3, "loss": 0.5, "train_acc": 0.4, "test_acc": 0.3, "elapsed": "late"}\n')
    (odd / "summary.json").write_text('{"best_test_acc": [1], "wall_seconds": "long"}')
    (odd / "train.log").write_bytes(b"\xff\xfe binary \x00 log\n")
    app = RecordingConsole(runs_dir=fixture_runs, exports_dir=tmp_path / "ex")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "odd0"))
        await until(pilot, lambda: app.screen.selected.endswith("odd0"))
        await until(pilot, lambda: "corrupt" in app.query_one("#details").text.plain)
        await until(pilot, lambda: app.was_told("odd0 is damaged: corrupt run folder: config.json: preset is 5"))
        await pilot.press("x", "s", "e", "space", position(app, "aaaa"), "space", "o")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        await pilot.press("escape", "r")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("escape", position(app, "odd0"), "c", "R")
        await until(pilot, lambda: app.was_told("nothing to cancel") and app.was_told("resume of"),
                    what=f"two warnings, not {app.told}")
        assert app.is_running


def test_a_crash_that_escapes_exits_non_zero_with_the_error_printed(fixture_runs):
    """Textual sets return_code 1 on an unhandled exception and prints it after leaving the screen; the CLI exits so."""
    driver = textwrap.dedent(f"""
        import sys
        from tui_dropout.console.app import DropoutConsole
        from tui_dropout.console.screens.main import MainScreen

        def boom(self):
            raise RuntimeError("boom from the test driver")

        async def press_help(pilot):
            await pilot.press("question_mark")

        MainScreen.action_help = boom
        run = DropoutConsole.run
        DropoutConsole.run = lambda self, **kw: run(self, headless=True, auto_pilot=press_help)
        sys.argv = ["dropout-tui", "--runs-dir", {str(fixture_runs)!r}]
        from tui_dropout.cli.main import run as cli
        cli()
    """)
    out = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, (out.returncode, out.stderr[-2000:])
    assert "boom from the test driver" in out.stderr


# ----- the dropout inspector ---------------------------------------------------------------------------------------
async def test_inspector_scrolls_redraws_only_the_mask_and_explains_bad_input(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, InspectorScreen))
        screen = app.screen
        out, scroll = screen.query_one("#out"), screen.query_one("#scroll")
        await until(pilot, lambda: screen.torch_ready and "zeroed" in text_of(out), timeout=60, what="torch")
        text = text_of(out)
        assert "1/(1-p) = 2.000" in text and "scaled by 2.000" in text
        # the default shape's output is taller than the screen: it scrolls, by keyboard too
        await until(pilot, lambda: scroll.max_scroll_y > 0)
        await pilot.press("pagedown")
        await until(pilot, lambda: scroll.scroll_y > 0, what="a scroll")
        # a new mask keeps the input
        await pilot.press("ctrl+o")  # randn input
        await until(pilot, lambda: "of randn" in text_of(out))
        before = text_of(out)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "mask #1" in text_of(out))
        after = text_of(out)
        part = lambda s, name: s.split(f"\n{name}\n")[1].split("\n\n")[0]  # noqa: E731
        assert part(before, "input") == part(after, "input") and part(before, "output") != part(after, "output")
        # an empty or bad p is explained, not a Python message
        screen.query_one("#p").value = ""
        await until(pilot, lambda: "p: enter a number in [0, 1]" in text_of(out))
        screen.query_one("#p").value = "0.5"
        screen.query_one("#shape").value = "2,a"
        await until(pilot, lambda: "shape: enter 1 to 5 positive whole sizes" in text_of(out))
        # Dropout2d on a 1-D input: torch 2.x warns, then refuses ("Feature dropout requires at least 2 dimensions")
        screen.query_one("#kind").value = "dropout2d"
        screen.query_one("#shape").value = "5"
        await until(pilot, lambda: "RuntimeError" in text_of(out))
        assert "at least 2 dimensions" in text_of(out)
        screen.query_one("#shape").value = "2,3,4,4"
        await until(pilot, lambda: "zeroed" in text_of(out))
        await pilot.press("ctrl+t")  # evaluation: identity
        await until(pilot, lambda: "zeroed: 0.0%" in text_of(out))


async def test_help_lists_the_keys(runs_dir):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: len(app.screen_stack) == 2)
        assert "replay" in text_of(app.screen.query_one("Static"))


def test_console_starts_without_importing_torch(fixture_runs):
    code = ("import sys, asyncio\nfrom tui_dropout.console.app import DropoutConsole\n"
            "async def main():\n"
            f"    app = DropoutConsole(runs_dir={str(fixture_runs)!r})\n"
            "    async with app.run_test(size=(80, 24)) as pilot:\n"
            "        await pilot.press('down', 'space', 'x')\n"
            "        assert app.screen.axis == 'time'\n"
            "asyncio.run(main())\n"
            "assert 'torch' not in sys.modules, 'torch imported'\nprint('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


async def test_light_theme_and_small_terminal_redraw_without_error(fixture_runs):
    app = DropoutConsole(runs_dir=fixture_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(position(app, "aaaa"))
        app.theme = "textual-light"
        await until(pilot, lambda: app.query_one("#loss", MetricChart).points == 10)
        await pilot.resize_terminal(160, 50)
        await until(pilot, lambda: not app.screen.has_class("narrow"))
