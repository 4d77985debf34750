"""Runs across devices, as users meet them: a checkpoint from a GPU resumes on a CPU, and the reproducibility
settings are applied and recorded. No GPU here: a CUDA checkpoint is faked the way CUDA writes one."""
import threading

import torch

from conftest import tiny_config
from tui_dropout.store import RunStore
from tui_dropout.trainer import checkpoints
from tui_dropout.trainer.engine import Trainer
from tui_dropout.trainer.order import CPU_STATE_BYTES, BatchOrder


def _stopped_after(runs_dir, epoch: int, **overrides):
    run = RunStore(runs_dir).create(tiny_config(epochs=4, checkpoint_every=1, **overrides).to_dict())
    stop = threading.Event()
    progress = lambda e: stop.set() if e["kind"] == "epoch" and e["epoch"] >= epoch else None  # noqa: E731
    assert Trainer([run], stop=stop, progress=progress).run() == ["cancelled"]
    return run


def cuda_generator_state(seed: int, offset: int) -> torch.Tensor:
    """What torch.cuda's Philox generator returns from get_state(): its seed and offset, 16 uint8 bytes."""
    return torch.tensor([seed, offset], dtype=torch.int64).view(torch.uint8).clone()


def test_the_data_order_is_drawn_on_the_cpu_so_its_state_fits_every_device():
    order = BatchOrder([3, 4], 50, torch.device("cpu"))
    assert order.state(0).numel() == CPU_STATE_BYTES and order.state(0).device.type == "cpu"
    first = order.next_epoch()
    again = BatchOrder([3, 4], 50, torch.device("cpu"))
    again.load([order.state(0), order.state(1)], epoch=1)
    fresh = BatchOrder([3, 4], 50, torch.device("cpu"))
    fresh.next_epoch()
    assert torch.equal(again.next_epoch(), fresh.next_epoch()) and not torch.equal(first, fresh.next_epoch())


def test_a_checkpoint_written_on_a_gpu_resumes_on_the_cpu_with_every_epoch_once(runs_dir):
    run = _stopped_after(runs_dir, 2, device="auto")
    ckpt = torch.load(run.checkpoint_path, weights_only=True)
    ckpt["rng"]["perm"] = cuda_generator_state(0, 4 * 256)  # as a GPU run wrote it before orders moved to the CPU
    ckpt["rng"]["cuda"] = cuda_generator_state(0, 123456)
    checkpoints.save(run.checkpoint_path, ckpt)
    assert Trainer([run], resume=True).run() == ["finished"]
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2, 3, 4]
    log = (run.path / "train.log").read_text()
    assert "resumed after epoch 2" in log and "drawn from seed 0 and the epoch" in log
    # and the next checkpoint holds a CPU state again: portable from here on
    assert torch.load(run.checkpoint_path, weights_only=True)["rng"]["perm"].numel() == CPU_STATE_BYTES


def test_a_foreign_order_state_is_drawn_again_the_same_way_every_time(runs_dir):
    finals = []
    for _ in range(2):
        run = _stopped_after(runs_dir, 2, device="auto")
        ckpt = torch.load(run.checkpoint_path, weights_only=True)
        ckpt["rng"]["perm"] = cuda_generator_state(0, 1024)
        checkpoints.save(run.checkpoint_path, ckpt)
        assert Trainer([run], resume=True).run() == ["finished"]
        finals.append(run.read_metrics()[-1]["loss"])
    assert finals[0] == finals[1]


def test_the_run_applies_and_records_its_numerics_and_where_it_ran(runs_dir):
    store = RunStore(runs_dir)
    strict = store.create(tiny_config(epochs=2, deterministic=True, tf32=True).to_dict())
    assert Trainer([strict]).run() == ["finished"]
    status = strict.read_status()
    assert status["deterministic"] is True and status["tf32"] == {"matmul": True, "cudnn": True}
    assert status["torch"] == torch.__version__ and status["cuda"] == torch.version.cuda and status["device_name"]
    assert strict.read_config()["deterministic"] is True and strict.read_config()["tf32"] is True
    again = store.create(tiny_config(epochs=2, deterministic=True, tf32=True).to_dict())
    assert Trainer([again]).run() == ["finished"]
    assert [r["loss"] for r in again.read_metrics()] == [r["loss"] for r in strict.read_metrics()]  # bit for bit
    plain = store.create(tiny_config(epochs=1).to_dict())  # the next run in this process inherits nothing
    assert Trainer([plain]).run() == ["finished"]
    status = plain.read_status()
    assert status["deterministic"] is False and status["tf32"] == {"matmul": False, "cudnn": False}
    assert not torch.are_deterministic_algorithms_enabled()


def test_numerics_fields_are_set_from_the_cli_and_checked(runs_dir):
    from conftest import cli

    bad = cli("train", "--preset", "quick", "--set", "deterministic=maybe", "--runs-dir", str(runs_dir))
    assert bad.returncode == 2 and bad.stderr.strip() == "error: deterministic: 'maybe' is not true or false"
    assert not runs_dir.exists() or not list(runs_dir.iterdir())


def test_the_device_check_fails_when_a_gpu_test_fails_though_tee_succeeds(tmp_path):
    """benchmarks/device_check.sh with stand-ins for nvidia-smi and python3 (a pytest that fails, benchmarks
    that pass): the check runs the benchmarks still, and exits with pytest's status."""
    import os
    import subprocess
    from pathlib import Path

    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA H200, 143771 MiB, 570.00'\n")
    (stubs / "python3").write_text('#!/bin/sh\necho "python3 $*" >> "$OUT/calls"\n'
                                   'case "$*" in *pytest*) echo "1 failed"; exit 1;; esac\nexit 0\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    out = tmp_path / "out"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "device_check.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "OUT": str(out)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "GPU tests failed (pytest exit 1)" in result.stderr
    calls = (out / "calls").read_text()
    assert "gpu_study.py" in calls and "fused_step.py" in calls  # the benchmarks ran after the failed tests
    (stubs / "python3").write_text('#!/bin/sh\nexit 0\n')
    passing = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "OUT": str(out)})
    assert passing.returncode == 0, passing.stderr
