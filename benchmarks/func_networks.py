"""K runs of a network fused through torch.func (the trainer's FuncStepper: stacked state, vmap with per-member
rates) against the same K runs stepped one after another (K SoloSteppers, as unfused runs train), side by side
in one run: one SGD step of all K members on a shared batch.

    python benchmarks/func_networks.py [--device cpu|cuda] [--networks mlp vgg] [--k 2 4] [--batch 32]

The K members are one grid point over K seeds with dropout on every site the network has (plain dropout; the
MLP at its default size, 3 x 1024 on 28x28 grey inputs; VGG on 32x32 colour). Each side is warmed up, then timed
in alternating rounds (best of its rounds). Prints ms per step of all K members and solo / fused (>1: fusing is
faster)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tui_dropout.config import RunConfig  # noqa: E402
from tui_dropout.trainer.func_fused import FuncStepper  # noqa: E402
from tui_dropout.trainer.steppers import SoloStepper  # noqa: E402
from timing import machine, seconds_per_call, step_arguments  # noqa: E402

SHAPES = {"mlp": (1, 28, 28), "vgg": (3, 32, 32), "resnet18": (3, 32, 32)}
DATASETS = {"mlp": "mnist", "vgg": "cifar10", "resnet18": "cifar10"}


def configs(network: str, k: int) -> list[RunConfig]:
    kind = "dropout" if network == "mlp" else "dropout2d"  # the MLP's conv site is its input vector
    return [RunConfig(network=network, dataset=DATASETS[network], placement="all", conv_kind=kind, p_conv=0.2,
                      p_fc=0.5, seed=i) for i in range(k)]


class InTurn:
    """K solo steppers, stepped one after another on the batch: what K unfused runs cost."""

    def __init__(self, cfgs: list[RunConfig], channels: int, device: torch.device):
        self.steppers = []
        for cfg in cfgs:
            torch.manual_seed(cfg.seed)
            stepper = SoloStepper(cfg, channels, 10, device)
            stepper.train()
            self.steppers.append(stepper)

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.cat([s.step(x, y) for s in self.steppers])


def fused(cfgs: list[RunConfig], channels: int, device: torch.device) -> FuncStepper:
    stepper = FuncStepper(cfgs, channels, 10, device)
    stepper.set_epoch(1)
    stepper.train()
    return stepper


def main() -> None:
    ap = argparse.ArgumentParser()
    step_arguments(ap, steps=5, batch=32, rounds=3)
    ap.add_argument("--networks", nargs="+", default=["mlp", "vgg"], choices=sorted(SHAPES))
    ap.add_argument("--k", type=int, nargs="+", default=[2, 4])
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"{machine(device)}, batch {args.batch}, best of {args.rounds} rounds of {args.steps} steps")
    print(f"{'network':>8} {'K':>3} {'in turn ms':>11} {'fused ms':>9} {'in turn / fused':>16}")
    for network in args.networks:
        shape = SHAPES[network]
        for k in args.k:
            x = torch.randn(args.batch, *shape, device=device)
            y = torch.randint(0, 10, (args.batch,), device=device)
            cfgs = configs(network, k)
            sides = {"in turn": InTurn(cfgs, shape[0], device), "fused": fused(cfgs, shape[0], device)}
            for stepper in sides.values():
                seconds_per_call(lambda: stepper.step(x, y), 2, device)  # warm-up
            best = dict.fromkeys(sides, float("inf"))
            for _ in range(args.rounds):
                for name, stepper in sides.items():
                    best[name] = min(best[name], seconds_per_call(lambda: stepper.step(x, y), args.steps, device))
            print(f"{network:>8} {k:>3} {best['in turn'] * 1000:11.2f} {best['fused'] * 1000:9.2f} "
                  f"{best['in turn'] / best['fused']:15.2f}x", flush=True)


if __name__ == "__main__":
    main()
