"""The training device as torch sees it: resolve auto, refuse a CUDA device torch cannot use, and set the
numerics (deterministic kernels, TF32) a run asks for, recording what it ran on."""
from __future__ import annotations

import os
import platform
from typing import Any

import torch

from ..config import ConfigError, RunConfig


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


def apply_numerics(cfg: RunConfig) -> None:
    """Set torch's process-wide numerics from the run's config, every field both ways (a trainer never inherits
    an earlier run's settings). Called before the first CUDA kernel: cuBLAS reads its workspace setting once."""
    if cfg.deterministic:
        # cuBLAS is deterministic only with a fixed workspace; torch refuses matmuls without it
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(cfg.deterministic)
    torch.backends.cudnn.deterministic = cfg.deterministic
    torch.backends.cudnn.benchmark = False  # autotuning picks kernels by timing: a different choice per run
    torch.backends.cuda.matmul.allow_tf32 = cfg.tf32
    torch.backends.cudnn.allow_tf32 = cfg.tf32


def numerics_record(device: torch.device) -> dict[str, Any]:
    """What a run's figures depend on beyond its config: the device's name, torch, CUDA and cuDNN versions, and
    the numerics as torch actually holds them (status.json keeps this)."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine() or "cpu"
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"device_name": name, "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": cudnn,
            "deterministic": torch.are_deterministic_algorithms_enabled(),
            "tf32": {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}}
