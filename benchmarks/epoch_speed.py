"""One CPU epoch: the seed's loop vs the project's trainer vs a pure compute loop, side by side; prints ratios.

    python benchmarks/epoch_speed.py [--images 50000] [--rounds 2]

All three train LeNet-5 (p=0.5, dropout everywhere as network D) on the same 50,000 images in the
CIFAR-10 pickle layout, batch 256. Rounds alternate the three so machine noise hits them alike;
each figure is the best of its rounds.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seedloop import compute_epoch_seconds, seed_epoch_seconds, write_cifar_layout  # noqa: E402


def project_epoch_seconds(data_root: Path, runs_root: Path) -> float:
    from tui_dropout.config import load_preset
    from tui_dropout.trainer.engine import Trainer
    from tui_dropout.store import RunStore

    cfg = load_preset("D").with_overrides(data_dir=str(data_root), epochs=1, eval_every=1000, device="cpu",
                                          checkpoint_every=1000)
    cfg.eval_every = 1000  # no accuracy pass: time the training epoch alone (the metrics' `seconds`)
    run = RunStore(runs_root).create(cfg.to_dict())
    Trainer([run]).run()
    return run.read_metrics()[0]["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=50000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="epoch-speed-"))
    os.environ["TUI_DROPOUT_CACHE"] = str(tmp / "cache")
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, (args.images, 3, 32, 32), dtype=np.uint8)
    train_y = rng.integers(0, 10, args.images)
    test_x, test_y = train_x[:1000], train_y[:1000]
    write_cifar_layout(tmp / "data", train_x, train_y, test_x, test_y)
    project_epoch_seconds(tmp / "data", tmp / "runs")  # warm: decode cache and first-call costs
    device = torch.device("cpu")
    tx, ty = torch.from_numpy(train_x), torch.from_numpy(train_y)
    best = {"seed loop": float("inf"), "project trainer": float("inf"), "pure compute": float("inf"),
            "pure compute NHWC": float("inf")}
    for r in range(args.rounds):
        torch.manual_seed(r)
        best["seed loop"] = min(best["seed loop"], seed_epoch_seconds(tmp / "data", device))
        best["project trainer"] = min(best["project trainer"], project_epoch_seconds(tmp / "data", tmp / "runs"))
        best["pure compute"] = min(best["pure compute"], compute_epoch_seconds(tx, ty, device))
        best["pure compute NHWC"] = min(best["pure compute NHWC"],
                                        compute_epoch_seconds(tx, ty, device, channels_last=True))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in best.items()), flush=True)
    print(f"\nCPU, {torch.get_num_threads()} threads, torch {torch.__version__}, {args.images} images, batch 256")
    for name, secs in best.items():
        print(f"  {name:18} {secs:7.2f} s/epoch")
    print(f"seed loop / project trainer   = {best['seed loop'] / best['project trainer']:.2f}x  (goal >= 2)")
    print(f"project trainer / pure compute = {best['project trainer'] / best['pure compute']:.2f}x  (goal <= 1.1)")
    print(f"project trainer / pure compute in the trainer's NHWC layout = "
          f"{best['project trainer'] / best['pure compute NHWC']:.2f}x")


if __name__ == "__main__":
    main()
