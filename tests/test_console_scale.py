"""The console at study scale: grids and seeds from the form, the queue backend, labels and queue places in the list,
seed groups in compare, the GPU panel (through a fake NVML). Every wait is for a condition (`until`)."""
import io
import json
import os
import socket
import sys
import time

import pytest
from rich.console import Console

from conftest import fake_nvml_module, make_run_folder, stand_in_holder
from console_helpers import fake_trainers  # noqa: F401 (a fixture, used by name)
from console_helpers import RecordingConsole, configs, open_form, text_of, until
from tui_dropout import gpustats
from tui_dropout.console.app import DropoutConsole
from tui_dropout.console.screens.compare import CompareScreen
from tui_dropout.console.screens.new_run import NewRunScreen
from tui_dropout.console.widgets.charts import MetricChart
from tui_dropout.console.widgets.gpu_panel import GpuPanel
from tui_dropout.console.widgets.runs_table import RunsTable
from tui_dropout.launch.plan import expand, parse_grid, parse_seeds
from tui_dropout.preflight import build_config, preflight
from tui_dropout.store import RunStore, process_start_time
from tui_dropout.store.queue import QueueFolder


def plan_line(form) -> str:
    return text_of(form.query_one("#plan"))


def reason(form, name) -> str:
    return text_of(form.query_one(f"#e-{name}"))


def question(app) -> str:
    return text_of(app.screen.query_one("Static"))


