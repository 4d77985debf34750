"""The NVIDIA GPUs this machine shows, read without torch: through NVML (the `gpu` extra, nvidia-ml-py) where it
answers, else the driver's /proc entries; in PCI bus order, narrowed by CUDA_VISIBLE_DEVICES (indices or UUIDs)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import gpustats
from .config import ConfigError

PROC_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU, named by its PCI bus id


@dataclass(frozen=True)
class Gpu:
    index: int | None  # as CUDA numbers it with CUDA_DEVICE_ORDER=PCI_BUS_ID; None for a MIG instance
    uuid: str  # GPU-... (MIG-... for a MIG instance); empty when the driver did not say
    bus: str = ""  # PCI bus id

    @property
    def name(self) -> str:
        """How the queue names it (`--gpus`) and hands it to a trainer in CUDA_VISIBLE_DEVICES."""
        return str(self.index) if self.index is not None else self.uuid


def _nvml_gpus() -> list[Gpu] | None:
    nvml = gpustats.nvml()
    if nvml is None:
        return None
    try:
        found = []
        for i in range(nvml.nvmlDeviceGetCount()):  # NVML numbers GPUs in PCI bus order
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            uuid, bus = nvml.nvmlDeviceGetUUID(handle), nvml.nvmlDeviceGetPciInfo(handle).busId
            found.append(Gpu(i, _text(uuid), _text(bus)))
        return found
    except Exception:  # a driver that half answers: the /proc entries may still say more
        return None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _proc_gpus(root: Path) -> list[Gpu]:
    try:
        buses = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    except OSError:
        return []
    return [Gpu(i, _proc_uuid(root / bus), bus) for i, bus in enumerate(buses)]


def _proc_uuid(folder: Path) -> str:
    try:
        with open(folder / "information", encoding="utf-8", errors="replace") as f:
            for line in f.read(65536).splitlines():
                key, _, value = line.partition(":")
                if key.strip() == "GPU UUID":
                    return value.strip()
    except OSError:
        pass
    return ""


def machine_gpus(root: Path = PROC_GPUS) -> list[Gpu]:
    """Every GPU of the machine, in PCI bus order: NVML's list, else the driver's /proc entries (WSL2 and some
    containers have NVML but no /proc entries; a machine without the extra has /proc only)."""
    found = _nvml_gpus()
    return found if found else _proc_gpus(root)


def driver_gpus(root: Path = PROC_GPUS) -> list[str]:
    """PCI bus ids of the machine's GPUs, sorted: index i is CUDA's device i in PCI bus order."""
    return [gpu.bus for gpu in machine_gpus(root)]


def visible_gpus(root: Path = PROC_GPUS, mask: str | None = None) -> list[Gpu]:
    """The GPUs CUDA would use in this process: CUDA_VISIBLE_DEVICES (indices, GPU-/MIG- UUIDs or their unique
    prefixes) narrows the machine's list; as CUDA does, it stops at the first entry it cannot use."""
    gpus = machine_gpus(root)
    mask = os.environ.get("CUDA_VISIBLE_DEVICES") if mask is None else mask
    if mask is None:
        return gpus
    chosen: list[Gpu] = []
    for item in (x.strip() for x in mask.split(",")):
        if item.isdigit() and int(item) < len(gpus):
            gpu = gpus[int(item)]
        elif item.startswith("GPU-"):
            matches = [g for g in gpus if g.uuid and g.uuid.startswith(item)]
            if len(matches) != 1 and gpus and not any(g.uuid for g in gpus):
                matches = [Gpu(None, item)]  # the driver names no UUIDs: trust the mask, CUDA will check it
            if len(matches) != 1:
                break
            gpu = matches[0]
        elif item.startswith("MIG-") and gpus:
            gpu = Gpu(None, item)  # a MIG instance: CUDA sees it as one device of its own
        else:
            break
        if gpu in chosen:
            break  # CUDA refuses a device named twice from there on
        chosen.append(gpu)
    return chosen


def visible_gpu_count(root: Path = PROC_GPUS) -> int:
    """How many GPUs CUDA would number in this process."""
    return len(visible_gpus(root))


def check_device_listed(device: str, root: Path = PROC_GPUS) -> None:
    """Refuse cuda / cuda:N when no such GPU shows; cheap, so the form can call it as you type."""
    if not device.startswith("cuda"):
        return
    count = visible_gpu_count(root)
    if count == 0:
        raise ConfigError("device", f"{device} asked for, but this machine shows no NVIDIA GPU (use cpu or auto)")
    if ":" in device and int(device.split(":")[1]) >= count:
        raise ConfigError("device", f"{device} asked for, but only {count} GPU(s) are visible")
