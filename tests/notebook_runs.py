"""Run folders the notebook tests share: finished runs of a small grid, and a run whose trainer is alive."""
import os
import time
from pathlib import Path

import pytest

from conftest import make_run_folder
from tui_dropout.store import process_start_time



def finished(runs_dir: Path, name: str, test: float, train: float, loss: float, **config) -> Path:
    cfg = {"preset": config.pop("preset", "A"), "epochs": 10, "placement": "fc", "p_conv": 0.0, "p_fc": 0.5,
           "lr": 0.01, "seed": 0, "dataset": "digits", **config}
    return make_run_folder(runs_dir, name, {"state": "finished", "epoch": 10, "final_test_acc": test,
                                            "final_train_acc": train, "best_test_acc": test, "final_loss": loss},
                           cfg)


def running(runs_dir: Path, name: str) -> Path:
    """A run whose trainer is alive: this test process stands in for it (a proven pid and start time)."""
    return make_run_folder(runs_dir, name, {"state": "running", "epoch": 3, "pid": os.getpid(),
                                            "pid_start": process_start_time(os.getpid()), "host": os.uname().nodename,
                                            "heartbeat": time.time()})


@pytest.fixture
def study(runs_dir):
    """Four finished runs of a grid over p_fc and lr, named by their time order."""
    finished(runs_dir, "20260101-000001-A-aaaa", 0.50, 0.90, 0.9, p_fc=0.1, lr=0.01)
    finished(runs_dir, "20260101-000002-A-bbbb", 0.62, 0.70, 1.1, p_fc=0.3, lr=0.01)
    finished(runs_dir, "20260101-000003-A-cccc", 0.58, 0.60, 1.2, p_fc=0.5, lr=0.02)
    finished(runs_dir, "20260101-000004-B-dddd", 0.55, 0.99, 0.5, p_fc=0.0, lr=0.02, preset="B")
    return runs_dir


def ids(out: str) -> list[str]:
    return [word[-4:] for line in out.splitlines() for word in line.split() if word.startswith("202601")]