def shown(widget, width: int = 80) -> str:
    """A Static's content as plain text, rendered `width` wide (Rich tables and groups too)."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(widget.content)
    return out.getvalue()


def cells(app, run_id: str, key: str) -> str:
    return str(app.query_one(RunsTable).get_cell(run_id, key)).strip()


# ----- the form: grid, seeds, backend -------------------------------------------------------------------------------
async def test_a_grid_and_seeds_say_how_many_runs_ask_first_and_make_the_clis_runs(runs_dir, fake_trainers):
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app, f_epochs="3", f_device="cpu", f_p_fc="0.1..0.7:0.2", seeds="3")
        assert plan_line(form) == "12 runs: 4 p_fc x 3 seeds, study of quick, now, 2 trainer processes (fused)"
        await pilot.press("enter")
        await until(pilot, lambda: "Launch 12 runs?" in question(app), what="the confirmation")
        assert "4 p_fc x 3 seeds" in question(app)
        await pilot.press("n")  # not now: back in the form, nothing made
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        assert not configs(runs_dir)
        await pilot.press("enter")
        await until(pilot, lambda: "Launch 12 runs?" in question(app))
        await pilot.press("y")
        await until(pilot, lambda: len(fake_trainers.started) == 2, what="two fused trainers")
        await until(pilot, lambda: app.query_one(RunsTable).row_count == 12, what="twelve rows")
        made = configs(runs_dir)
        # the runs `dropout-tui study quick --epochs 3 --device cpu --grid p_fc=0.1..0.7:0.2 --seeds 3` makes
        base = preflight(build_config("quick", {"epochs": 3, "device": "cpu"}))
        cli = expand([base], parse_grid(["p_fc=0.1..0.7:0.2"]), parse_seeds("3", base.seed), study=made[0]["study"])
        by_label = {c["label"]: c for c in made}
        assert sorted(by_label) == sorted(c.label for c in cli) and len(by_label) == 12
        for cfg in cli:
            assert by_label[cfg.label] == {**cfg.to_dict(), "label": cfg.label}
        assert "quick p_fc=0.3 seed=2" in by_label and len({c["study"] for c in made}) == 1
        assert sorted(len(ids) for ids, _ in fake_trainers.started) == [4, 8]  # max fused 8
        # the list names each run by its label; at 80 columns one too long for it gives up its preset first
        assert cells(app, app.screen.selected, "label") == "…p_fc=0.7 seed=2"
        assert "quick p_fc=0.7 seed=2" in app.query_one("#details").text.plain


async def test_bad_grids_seeds_and_queue_settings_are_named_as_you_type(runs_dir, fake_trainers, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_form(pilot, app, f_p_fc="0.1,1.5", f_lr="0.1..0.01:0.01", f_seed="1,2", seeds="0,0")
        assert reason(form, "p_fc") == "1.5: must be in [0, 1], got 1.5"
        assert "LOW <= HIGH" in reason(form, "lr")
        assert "several go in seeds" in reason(form, "seed") and "repeats a value" in reason(form, "seeds")
        assert "fix the 4 fields in red first" in plan_line(form) and form.query_one("#launch").disabled
        await pilot.press("enter")  # refused, every problem named; no confirmation, nothing made
        await until(pilot, lambda: isinstance(app.screen, NewRunScreen))
        assert not configs(runs_dir)
        # too many runs: the plan line says so
        form = await fill(pilot, form, f_p_fc="0.1,0.2,0.3", f_lr="0.001..1:0.001", f_seed="0", seeds="2")
        assert "this would launch 6000 runs (at most 5000)" in plan_line(form)
        # the queue's settings appear with the backend, and are checked too
        assert not form.query_one("#row-gpus").display
        form = await fill(pilot, form, f_p_fc="0.5", f_lr="0.01", seeds="", backend="queue", gpus="0,x",
                          per_gpu="two", max_fused="99")
        await until(pilot, lambda: form.query_one("#row-gpus").display and form.query_one("#row-per_gpu").display)
        assert "expected auto, cpu or GPU indices" in reason(form, "gpus")
        assert "'two' is not a whole number" in reason(form, "per_gpu")
        assert "must be 1 to 64, got 99" in reason(form, "max_fused")
        form = await fill(pilot, form, gpus="cpu", per_gpu="0", max_fused="8")
        assert "must be 1 to 64, got 0" in reason(form, "per_gpu")
        form = await fill(pilot, form, per_gpu="2", f_device="cuda:1")
        assert "use auto or cuda" in reason(form, "device")
        form = await fill(pilot, form, f_device="cpu")
        assert plan_line(form) == "1 run of quick, on the queue: 2 slots on the CPU"
        await pilot.press("escape")
    assert not fake_trainers.started


async def fill(pilot, form, **fields):
    """Set fields by id (f_p_fc=..., seeds=..., backend=...) and wait until the form has checked them."""
    for name, value in fields.items():
        widget = form.query_one(f"#{name.replace('_', '-', 1) if name.startswith('f_') else name}")
        widget.value = value
    await pilot.pause()
    form.check()
    return form


@pytest.fixture
def held_queue(runs_dir):
    """A queue whose holder is a stand-in that only sleeps (a holder's command line for this runs folder, and the
    holder lock): runs wait in it (no trainer starts) and read `queued #N`."""
    stand_in = stand_in_holder(runs_dir)
    queue = QueueFolder(runs_dir)
    yield queue
    stand_in.kill()
    stand_in.wait()


async def test_the_queue_backend_queues_every_run_shows_places_and_cancel_leaves_the_queue(runs_dir, held_queue,
                                                                                          monkeypatch):
    two_gpus = [{"name": "NVIDIA H100 80GB HBM3"}, {"name": "NVIDIA H100 80GB HBM3"}]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml_module(two_gpus))  # GPU 0 and 1 exist, to NVML
    monkeypatch.setitem(gpustats._state, "ready", None)  # NVML is looked for afresh, and forgotten after
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        form = await open_form(pilot, app, f_epochs="3", f_device="cpu", f_p_fc="0.2,0.4", seeds="3")
        await fill(pilot, form, backend="queue", gpus="0,1", per_gpu="1")
        assert plan_line(form) == ("6 runs: 2 p_fc x 3 seeds, study of quick, on the queue: 2 slots on GPU 0,1, "
                                   "up to 8 runs fused a slot")
        await pilot.press("enter")
        await until(pilot, lambda: "Launch 6 runs?" in question(app))
        await pilot.press("y")
        await until(pilot, lambda: len(held_queue.waiting()) == 6, what="six runs in the queue")
        assert held_queue.holder()["gpus"] == ["0", "1"] and held_queue.holder()["per_gpu"] == 1
        table = app.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 6)
        infos = app.watcher.ordered()
        places = {i.label: i.state_text for i in infos}
        assert places["quick p_fc=0.2 seed=0"] == "queued #1" and places["quick p_fc=0.4 seed=2"] == "queued #6"
        await until(pilot, lambda: cells(app, infos[0].run_id, "state") == "queued #6")
        assert cells(app, infos[0].run_id, "label") == "quick p_fc=0.4 seed=2"
        assert app.was_told("launched 6 runs: 2 p_fc x 3 seeds")
        # cancel the third in line: it leaves the queue and the ones behind it move up
        third = next(i.run_id for i in infos if i.state_text == "queued #3")
        await pilot.press(str([i.run_id for i in infos].index(third) + 1), "c")
        await until(pilot, lambda: "waiting for the queue" in question(app), what="the cancel question")
        await pilot.press("y")
        await until(pilot, lambda: app.watcher.runs[third].info.state == "cancelled", what="the cancel")
        assert len(held_queue.waiting()) == 5
        await until(pilot, lambda: cells(app, infos[0].run_id, "state") == "queued #5", what="the places to move")
        assert cells(app, third, "state") == "cancelled"


async def test_one_group_that_cannot_start_leaves_the_others_running(runs_dir, fake_trainers, monkeypatch):
    from tui_dropout.launch import local as local_launcher

    real = fake_trainers.cls
    calls = []

    class SecondFails(real):
        def start(self):
            calls.append(1)
            if len(calls) == 2:
                raise OSError("no more processes")
            return super().start()

    monkeypatch.setattr(local_launcher, "TrainerProcess", SecondFails)
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        # batch sizes keep the runs apart: three trainer processes
        await open_form(pilot, app, f_epochs="3", f_device="cpu", f_batch_size="16,32,64")
        await pilot.press("enter")
        await until(pilot, lambda: "Launch 3 runs?" in question(app))
        await pilot.press("y")
        await until(pilot, lambda: app.was_told("did not start: no more processes"), what="the failure told")
        states = lambda: sorted(w.info.state for w in app.watcher.runs.values())  # noqa: E731
        await until(pilot, lambda: states() == ["failed", "finished", "finished"], what=f"two runs, not {states()}")
        assert app.was_told("launched 2 of 3 runs: 3 batch_size, study of quick")
        assert app.is_running


# ----- compare: seed groups ----------------------------------------------------------------------------------------
def study_folders(runs_dir):
    """Two seed groups of three (p_fc 0.1 and 0.5) and a lone run of another preset, all finished."""
    t = time.time()
    finals = {0.1: (0.50, 0.60, 0.70), 0.5: (0.40, 0.42, 0.44)}
    n = 0
    for p, accs in finals.items():
        for seed, a in enumerate(accs):
            n += 1
            cfg = {"preset": "D", "epochs": 4, "placement": "all", "p_fc": p, "p_conv": 0.5, "dataset": "digits",
                   "seed": seed, "study": "20260101-000000-ab12", "label": f"D p_fc={p:g} seed={seed}"}
            rows = "".join(json.dumps({"epoch": e, "loss": 2.0 / e + seed * 0.1, "lr": 0.01, "seconds": 0.5,
                                       "elapsed": 0.5 * e, "train_acc": a * e / 4, "test_acc": a * e / 5}) + "\n"
                           for e in range(1, 5))
            make_run_folder(runs_dir, f"20260101-00000{n}-D-s{n:03d}",
                            {"state": "finished", "epoch": 4, "epochs": 4, "created": t - 100 + n,
                             "final_test_acc": a * 0.8, "best_test_acc": a * 0.8, "final_train_acc": a,
                             "best_train_acc": a, "final_loss": 0.5 + seed * 0.1}, config=cfg, metrics=rows)
    make_run_folder(runs_dir, "20260101-000009-A-lone", {"state": "finished", "epoch": 4, "epochs": 4,
                                                         "created": t - 50, "final_test_acc": 0.3},
                    config={"preset": "A", "epochs": 4, "placement": "none", "dataset": "digits"},
                    metrics="".join(json.dumps({"epoch": e, "loss": 1.0, "lr": 0.01, "seconds": 0.5,
                                                "train_acc": 0.3, "test_acc": 0.3}) + "\n" for e in range(1, 5)))
    return runs_dir


async def test_compare_draws_each_seed_group_as_its_mean_and_spread_with_a_table(runs_dir):
    study_folders(runs_dir)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(RunsTable)
        await until(pilot, lambda: table.row_count == 7)
        await pilot.press("2", "m")  # a run of the study: m marks all six
        await until(pilot, lambda: len(app.screen.marked) == 6)
        await pilot.press("1", "space", "o")  # and the lone run
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert [e.name for e in screen.entries] == ["D p_fc=0.1 n=3", "D p_fc=0.5 n=3", "A"]
        loss = screen.query_one("#overlay .loss", MetricChart)
        await until(pilot, lambda: loss.points == 2 * 3 * 4 + 4, what="two groups of three lines, and a run")
        groups = shown(screen.query_one("#groups"))
        # final test% over seeds: 0.1 -> 40, 48, 56 (mean 48.0, std 8.0); 0.5 -> 32, 33.6, 35.2 (33.6±1.6)
        line = next(row for row in groups.splitlines() if row.startswith("D p_fc=0.1"))
        assert "48.0±8.0" in line and " 3 " in line and "0.6000±0.1000" in line
        assert "33.6±1.6" in next(row for row in groups.splitlines() if row.startswith("D p_fc=0.5"))
        assert any(row.split()[:2] == ["A", "1"] and "±" not in row for row in groups.splitlines())  # a lone run
        diff = shown(screen.query_one("#diff"))
        assert "p_fc: 0.1 | 0.5" in diff and "seeds: 0 1 2" in diff
        await pilot.press("o")  # side by side: one pane per group
        await until(pilot, lambda: screen.query_one("#side").display)
        assert sum(p.display for p in screen.query("#side .pane")) == 3
        await pilot.press("g")  # every run on its own, as before
        await until(pilot, lambda: len(screen.entries) == 7)
        assert screen.entries[0].name == "D p_fc=0.1 seed=0"
        assert sum(p.display for p in screen.query("#side .pane")) == 7


def test_a_groups_mean_and_spread_series_follow_the_runs_that_reached_each_epoch():
    from tui_dropout.console.group_series import band
    from tui_dropout.series import RunSeries

    a, b = RunSeries(), RunSeries()
    a.add([{"epoch": e, "loss": 1.0, "elapsed": e, "test_acc": 0.5} for e in (1, 2, 3)])
    b.add([{"epoch": e, "loss": 3.0, "elapsed": e + 1, "test_acc": 0.7} for e in (1, 2)])  # still training
    g = band([a, b])
    assert g.mean.epochs == [1, 2, 3] and g.mean.loss == [2.0, 2.0, 1.0]
    assert g.low.loss[0] == pytest.approx(2.0 - 2 ** 0.5) and g.high.loss[-1] == 1.0  # one run: no spread
    assert g.mean.test_acc[0] == pytest.approx(60.0) and g.mean.elapsed[0] == 1.5 and g.n == 2


# ----- the GPU panel ----------------------------------------------------------------------------------------------
@pytest.fixture
def fake_nvml(monkeypatch):
    """A fake `pynvml` (the idea of tests/test_gpustats.py): two GPUs; this test process on GPU 0."""
    devices = [{"name": b"NVIDIA H100 80GB HBM3", "util": 87, "used": 30 * 2**30, "total": 80 * 2**30,
                "pids": [os.getpid()]},
               {"name": "NVIDIA H100 80GB HBM3", "util": 0, "used": 1 * 2**30, "total": 80 * 2**30, "pids": []}]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml_module(devices))
    gpustats.reset()
    yield devices
    gpustats.reset()


def running_here(runs_dir, name, label, **status):
    """A run whose trainer is this test process (alive, on this host): what NVML's pids are matched to."""
    me = {"pid": os.getpid(), "pid_start": process_start_time(os.getpid()), "host": socket.gethostname()}
    return make_run_folder(runs_dir, name, {"state": "running", "epoch": 1, "epochs": 9, **me, **status},
                           config={"preset": "D", "epochs": 9, "placement": "all", "dataset": "digits",
                                   "study": "s", "label": label})


