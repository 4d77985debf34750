"""The one timer the step benchmarks share: seconds per call of `fn`, the device synchronised around the loop."""
from __future__ import annotations

import time

import torch


def seconds_per_call(fn, steps: int, device: torch.device, warm: int = 0) -> float:
    """`warm` untimed calls first (allocator, cudnn autotune), then the mean over `steps` timed ones."""
    for _ in range(warm):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    result = None
    for _ in range(steps):
        result = fn()
    if isinstance(result, torch.Tensor):
        float(result.detach().sum())  # the last result read back: every kernel ran
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps
