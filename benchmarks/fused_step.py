"""The fused trainer's step, before and after two changes, side by side in one run: the SGD update as foreach
kernels against a Python loop over the parameters, and conv weights in channels_last (matching the NHWC
images) against NCHW weights.

    python benchmarks/fused_step.py [--device cpu|cuda] [--k 4] [--steps 40] [--rounds 3]

Each variant is warmed up, then timed in alternating rounds (best of its rounds); prints seconds per fused step
and the ratios (old / new: >1 means the change pays)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tui_dropout.config import RunConfig  # noqa: E402
from tui_dropout.trainer.fused import FusedStepper  # noqa: E402
from timing import machine, seconds_per_call, step_arguments  # noqa: E402

PLACEMENTS = ("none", "fc", "conv", "all")


class LoopSGDStepper(FusedStepper):
    """The fused stepper with its SGD as it was: one Python iteration per parameter tensor."""

    @torch.no_grad()
    def _sgd(self) -> None:
        if self.buffers is None:
            self.buffers = [None] * len(self.params)
        for i, p in enumerate(self.params):
            grad = p.grad
            if self.any_decay:
                grad = grad + self.weight_decay[i] * p
            if self.buffers[i] is None:
                self.buffers[i] = grad.clone()
            else:
                self.buffers[i].mul_(self.momentum[i]).add_(grad)
            p.sub_(self.lrs[i] * self.buffers[i])


def variant(name: str, k: int, device: torch.device) -> FusedStepper:
    cfgs = [RunConfig(placement=PLACEMENTS[i % 4], seed=i, weight_decay=5e-4) for i in range(k)]
    stepper = (LoopSGDStepper if name == "loop SGD" else FusedStepper)(cfgs, 3, 10, device)
    if name == "NCHW weights":
        stepper.model.to(memory_format=torch.contiguous_format)  # parameters keep their identity: .data swapped
    stepper.set_epoch(1)
    stepper.train()
    return stepper


def main() -> None:
    ap = argparse.ArgumentParser()
    step_arguments(ap, steps=40, batch=256, rounds=3)
    ap.add_argument("--k", type=int, default=4)
    args = ap.parse_args()
    device = torch.device(args.device)
    x = torch.randn(args.batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch,), device=device)
    names = ("now", "loop SGD", "NCHW weights")
    steppers = {name: variant(name, args.k, device) for name in names}
    for stepper in steppers.values():
        seconds_per_call(lambda: stepper.step(x, y), 5, device)  # warm-up
    best = dict.fromkeys(names, float("inf"))
    for _ in range(args.rounds):
        for name in names:
            best[name] = min(best[name], seconds_per_call(lambda: steppers[name].step(x, y), args.steps, device))
    print(f"{machine(device)}, K={args.k} members, batch {args.batch}, best of {args.rounds} rounds "
          f"of {args.steps} steps")
    for name in names:
        print(f"  {name:13} {best[name] * 1000:8.2f} ms/step")
    print(f"foreach SGD:          loop / foreach      = {best['loop SGD'] / best['now']:.2f}x")
    print(f"channels_last weights: NCHW / NHWC weights = {best['NCHW weights'] / best['now']:.2f}x")


if __name__ == "__main__":
    main()