async def test_the_gpu_panel_shows_each_gpu_and_the_runs_it_holds(runs_dir, fake_nvml):
    running_here(runs_dir, "20260101-000001-D-gpu0", "D p_fc=0.3 seed=1")
    make_run_folder(runs_dir, "20260101-000002-A-done", {"state": "finished", "pid": os.getpid(),
                                                         "host": socket.gethostname()})
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(GpuPanel)
        await until(pilot, lambda: panel.display and panel.size.height == 2, what="the panel")
        lines = panel.lines(78)
        assert lines[0] == "GPU0  87% 30.0/80.0 GiB  D p_fc=0.3 seed=1"
        assert lines[1] == "GPU1   0% 1.0/80.0 GiB  idle"  # the finished run's old pid is no trainer
        assert panel.region.bottom == app.query_one("#statusline").region.y  # just above the status line
        fake_nvml[1]["util"] = 55  # read again within the refresh period
        await until(pilot, lambda: panel.lines(78)[1].startswith("GPU1  55%"), timeout=10, what="a new reading")


async def test_without_nvml_the_gpu_panel_takes_no_room(runs_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` fails: the extra is not installed
    gpustats.reset()
    app = DropoutConsole(runs_dir=runs_dir)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: not app.query_one(GpuPanel).reading and app.query_one("#statusline").region.y > 0)
            panel = app.query_one(GpuPanel)
            assert not panel.display and panel.region.height == 0
            assert app.query_one("#statusline").region.y == 22  # right above the key bar, as before
    finally:
        gpustats.reset()


async def test_many_gpus_share_the_rows_a_small_terminal_has(runs_dir, fake_nvml):
    for i in range(6):
        fake_nvml.append({**fake_nvml[1], "pids": []})
    running_here(runs_dir, "20260101-000001-D-gpu0", "D p_fc=0.3 seed=1")
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(GpuPanel)
        await until(pilot, lambda: panel.display and panel.stats and len(panel.stats) == 8)
        assert panel.size.height == 2
        lines = panel.lines(78)
        assert len(lines) == 2 and all(len(line) <= 78 for line in lines)
        assert lines[0].startswith("GPU0 87% 30.0/80.0G 1 run(s) │ GPU1 0%")


def test_runs_are_matched_to_gpus_by_pid_on_this_host_else_by_their_queue_slot(runs_dir):
    from tui_dropout.console.widgets.gpu_panel import runs_on_gpus

    running_here(runs_dir, "20260101-000001-D-pid0", "by pid")
    running_here(runs_dir, "20260101-000002-D-slot", "by slot", gpu=1, backend="queue", slot="gpu1#0")
    running_here(runs_dir, "20260101-000003-D-away", "elsewhere", host="another-host")
    infos = RunStore(runs_dir).list()
    stats = [gpustats.GpuStat(0, "x", 1, 1.0, 2.0, [os.getpid()]), gpustats.GpuStat(1, "x", 1, 1.0, 2.0, [])]
    placed = {gpu: sorted(i.label for i in runs) for gpu, runs in runs_on_gpus(stats, infos).items()}
    # the slot run shares this process's pid, which NVML lists on GPU 0: the pid wins
    assert placed == {0: ["by pid", "by slot"], 1: []}
    stats[0].pids = []
    placed = {gpu: sorted(i.label for i in runs) for gpu, runs in runs_on_gpus(stats, infos).items()}
    assert placed == {0: [], 1: ["by slot"]}
