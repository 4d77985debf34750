"""What the CLI tests share: a CliRunner, the real console script in a subprocess, hand-made run folders."""
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from conftest import make_run_folder, wait_for
from tui_dropout.cli.main import app


runner = CliRunner()
TINY = ["--epochs", "2", "--set", "train_limit=200", "--set", "eval_every=1", "--device", "cpu"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def console_script(*args, cwd=None, env=None, timeout=120):
    """`dropout-tui ARGS` through the real console script (tui_dropout.cli.main:run), in a subprocess."""
    return subprocess.run([sys.executable, "-m", "tui_dropout", *[str(a) for a in args]], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def poll(condition, timeout=60.0):
    return wait_for(condition, timeout)


def one_error_line(stderr: str, field: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}: "), stderr
    return lines[0]


def no_temp_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if ".tmp" in p.name]


RUN_IDS = ["20261126-093012-feature_alpha_all-3f9c", "20261126-093013-D-0a1b", "20261126-093014-quick-77e2"]


def hand_made_runs(runs_dir: Path) -> list[str]:
    for i, run_id in enumerate(RUN_IDS):
        make_run_folder(runs_dir, run_id, {"state": "failed", "epoch": 3, "error": "RuntimeError: CUDA out of memory. "
                        "Tried to allocate 2.00 GiB; 1.5 GiB free of 80 GiB on device cuda:0 " * (i + 1)},
                        metrics='{"epoch": 1, "loss": 2.123456789, "lr": 0.0123456789, "seconds": 1.23456789, '
                                '"train_acc": 0.123456789, "test_acc": 0.0987654321, "elapsed": 9.87654321}\n')
        (runs_dir / run_id / "train.log").write_text("".join(f"log line {n}\n" for n in range(30)))
    return RUN_IDS
