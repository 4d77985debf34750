"""The trainer, for real: short CPU runs, exact resume, cancellation, lost runs and failures."""
import os
import signal
import threading

import pytest

from conftest import tiny_config, wait_for
from tui_dropout.trainer.engine import Trainer
from tui_dropout.launch import TrainerProcess, resume_group
from tui_dropout.store import RunStore, effective_state


def _new(runs_dir, **overrides):
    return RunStore(runs_dir).create(tiny_config(**overrides).to_dict())




def test_short_run_writes_every_file_of_the_contract(runs_dir):
    run = _new(runs_dir)
    assert Trainer([run]).run() == ["finished"]
    rows = run.read_metrics()
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert all({"loss", "lr", "seconds", "train_acc", "test_acc"} <= set(r) for r in rows)
    assert rows[-1]["loss"] < rows[0]["loss"]
    status, summary = run.read_status(), run.read_summary()
    assert status["state"] == "finished" and status["epoch"] == 3 and status["pid"] == os.getpid()
    assert summary["best_test_acc"] == max(r["test_acc"] for r in rows)
    assert run.checkpoint_path.exists()
    assert "epoch: 3 time:" in "\n".join(run.log_tail())


def test_accuracy_runs_every_eval_interval_and_at_the_last_epoch(runs_dir):
    run = _new(runs_dir, epochs=5, eval_every=2)
    Trainer([run]).run()
    assert [r["epoch"] for r in run.read_metrics() if "test_acc" in r] == [2, 4, 5]


@pytest.mark.slow  # long: the slow suite (.ci/run) runs it
def test_resume_after_a_mid_epoch_stop_matches_an_uninterrupted_run(runs_dir):
    straight = _new(runs_dir, epochs=3, batch_size=16, train_limit=480, checkpoint_every=10)
    Trainer([straight]).run()

    stopped = _new(runs_dir, epochs=3, batch_size=16, train_limit=480, checkpoint_every=10)
    stop = threading.Event()
    seen = []

    def progress(event):
        if event["kind"] == "step" and event["epoch"] == 2 and event["step"] >= 20:
            seen.append(event)
            stop.set()

    assert Trainer([stopped], stop=stop, progress=progress).run() == ["cancelled"]
    assert seen and [r["epoch"] for r in stopped.read_metrics()] == [1]
    assert stopped.read_status()["state"] == "cancelled"
    assert Trainer([stopped], resume=True).run() == ["finished"]
    a, b = straight.read_metrics(), stopped.read_metrics()
    assert [r["epoch"] for r in b] == [1, 2, 3]
    for x, y in zip(a, b):
        assert (x["loss"], x["train_acc"], x["test_acc"]) == (y["loss"], y["train_acc"], y["test_acc"])


def test_nan_loss_fails_the_run_with_the_reason(runs_dir):
    run = _new(runs_dir, lr=1e6, momentum=0.0, epochs=5)
    assert Trainer([run]).run() == ["failed"]
    status = run.read_status()
    assert status["state"] == "failed" and "loss became" in status["error"]


def test_an_exception_fails_the_run_with_its_traceback(runs_dir, tmp_path):
    run = _new(runs_dir, dataset="imagefolder", data_dir=str(tmp_path / "gone"))
    assert Trainer([run]).run() == ["failed"]
    assert "does not exist" in run.read_status()["error"]
    assert "Traceback" in "\n".join(run.log_tail(50))


@pytest.mark.slow
def test_detached_trainer_survives_sigterm_as_cancelled_and_kill9_as_lost_then_resumes(runs_dir):
    run = _new(runs_dir, epochs=400, batch_size=16, train_limit=1300, checkpoint_every=1)
    proc = TrainerProcess([run])
    pid = proc.start()
    assert os.getpgid(pid) == pid  # own session and group: a closed console leaves it alone
    assert wait_for(lambda: len(run.read_metrics()) >= 2)
    os.kill(pid, signal.SIGKILL)
    proc.wait(10)
    assert effective_state(run.read_status()) == "lost"
    done_before = len(run.read_metrics())

    group = resume_group(RunStore(runs_dir), run)
    again = TrainerProcess(group, resume=True)
    pid2 = again.start()
    assert wait_for(lambda: len(run.read_metrics()) >= done_before + 2)
    os.killpg(pid2, signal.SIGTERM)
    assert again.wait(30) == 0
    status = run.read_status()
    assert status["state"] == "cancelled"
    epochs = [r["epoch"] for r in run.read_metrics()]
    assert epochs == list(range(1, len(epochs) + 1))  # nothing missing, nothing doubled
    assert "resumed after epoch" in "\n".join(run.log_tail(400))


@pytest.mark.slow
def test_compiled_training_matches_eager_training(runs_dir):
    eager = _new(runs_dir, epochs=2, placement="none")
    compiled = _new(runs_dir, epochs=2, placement="none", compile=True)
    assert Trainer([eager]).run() == ["finished"]
    assert Trainer([compiled]).run() == ["finished"]
    for a, b in zip(eager.read_metrics(), compiled.read_metrics()):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-3)


def test_a_slow_data_load_is_not_counted_in_the_run_time(runs_dir, monkeypatch):
    import time

    from tui_dropout.trainer import engine

    real = engine.load_arrays
    slow = 1.5

    def slow_load(*args, **kwargs):  # a decode of JPEGs taking its time, once
        arrays = real(*args, **kwargs)
        deadline = time.monotonic() + slow
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return arrays

    monkeypatch.setattr(engine, "load_arrays", slow_load)
    run = RunStore(runs_dir).create(tiny_config(epochs=1).to_dict())
    assert Trainer([run]).run() == ["finished"]
    status = run.read_status()
    assert status["elapsed"] <= status["ended"] - status["created"] - slow + 0.05
    assert any("not counted in the run's time" in line for line in run.log_tail(20))


def test_piped_foreground_training_says_what_it_is_doing_line_by_line(runs_dir):
    from conftest import cli

    out = cli("train", "--preset", "quick", "--epochs", "2", "--set", "train_limit=64", "--device", "cpu",
              "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert any(line.startswith("loading digits") for line in lines)
    assert [line.split(":")[0] for line in lines if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]
