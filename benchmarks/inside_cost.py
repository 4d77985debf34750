"""What looking inside the network adds to an evaluated epoch on the CPU (LeNet-5, network D): the look-inside pass
(hooks on the hidden layers over 512 test images, histograms, inside.json's figures) beside the accuracy pass it
follows and a training epoch, measured side by side in one run; prints the ratios.

    python benchmarks/inside_cost.py [--images 50000] [--test 10000] [--rounds 3]

Images are random uint8 in CIFAR-10's shape (the cost does not depend on what they show); each figure is the best
of its rounds, the three alternating so machine noise hits them alike.
"""
from __future__ import annotations

import argparse
import time

import torch

from tui_dropout.config import load_preset
from tui_dropout.trainer.devicedata import normalize
from tui_dropout.trainer.inside import PROBE_IMAGES, look_inside
from tui_dropout.trainer.steppers import SoloStepper


def best_of(fn, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=50000, help="training images (CIFAR-10: 50,000)")
    ap.add_argument("--test", type=int, default=10000, help="test images (CIFAR-10: 10,000)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    cfg = load_preset("D").with_overrides(device="cpu")
    torch.manual_seed(0)
    stepper = SoloStepper(cfg, 3, 10, torch.device("cpu"))
    train_x = torch.randint(0, 256, (args.images, 3, 32, 32), dtype=torch.uint8)
    train_y = torch.randint(0, 10, (args.images,))
    test_x = torch.randint(0, 256, (args.test, 3, 32, 32), dtype=torch.uint8)
    probe = normalize(test_x[:PROBE_IMAGES])

    @torch.inference_mode()
    def accuracy() -> None:  # the engine's pass: the whole train and test sets, dropout off
        for images in (train_x, test_x):
            for start in range(0, len(images), cfg.eval_batch_size):
                stepper.eval_logits(normalize(images[start:start + cfg.eval_batch_size])).argmax(-1)
        stepper.train()

    def look() -> None:
        look_inside(stepper.model, cfg.network, probe, 1)

    def train_epoch() -> None:
        stepper.train()
        for start in range(0, args.images, cfg.batch_size):
            stepper.step(normalize(train_x[start:start + cfg.batch_size]), train_y[start:start + cfg.batch_size])

    look()  # first-call costs (hook registration paths, allocator) out of the figures
    figures = {"look inside": float("inf"), "accuracy pass": float("inf"), "training epoch": float("inf")}
    for r in range(args.rounds):
        figures["look inside"] = min(figures["look inside"], best_of(look, 1))
        figures["accuracy pass"] = min(figures["accuracy pass"], best_of(accuracy, 1))
        figures["training epoch"] = min(figures["training epoch"], best_of(train_epoch, 1))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v:.3f}s" for k, v in figures.items()), flush=True)
    print(f"\nCPU, {torch.get_num_threads()} threads, torch {torch.__version__}, LeNet-5 D, {args.images} train / "
          f"{args.test} test images, {PROBE_IMAGES} looked inside")
    for name, secs in figures.items():
        print(f"  {name:15} {secs:8.3f} s")
    evaluated = figures["training epoch"] + figures["accuracy pass"]
    print(f"look inside / accuracy pass           = {figures['look inside'] / figures['accuracy pass']:.3f}x")
    print(f"look inside / (epoch + accuracy pass) = {figures['look inside'] / evaluated:.3f}x  "
          "(what an evaluated epoch grows by)")


if __name__ == "__main__":
    main()
