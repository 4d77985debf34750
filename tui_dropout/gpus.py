"""The NVIDIA GPUs this machine shows, read without torch: the driver's /proc entries, in PCI bus order."""
from __future__ import annotations

import os
from pathlib import Path

from .config import ConfigError

PROC_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU, named by its PCI bus id


def driver_gpus(root: Path = PROC_GPUS) -> list[str]:
    """PCI bus ids of the GPUs the NVIDIA driver shows, sorted: index i is CUDA's device i in PCI bus order."""
    try:
        return sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    except OSError:
        return []


def visible_gpu_count(root: Path = PROC_GPUS) -> int:
    """How many GPUs CUDA would number in this process (CUDA_VISIBLE_DEVICES narrows the driver's list)."""
    total = len(driver_gpus(root))
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    if mask is None:
        return total
    count = 0
    for item in (x.strip() for x in mask.split(",")):
        if item.isdigit() and int(item) < total:
            count += 1
        elif item.startswith(("GPU-", "MIG-")) and total:
            count += 1
        else:
            break  # CUDA stops at the first entry it cannot use
    return count


def check_device_listed(device: str, root: Path = PROC_GPUS) -> None:
    """Refuse cuda / cuda:N when the driver shows no such GPU; cheap, so the form can call it as you type."""
    if not device.startswith("cuda"):
        return
    count = visible_gpu_count(root)
    if count == 0:
        raise ConfigError("device", f"{device} asked for, but this machine shows no NVIDIA GPU (use cpu or auto)")
    if ":" in device and int(device.split(":")[1]) >= count:
        raise ConfigError("device", f"{device} asked for, but only {count} GPU(s) are visible")
