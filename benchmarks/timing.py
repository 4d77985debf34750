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


def step_arguments(ap, steps: int, batch: int, rounds: int = 3) -> None:
    """The options every step benchmark takes: the device, timed steps a round, rounds (best of), batch size."""
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--rounds", type=int, default=rounds)
    ap.add_argument("--batch", type=int, default=batch)


def machine(device: torch.device) -> str:
    """What the figures were measured on: the GPU's name, or the CPU and its threads; and torch's version."""
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    return f"{where}, torch {torch.__version__}"
