"""One launch path: the CLI's flags and the form's text make the same plan and the same launcher for every backend
(the plan objects compared); a group that cannot start fails alone, the queue's hand-off included; the form keeps
its last launch for the next console."""
import errno
import json
import os
import stat

import pytest

from cli_helpers import invoke
from conftest import run_paths, stand_in_holder, until, wait_for
from console_helpers import fake_trainers  # noqa: F401 (a fixture, used by name)
from console_helpers import FakeTrainers, RecordingConsole, configs, open_form, text_of
from console_helpers import fill_form
from tui_dropout.cli import train as cli_train
from tui_dropout.console import operations as console_operations
from tui_dropout.console import form_memory
from tui_dropout.console.screens.new_run import NewRunScreen
from tui_dropout.launch import LAUNCHERS, LaunchOptions, Launched, Plan, launcher_for, start
from tui_dropout.launch.foreground import ForegroundLauncher
from tui_dropout.launch.local import LocalLauncher
from tui_dropout.launch.queue import QueueLauncher
from tui_dropout.preflight import build_config
from tui_dropout.store import RunDir, RunStore
from tui_dropout.store.queue import QueueFolder


class Captured(Exception):
    """Raised by the stand-in for launch.start once the CLI has handed it a plan: nothing is made."""


# The same launch typed into the form (field ids) and given to `dropout-tui study` (flags), per backend.
COMMON_FORM = dict(f_epochs="3", f_device="cpu", f_p_fc="0.1..0.7:0.2", seeds="3", name="sweep", tags="a b",
                   f_hidden_units="64")
COMMON_FLAGS = ["--epochs", "3", "--device", "cpu", "--grid", "p_fc=0.1..0.7:0.2", "--seeds", "3", "--name",
                "sweep", "--tag", "a", "--tag", "b", "--set", "hidden_units=64"]
SAME_LAUNCH = {
    "local": (dict(backend="local", max_fused="4"), ["--detach", "--max-fused", "4"], LocalLauncher),
    "foreground": (dict(backend="local"), [], ForegroundLauncher),
    "queue": (dict(backend="queue", gpus="cpu", per_gpu="2"), ["--backend", "queue", "--gpus", "cpu", "--per-gpu",
                                                               "2"], QueueLauncher),
    "slurm": (dict(backend="slurm"), ["--backend", "slurm"], None),
}


