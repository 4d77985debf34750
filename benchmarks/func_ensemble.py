"""The fused trainer's hand-written grouped LeNet-5 against torch's own model ensembling (torch.func:
stack_module_state + functional_call under vmap, randomness="different"), which would fuse any network, side by
side in one run: one SGD step of K members on a shared batch.

    python benchmarks/func_ensemble.py [--device cpu|cuda] [--k 2 4 8] [--steps 20] [--rounds 3]

Both sides train the same K LeNet-5 configs (one grid point over K seeds: Dropout2d on the conv maps, dropout
on the fc layer), from the same images, with the same SGD (momentum, per-member lr); each is warmed up, then timed
in alternating rounds (best of its rounds). Prints ms per step and the ratio func / grouped (>1: the grouped
path is faster)."""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tui_dropout.config import RunConfig  # noqa: E402
from tui_dropout.trainer.fused import FusedStepper  # noqa: E402
from tui_dropout.trainer.models import LeNet5  # noqa: E402
from timing import machine, seconds_per_call, step_arguments  # noqa: E402

def configs(k: int) -> list[RunConfig]:
    """K members of one grid point over seeds (the common fused case): dropout on conv maps and fc, one p."""
    return [RunConfig(placement="all", seed=i, p_conv=0.1, p_fc=0.5) for i in range(k)]


class FuncEnsemble:
    """K members as one vmapped functional_call of the unchanged LeNet5 module: the parameters stacked (K, ...),
    dropout masks drawn per member (randomness="different"), SGD with momentum as foreach kernels over the
    stacked tensors. Nothing here knows LeNet-5: any registered network would fuse this way."""

    def __init__(self, cfgs: list[RunConfig], device: torch.device):
        models = []
        for cfg in cfgs:
            torch.manual_seed(cfg.seed)
            models.append(LeNet5.from_config(cfg, 3, 10).to(device))
        self.base = copy.deepcopy(models[0]).to("meta")
        self.params, self.buffers = stack_module_state(models)
        self.names = list(self.params)
        self.lr = torch.tensor([c.lr for c in cfgs], device=device)
        self.momentum = cfgs[0].momentum
        self.moments: list[torch.Tensor] | None = None

        def loss(params, buffers, x, y):
            return F.cross_entropy(functional_call(self.base, (params, buffers), (x,)), y)

        self.step_fn = vmap(grad_and_value(loss), in_dims=(0, 0, None, None), randomness="different")

    def step(self, x, y):
        grads, losses = self.step_fn(self.params, self.buffers, x, y)
        with torch.no_grad():
            params = [self.params[n] for n in self.names]
            g = [grads[n] for n in self.names]
            if self.moments is None:
                self.moments = [t.clone() for t in g]
            else:
                torch._foreach_mul_(self.moments, self.momentum)
                torch._foreach_add_(self.moments, g)
            lrs = [self.lr.view(-1, *([1] * (p.dim() - 1))) for p in params]
            torch._foreach_sub_(params, torch._foreach_mul(self.moments, lrs))
        return losses


def grouped(cfgs: list[RunConfig], device: torch.device) -> FusedStepper:
    stepper = FusedStepper(cfgs, 3, 10, device)
    stepper.set_epoch(1)
    stepper.train()
    return stepper


def main() -> None:
    ap = argparse.ArgumentParser()
    step_arguments(ap, steps=20, batch=256, rounds=3)
    ap.add_argument("--k", type=int, nargs="+", default=[2, 4, 8])
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"{machine(device)}, batch {args.batch}, best of {args.rounds} rounds of {args.steps} steps")
    print(f"{'K':>3} {'grouped ms':>11} {'func ms':>9} {'func / grouped':>15}")
    for k in args.k:
        x = torch.randn(args.batch, 3, 32, 32, device=device)
        y = torch.randint(0, 10, (args.batch,), device=device)
        sides = {"grouped": grouped(configs(k), device), "func": FuncEnsemble(configs(k), device)}
        xs = {"grouped": x.contiguous(memory_format=torch.channels_last), "func": x}
        for name, stepper in sides.items():
            seconds_per_call(lambda: stepper.step(xs[name], y), 3, device)  # warm-up
        best = dict.fromkeys(sides, float("inf"))
        for _ in range(args.rounds):
            for name, stepper in sides.items():
                best[name] = min(best[name], seconds_per_call(lambda: stepper.step(xs[name], y), args.steps, device))
        print(f"{k:>3} {best['grouped'] * 1000:11.2f} {best['func'] * 1000:9.2f} {best['func'] / best['grouped']:14.2f}x")


if __name__ == "__main__":
    main()
