"""Resume as users meet it: live figures, wall time across sessions, no checkpoint yet, a checkpoint that must not run code."""
import json
import os
import threading

import pytest
import torch

from conftest import cli, tiny_config
from tui_dropout.launch import resume_group
from tui_dropout.store import RunStore
from tui_dropout.trainer.engine import Trainer


def _new(runs_dir, **overrides):
    return RunStore(runs_dir).create(tiny_config(**overrides).to_dict())


def _strict_json(text: str):
    def refuse(token):
        raise ValueError(f"{token} is not JSON")
    return json.loads(text, parse_constant=refuse)


def _stop_after(epoch: int):
    stop = threading.Event()

    def progress(event):
        if event["kind"] == "epoch" and event["epoch"] >= epoch:
            stop.set()
    return stop, progress


def test_a_resumed_run_shows_live_figures_and_its_wall_time_adds_up(runs_dir):
    run = _new(runs_dir, epochs=6, checkpoint_every=1)
    stop, progress = _stop_after(3)
    assert Trainer([run], stop=stop, progress=progress).run() == ["cancelled"]
    first = run.read_summary()
    # an earlier stop's summary with figures the resumed run no longer has must not be shown while it runs
    run.write_summary({**first, "best_test_acc": 0.4323, "state": "cancelled", "epochs_done": 28})
    seen = []

    def watch(event):
        if event["kind"] == "epoch":
            seen.append(run.info())

    assert Trainer([run], resume=True, progress=watch).run() == ["finished"]
    live = seen[0]
    assert live.state == "running" and live.epoch == 4
    assert live.best_test_acc == max(r["test_acc"] for r in run.read_metrics()[:4])  # the live status, not 0.4323
    rows = run.read_metrics()
    elapsed = [r["elapsed"] for r in rows]
    assert elapsed == sorted(elapsed) and elapsed[3] >= elapsed[2]  # the clock goes on across the resume
    summary = run.read_summary()
    assert summary["wall_seconds"] >= summary["train_seconds"] > 0
    assert summary["wall_seconds"] >= elapsed[-1]


def test_final_and_best_accuracy_with_its_epoch_land_in_status_and_summary(runs_dir):
    run = _new(runs_dir, epochs=4, eval_every=2)
    Trainer([run]).run()
    rows = [r for r in run.read_metrics() if "test_acc" in r]
    best = max(rows, key=lambda r: r["test_acc"])
    for data in (run.read_status(), run.read_summary()):
        assert data["final_train_acc"] == rows[-1]["train_acc"] and data["final_test_acc"] == rows[-1]["test_acc"]
        assert data["best_test_acc"] == best["test_acc"] and data["best_test_epoch"] == best["epoch"]
    info = run.info()
    assert (info.final_test_acc, info.best_test_epoch) == (rows[-1]["test_acc"], best["epoch"])


def test_a_run_failed_by_a_nan_loss_counts_its_epoch_and_writes_plain_json(runs_dir):
    run = _new(runs_dir, lr=1e6, momentum=0.0, epochs=3)
    assert Trainer([run]).run() == ["failed"]
    rows = [_strict_json(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    status = _strict_json((run.path / "status.json").read_text())
    summary = _strict_json((run.path / "summary.json").read_text())
    assert status["epoch"] == summary["epochs_done"] == len(rows) >= 1
    assert rows[-1]["loss"] is None and "loss became" in status["error"]
    assert run.info().epoch == len(rows)


@pytest.mark.slow  # long: the slow suite (.ci/run) runs it
def test_a_lost_run_with_no_checkpoint_starts_over_from_epoch_1(runs_dir):
    run = _new(runs_dir, epochs=3, checkpoint_every=50)
    stop, progress = _stop_after(2)
    Trainer([run], stop=stop, progress=progress).run()
    run.checkpoint_path.unlink()  # as if killed before its first checkpoint
    run.update_status(state="running", pid=999999, pid_start=1)
    assert run.info().state == "lost" and len(run.read_metrics()) == 2
    out = cli("resume", run.run_id, "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    assert "starting over from epoch 1" in out.stderr
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2, 3]
    assert "starting over from epoch 1" in "\n".join(run.log_tail(50))
    assert run.read_status()["state"] == "finished"


def test_a_checkpoint_that_would_run_code_is_refused_and_the_run_keeps_its_figures(runs_dir, tmp_path):
    run = _new(runs_dir, epochs=4, checkpoint_every=1)
    stop, progress = _stop_after(2)
    Trainer([run], stop=stop, progress=progress).run()
    before = run.info()
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"epoch": 2, "member": Payload(), "rng": {}}, run.checkpoint_path)
    groups = resume_group(RunStore(runs_dir), run)
    assert Trainer(groups, resume=True).run() == ["failed"]
    assert not marker.exists()
    after = run.info()
    assert "cannot be loaded safely" in after.error
    assert (after.epoch, after.best_test_acc, after.best_test_epoch, after.final_loss) == (
        before.epoch, before.best_test_acc, before.best_test_epoch, before.final_loss)
    assert run.read_summary()["best_test_acc"] == before.best_test_acc
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2]