@pytest.fixture
def slurm_commands(tmp_path, monkeypatch):
    """sbatch and sinfo on PATH, so the Slurm launcher can be built here (nothing is submitted: start is a
    stand-in in these tests)."""
    pytest.importorskip("submitit")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sbatch", "sinfo"):
        script = bin_dir / name
        script.write_text("#!/bin/sh\necho 'not a cluster' >&2\nexit 1\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("backend", list(SAME_LAUNCH))
async def test_the_form_and_the_cli_make_the_same_plan_and_launcher(backend, runs_dir, request, monkeypatch):
    form_fields, flags, kind = SAME_LAUNCH[backend]
    if backend == "slurm":
        request.getfixturevalue("slurm_commands")
    handed = []

    def cli_start(plan, launcher):
        handed.append((plan, launcher))
        raise Captured

    monkeypatch.setattr(cli_train, "start", cli_start)
    result = invoke("study", "quick", *COMMON_FLAGS, *flags, "--runs-dir", runs_dir)
    assert isinstance(result.exception, Captured), result.output
    ((cli_plan, cli_launcher),) = handed

    def form_start(plan, launcher):
        handed.append((plan, launcher))
        return Launched()

    monkeypatch.setattr(console_operations, "start", form_start)
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await open_form(pilot, app, **COMMON_FORM, **form_fields)
        await until(pilot, lambda: not form.query_one("#launch").disabled, what=f"a form with no problem: "
                    f"{form.errors}")
        await pilot.press("enter")
        await until(pilot, lambda: "Launch 12 runs?" in text_of(app.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: len(handed) == 2, what="the plan handed to start")
    form_plan, form_launcher = handed[1]

    assert form_plan == cli_plan  # presets' configs, grid, seeds, launch options, names and tags
    assert {c.hidden_units for c in cli_plan.configs()} == {64}  # the MLP's fields are the form's too
    assert cli_plan.count == 12 and cli_plan.notes == {"name": "sweep", "tags": ["a", "b"], "note": ""}
    assert [c.label for c in form_plan.configs()] == [c.label for c in cli_plan.configs()]
    assert type(cli_launcher) is (kind or type(form_launcher))
    if backend == "foreground":  # the same plan, trained in the CLI's own process; the console starts it detached
        assert isinstance(form_launcher, LocalLauncher)
    else:
        assert type(form_launcher) is type(cli_launcher)
    if backend in ("queue", "slurm"):
        assert form_launcher.settings == cli_launcher.settings
    if backend == "queue":
        assert cli_launcher.settings.max_fused == 1  # fusing gains nothing on a CPU slot: one run a slot, both ways
        assert "fused a slot" not in form.reading.describe()


def test_every_launcher_in_the_table_is_compared_above():
    assert set(SAME_LAUNCH) == set(LAUNCHERS)  # a new launcher gets its row in SAME_LAUNCH


def test_a_detached_group_that_cannot_start_fails_alone_and_the_cli_says_which(runs_dir, monkeypatch):
    fakes = FakeTrainers()
    calls = []

    class SecondFails(fakes.cls):
        def start(self):
            calls.append(1)
            if len(calls) == 2:
                raise OSError("no more processes")
            return super().start()

    monkeypatch.setattr("tui_dropout.launch.local.TrainerProcess", SecondFails)
    try:
        result = invoke("study", "quick", "--epochs", "2", "--device", "cpu", "--grid", "batch_size=16,32,64",
                        "--detach", "--runs-dir", runs_dir)
        assert wait_for(lambda: all(p.poll() is not None for p in fakes.procs), 30)
    finally:
        for proc in fakes.procs:
            proc.kill()
            proc.wait()
    assert result.exit_code == 1, result.output
    failed = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(failed) == 1 and "did not start: no more processes" in failed[0]
    states = sorted(json.loads((p / "status.json").read_text())["state"] for p in run_paths(runs_dir))
    assert states == ["failed", "finished", "finished"] and len(result.stdout.split()) == 2


def test_a_runs_folder_that_fills_up_while_the_folders_are_made_is_one_line_in_the_cli(runs_dir, monkeypatch):
    real = RunStore.create
    made = []

    def create(store, config, **kwargs):
        if made:
            raise OSError(errno.ENOSPC, "No space left on device")
        made.append(real(store, config, **kwargs))
        return made[-1]

    monkeypatch.setattr(RunStore, "create", create)
    result = invoke("study", "quick", "--epochs", "2", "--device", "cpu", "--seeds", "2", "--no-fuse", "--detach",
                    "--runs-dir", runs_dir)
    assert result.exit_code == 1 and result.stderr.strip().splitlines() == [
        f"error: runs_dir: {runs_dir}: No space left on device"], result.output
    assert made[0].read_status()["state"] == "failed"  # what was made says so, never 'queued'


def test_a_queue_hand_off_that_fails_midway_queues_the_rest_one_by_one(runs_dir, monkeypatch):
    holder = stand_in_holder(runs_dir)  # takes nothing from the queue: the runs stay waiting
    try:
        real = RunDir.enqueue
        refused = []

        def enqueue(run, queue, record, **fields):
            if run.read_config()["batch_size"] == 32:
                refused.append(run.run_id)
                raise OSError("disk quota exceeded")
            return real(run, queue, record, **fields)

        monkeypatch.setattr(RunDir, "enqueue", enqueue)
        options = LaunchOptions("queue", gpus="cpu")
        plan = Plan(RunStore(runs_dir), [build_config("quick", {"epochs": 2, "device": "cpu"})],
                    {"batch_size": [16, 32, 64]}, None, options)
        launched = start(plan, launcher_for(options))
    finally:
        holder.kill()
        holder.wait()
    assert len(refused) == 2  # once in the hand-off of the whole study, once on its own
    assert [run.run_id for run in launched.started] == [r.run_id for r in launched.runs if r.run_id != refused[0]]
    assert len(launched.failed) == 1 and "disk quota exceeded" in launched.failures()[0]
    assert [run_id for _, run_id in QueueFolder(runs_dir).waiting()] == [r.run_id for r in launched.started]
    status = RunDir(runs_dir / refused[0]).read_status()
    assert status["state"] == "failed" and "did not start: disk quota exceeded" in status["error"]


async def test_the_form_reopens_with_its_last_launch_in_a_new_console(runs_dir, fake_trainers, _config_home):
    first = RecordingConsole(runs_dir=runs_dir)
    async with first.run_test(size=(100, 30)) as pilot:
        await open_form(pilot, first, f_epochs="3", f_p_fc="0.3", f_device="cpu", seeds="2", max_fused="4",
                        name="one-off", tags="keep")
        await pilot.press("enter")
        await until(pilot, lambda: "Launch 2 runs?" in text_of(first.screen.query_one("Static")))
        await pilot.press("y")
        await until(pilot, lambda: fake_trainers.started, what="the launch")
    assert (_config_home / "dropout-tui" / "form.json").is_file()

    second = RecordingConsole(runs_dir=runs_dir)  # quit and started again, on the same folder
    async with second.run_test(size=(100, 30)) as pilot:
        await pilot.press("n")
        await until(pilot, lambda: isinstance(second.screen, NewRunScreen), what="the form")
        form = second.screen
        assert str(form.query_one("#preset").value) == "quick"
        found = {name: str(form.query_one(f"#{name}").value) for name in
                 ("f-epochs", "f-p_fc", "f-device", "seeds", "max_fused", "tags", "name", "backend")}
        assert found == {"f-epochs": "3", "f-p_fc": "0.3", "f-device": "cpu", "seeds": "2", "max_fused": "4",
                         "tags": "keep", "name": "", "backend": "local"}  # a name belongs to one launch
        await until(pilot, lambda: not form.query_one("#launch").disabled, what="the form's first check")
        assert form.reading.describe() == "2 runs: 2 seeds, study of quick, now, 1 trainer process (fused)"
    assert len(configs(runs_dir)) == 2


async def test_a_damaged_form_file_opens_the_form_as_new_and_the_next_launch_rewrites_it(runs_dir, fake_trainers,
                                                                                        _config_home):
    path = _config_home / "dropout-tui" / "form.json"
    path.parent.mkdir(parents=True)
    # only what is the form's and text is taken from the file; a wrong type or a key it has no field for is not
    path.write_text(json.dumps({"f_epochs": "3", "epochs": ["x"], "seeds": "9", "lr": 0.5}))
    assert form_memory.load() == {"seeds": "9"}
    path.write_text(json.dumps(["a list"]))
    assert form_memory.load() == {}
    path.write_text("{not json")
    app = RecordingConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        form = await open_form(pilot, app)
        assert form.query_one("#f-epochs").value == "40" and form.query_one("#seeds").value == ""  # quick's, as new
        form = await fill_form(pilot, form, f_epochs="2", f_device="cpu")
        await until(pilot, lambda: not form.query_one("#launch").disabled)
        await pilot.press("enter")
        await until(pilot, lambda: fake_trainers.started, what="the launch")
    assert json.loads(path.read_text())["epochs"] == "2"
