"""Finding GPUs without torch, as a user meets it: NVML where the `gpu` extra answers, else the driver's /proc
entries; CUDA_VISIBLE_DEVICES by index or UUID; a queue on GPUs that are not there is refused. No GPU here:
NVML and /proc are faked the way the real ones answer."""
import sys

import pytest

from conftest import cli, fake_nvml_module, fake_nvml_path, run_paths, stop_processes_in
from tui_dropout import gpustats
from tui_dropout.config import ConfigError
from tui_dropout.gpus import check_device_listed, machine_gpus, visible_gpus
from tui_dropout.launch.queue import settings_from

UUIDS = ["GPU-5b3c0a1e-1111-2222-3333-444444444444", "GPU-9f00d2c7-1111-2222-3333-444444444444"]


@pytest.fixture
def no_gpu_here(monkeypatch, tmp_path):
    """Neither NVML nor the driver's /proc entries: what this machine (or a laptop) shows."""
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` fails, as without the extra
    monkeypatch.setitem(gpustats._state, "ready", None)
    monkeypatch.setattr("tui_dropout.gpus.PROC_GPUS", tmp_path / "no-proc")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def two_nvml_gpus(monkeypatch):
    """NVML answers with two GPUs (WSL2 and containers have NVML and no /proc/driver/nvidia)."""
    devices = [{"name": "NVIDIA H200", "uuid": UUIDS[0], "bus": "00000000:19:00.0"},
               {"name": "NVIDIA H200", "uuid": UUIDS[1], "bus": "00000000:3B:00.0"}]
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml_module(devices))
    monkeypatch.setitem(gpustats._state, "ready", None)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return devices


def test_nvml_finds_the_gpus_where_the_driver_has_no_proc_entries(two_nvml_gpus, tmp_path):
    gpus = machine_gpus(root=tmp_path / "no-proc")
    assert [(g.index, g.uuid, g.bus) for g in gpus] == [(0, UUIDS[0], "00000000:19:00.0"),
                                                        (1, UUIDS[1], "00000000:3B:00.0")]
    check_device_listed("cuda:1", root=tmp_path / "no-proc")  # accepted: NVML shows it
    with pytest.raises(ConfigError, match="only 2 GPU"):
        check_device_listed("cuda:2", root=tmp_path / "no-proc")


def test_without_nvml_the_drivers_proc_entries_give_index_and_uuid(no_gpu_here, tmp_path):
    root = tmp_path / "gpus"
    for bus, uuid in (("0000:3b:00.0", UUIDS[1]), ("0000:19:00.0", UUIDS[0])):
        (root / bus).mkdir(parents=True)
        (root / bus / "information").write_text(f"Model: \t\t NVIDIA H200\nGPU UUID: \t {uuid}\nBus Location: \t {bus}\n")
    assert [(g.index, g.uuid) for g in machine_gpus(root)] == [(0, UUIDS[0]), (1, UUIDS[1])]  # PCI bus order


def test_cuda_visible_devices_given_as_uuids_names_those_gpus(two_nvml_gpus, monkeypatch, tmp_path):
    root = tmp_path / "no-proc"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-9f00d2c7,GPU-5b3c")  # unique prefixes, as CUDA takes them
    assert [g.index for g in visible_gpus(root)] == [1, 0]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{UUIDS[1]},GPU-nosuch,0")  # CUDA stops at the first bad entry
    assert [g.index for g in visible_gpus(root)] == [1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-1b2c3d4e-aaaa-bbbb-cccc-dddddddddddd")
    (mig,) = visible_gpus(root)
    assert mig.index is None and mig.name.startswith("MIG-")
    check_device_listed("cuda", root=root)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus(root) == []
    # the queue's auto takes what CUDA_VISIBLE_DEVICES names, by the index the holder hands each trainer
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", UUIDS[1])
    assert settings_from("auto", 1).gpus == ["1"]


def test_a_queue_on_a_machine_without_a_gpu_says_it_trains_on_the_cpu(no_gpu_here):
    settings = settings_from("auto", 1)
    assert settings.gpus == ["cpu"] and "no GPU found" in settings.describe()
    assert "no GPU found" not in settings_from("cpu", 1).describe()  # asked for: nothing to say
    with pytest.raises(ConfigError, match="no GPU 0 on this machine"):
        settings_from("0", 1)


def test_gpus_99_is_refused_in_one_line_and_leaves_no_run_folder(tmp_path):
    runs_dir = tmp_path / "runs"
    env = fake_nvml_path(tmp_path / "nvml", [{"name": "NVIDIA H200"}, {"name": "NVIDIA H200"}])
    out = cli("study", "quick", "--backend", "queue", "--gpus", "0,99", "--runs-dir", runs_dir, env=env)
    assert out.returncode == 2, out.stdout
    assert out.stderr == "error: gpus: no GPU 99 on this machine (GPUs shown: 0,1)\n"
    assert run_paths(runs_dir) == []


def test_the_cli_queue_says_when_it_falls_back_to_the_cpu(tmp_path):
    runs_dir = tmp_path / "runs"
    empty = fake_nvml_path(tmp_path / "nvml", [])  # NVML answers: no GPU
    try:
        out = cli("study", "quick", "--epochs", "1", "--set", "train_limit=64", "--backend", "queue",
                  "--runs-dir", runs_dir, env={**empty, "CUDA_VISIBLE_DEVICES": ""})
        assert out.returncode == 0, out.stderr
        assert "on the CPU (no GPU found" in out.stdout + out.stderr
    finally:
        stop_processes_in(runs_dir)
