"""Every way a run starts again begins after its newest checkpoint and writes each epoch once: a run whose files
hold rows past its checkpoint (a trainer killed between its last checkpoint and its death) is started through
each path a user has (foreground and detached resume, the queue, a queue marker made by hand, the console) and
its metrics.jsonl and train.log end with every epoch exactly once."""
import json
import re
import subprocess
import sys

import pytest

from conftest import cli, metric_epochs, read_status, tiny_config, until, wait_for
from tui_dropout.store import RunDir, RunStore
from tui_dropout.store.queue import QueueFolder
from tui_dropout.trainer.engine import Trainer

FAKE_LOSS = 123.25  # the rows past the checkpoint carry it: none may be left once the run has started again
EPOCH_LINE = re.compile(r"\] epoch: (\d+) time: ")


def run_past_its_checkpoint(runs_dir, state: str = "failed") -> RunDir:
    """A real run trained 2 epochs (checkpoint at 2), then rows and log lines for epochs 3 and 4 appended as a
    trainer killed before its next checkpoint leaves them; 4 epochs in all."""
    run = RunStore(runs_dir).create(tiny_config(epochs=2, checkpoint_every=1, train_limit=128).to_dict())
    assert Trainer([run]).run() == ["finished"]
    config = run.read_config()
    run.write_config({**config, "epochs": 4})
    last = run.read_metrics()[-1]
    for epoch in (3, 4):
        run.append_metric({**last, "epoch": epoch, "loss": FAKE_LOSS})
        run.log(f"epoch: {epoch} time: 0.01 loss: {FAKE_LOSS:.4f} lr: 1.00e-02")
    run.update_status(state=state, pid=None, pid_start=None, epoch=4, best_test_acc=0.999, best_test_epoch=4)
    return run


def assert_each_epoch_once(run: RunDir) -> None:
    assert metric_epochs(run.path) == [1, 2, 3, 4]
    assert FAKE_LOSS not in [row["loss"] for row in run.read_metrics()]
    logged = [int(m.group(1)) for m in EPOCH_LINE.finditer((run.path / "train.log").read_text())]
    assert logged == [1, 2, 3, 4]
    status = run.read_status()
    assert status["state"] == "finished" and status["epoch"] == 4
    rows = [r for r in run.read_metrics() if "test_acc" in r]
    assert status["best_test_acc"] == max(r["test_acc"] for r in rows)  # the figures past the checkpoint went too


def test_the_start_point_cuts_rows_log_lines_and_figures_back_to_the_checkpoint(runs_dir):
    run = run_past_its_checkpoint(runs_dir)
    assert Trainer([run]).run() == ["finished"]  # a start that did not ask to resume resumes all the same
    assert_each_epoch_once(run)
    assert "resumed after epoch 2; 2 metric rows kept, 2 later ones dropped" in (run.path / "train.log").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("how", [[], ["--detach"], ["--backend", "queue", "--gpus", "cpu"]],
                         ids=["foreground", "local", "queue"])
def test_resume_through_each_backend_writes_each_epoch_once(runs_dir, how):
    run = run_past_its_checkpoint(runs_dir)
    out = cli("resume", run.run_id, *how, "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    assert wait_for(lambda: read_status(run.path).get("state") == "finished", 120), read_status(run.path)
    assert_each_epoch_once(run)


@pytest.mark.slow
def test_a_run_queued_by_hand_with_a_marker_resumes_from_its_checkpoint(runs_dir):
    run = run_past_its_checkpoint(runs_dir, state="queued")
    queue = QueueFolder(runs_dir)
    seq = queue.add(run.run_id)
    run.update_status(backend="queue", queue_seq=seq)
    holder = subprocess.Popen([sys.executable, "-m", "tui_dropout.launch.holder", str(runs_dir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: read_status(run.path).get("state") == "finished", 120), read_status(run.path)
    finally:
        holder.terminate()
        holder.wait(30)
    assert_each_epoch_once(run)


@pytest.mark.slow
async def test_the_console_resume_key_writes_each_epoch_once(runs_dir):
    from tui_dropout.console.app import DropoutConsole

    run = run_past_its_checkpoint(runs_dir)
    app = DropoutConsole(runs_dir=runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: run.run_id in app.watcher.runs, what="the run listed")
        app.screen.select(run.run_id)
        await pilot.press("R")
        await until(pilot, lambda: read_status(run.path).get("state") == "finished", timeout=120, what="the resume")
    for process in app.launcher.processes:
        process.wait(30)
    assert_each_epoch_once(run)
    assert json.loads((run.path / "status.json").read_text())["backend"] == "local"
