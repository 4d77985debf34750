"""The GPU panel's data through a fake NVML (the only NVML a machine without a GPU can run)."""
import sys
import types

import pytest

from conftest import fake_nvml_module
from tui_dropout import gpustats


@pytest.fixture
def fake_nvml(monkeypatch):
    devices = [
        {"name": b"NVIDIA H100 80GB HBM3", "util": 87, "used": 30 * 2**30, "total": 80 * 2**30, "pids": [4242, 4343]},
        {"name": "NVIDIA H100 80GB HBM3", "util": 0, "used": 1 * 2**30, "total": 80 * 2**30, "pids": []},
    ]
    calls = {"init": 0}

    def init():
        calls["init"] += 1

    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml_module(devices, on_init=init))
    gpustats.reset()
    yield devices, calls
    gpustats.reset()


def test_every_gpu_with_its_utilisation_memory_and_processes(fake_nvml):
    devices, calls = fake_nvml
    stats = gpustats.read_gpus()
    assert [s.index for s in stats] == [0, 1]
    assert stats[0].name == "NVIDIA H100 80GB HBM3" and stats[1].name == "NVIDIA H100 80GB HBM3"
    assert stats[0].util_percent == 87 and stats[0].mem_used_mb == 30 * 1024 and stats[0].mem_total_mb == 80 * 1024
    assert stats[0].pids == [4242, 4343] and stats[1].pids == []
    gpustats.read_gpus()
    assert calls["init"] == 1  # initialised once


def test_no_driver_means_no_panel(monkeypatch):
    mod = types.ModuleType("pynvml")

    def init():
        raise RuntimeError("NVML Shared Library Not Found")

    mod.nvmlInit = init
    monkeypatch.setitem(sys.modules, "pynvml", mod)
    gpustats.reset()
    assert gpustats.read_gpus() is None
    gpustats.reset()


def test_a_gpu_that_fails_mid_read_hides_the_panel(fake_nvml):
    devices, _ = fake_nvml
    devices[1]["util"] = None  # int(None) raises, as a GPU that fell off the bus would
    assert gpustats.read_gpus() is None
