"""GPU paths (CUDA generators, RNG state, fused members, compile); skipped on machines without CUDA."""
import threading

import pytest
import torch

from conftest import tiny_config
from tui_dropout.trainer.engine import Trainer
from tui_dropout.store import RunStore

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def _runs(runs_dir, placements=("all",), **overrides):
    store = RunStore(runs_dir)
    return [store.create(tiny_config(placement=p, device="cuda", **overrides).to_dict()) for p in placements]


def test_solo_run_trains_on_the_gpu(runs_dir):
    (run,) = _runs(runs_dir, epochs=3)
    assert Trainer([run]).run() == ["finished"]
    assert run.read_status()["device"].startswith("cuda")
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2, 3]


def test_fused_members_train_apart_on_the_gpu(runs_dir):
    runs = _runs(runs_dir, ("none", "fc", "conv", "all"), epochs=3)
    assert Trainer(runs).run() == ["finished"] * 4
    assert len({r.read_metrics()[-1]["loss"] for r in runs}) == 4


def test_gpu_run_resumes_after_a_mid_epoch_stop(runs_dir):
    (run,) = _runs(runs_dir, epochs=3, batch_size=16, train_limit=1000, checkpoint_every=10)
    stop = threading.Event()
    Trainer([run], stop=stop,
            progress=lambda e: stop.set() if e["kind"] == "step" and e["epoch"] == 2 and e["step"] >= 20 else None
            ).run()
    assert run.read_status()["state"] == "cancelled"
    assert Trainer([run], resume=True).run() == ["finished"]
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2, 3]


def test_compiled_fused_study_runs_on_the_gpu(runs_dir):
    runs = _runs(runs_dir, ("none", "all"), epochs=2, compile=True)
    assert Trainer(runs).run() == ["finished"] * 2


def _moved(run, device: str) -> None:
    """The run's config names another device, as a resume on another machine or queue slot would train it."""
    run.write_config({**run.read_config(), "device": device})


@pytest.mark.parametrize("first,then", [("cuda", "cpu"), ("cpu", "cuda")])
def test_a_checkpoint_moves_between_the_gpu_and_the_cpu_in_its_own_data_order(runs_dir, first, then):
    (run,) = _runs(runs_dir, epochs=4, checkpoint_every=1)
    _moved(run, first)
    stop = threading.Event()
    Trainer([run], stop=stop, progress=lambda e: stop.set() if e["kind"] == "epoch" and e["epoch"] >= 2 else None
            ).run()
    assert run.read_status()["state"] == "cancelled"
    _moved(run, then)
    assert Trainer([run], resume=True).run() == ["finished"]
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2, 3, 4]
    assert run.read_status()["device"].startswith(then)
    assert "drawn from seed" not in (run.path / "train.log").read_text()  # the order went on exactly


def test_a_deterministic_gpu_run_repeats_bit_for_bit(runs_dir):
    """The README's promise: deterministic=true, same GPU model, same software, same config: the same figures."""
    losses = []
    for _ in range(2):
        (run,) = _runs(runs_dir, ("all",), epochs=2, deterministic=True)
        assert Trainer([run]).run() == ["finished"], run.read_status().get("error")
        losses.append([(r["loss"], r["test_acc"]) for r in run.read_metrics()])
        status = run.read_status()
        assert status["deterministic"] is True and status["tf32"] == {"matmul": False, "cudnn": False}
        assert status["device_name"] == torch.cuda.get_device_name(0) and status["cuda"] == torch.version.cuda
    assert losses[0] == losses[1]
