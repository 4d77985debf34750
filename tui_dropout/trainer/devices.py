"""The training device as torch sees it: resolve auto, and refuse a CUDA device torch cannot use."""
from __future__ import annotations

import torch

from ..config import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def check_device_present(device: str) -> None:
    if not device.startswith("cuda"):
        return
    if not torch.cuda.is_available():
        raise ConfigError("device", f"{device} asked for, but torch sees no CUDA GPU here (use cpu or auto)")
    if ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
        raise ConfigError("device", f"{device} asked for, but only {torch.cuda.device_count()} GPU(s) are present")
