"""How many runs to pack into one fused trainer: training steps of K LeNet-5 members fused in one pass against
K solo steps one after another, on the same batches, side by side in one run.

    python benchmarks/fused_members.py [--device cpu|cuda] [--steps 30] [--ks 1,2,4,8,12,16]

Prints, per K, seconds per member-step fused and solo and their ratio (solo / fused: >1 means fusing pays).
The queue packs up to --max-fused runs (default 8, tui_dropout/launch/plan.py MAX_FUSED) into one trainer; the
K where the per-member time stops falling is the limit worth using on that device."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tui_dropout.config import RunConfig  # noqa: E402
from tui_dropout.trainer.fused import FusedStepper  # noqa: E402
from tui_dropout.trainer.steppers import SoloStepper  # noqa: E402
from timing import seconds_per_call  # noqa: E402

PLACEMENTS = ("none", "fc", "conv", "all")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--ks", default="1,2,4,8,12,16")
    ap.add_argument("--batch", type=int, default=256)
    args = ap.parse_args()
    device = torch.device(args.device)
    x = torch.randn(args.batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch,), device=device)
    print(f"{'K':>3} {'fused s/member-step':>20} {'solo s/member-step':>19} {'solo/fused':>11}")
    for k in (int(v) for v in args.ks.split(",")):
        cfgs = [RunConfig(placement=PLACEMENTS[i % 4], seed=i, device=args.device) for i in range(k)]
        fused = FusedStepper(cfgs, 3, 10, device)
        fused.set_epoch(1)
        fused.train()
        solos = [SoloStepper(c, 3, 10, device) for c in cfgs]
        for s in solos:
            s.set_epoch(1)
            s.train()
        t_fused = seconds_per_call(lambda: fused.step(x, y), args.steps, device, warm=1) / k
        t_solo = seconds_per_call(lambda: [s.step(x, y) for s in solos], max(1, args.steps // k), device, warm=1) / k
        print(f"{k:>3} {t_fused:>20.4f} {t_solo:>19.4f} {t_solo / t_fused:>10.2f}x", flush=True)


if __name__ == "__main__":
    main()
