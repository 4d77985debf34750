"""The seed's four-network study on one GPU: seed loop vs solo trainer vs fused study, side by side.

    python benchmarks/gpu_study.py                    # timings, projection and ratios (~2-3 min on a GPU)
    python benchmarks/gpu_study.py --variants         # also: fused without channels_last, with torch.compile
    python benchmarks/gpu_study.py --full-study       # then A B C D x 3 seeds, 1000 epochs, fused: results.md
    python benchmarks/gpu_study.py --smoke            # tiny sizes on CPU: checks this script, measures nothing

Data: the real CIFAR-10 images (JPEG copy, `--tarball`), unpacked, decoded once by the project's
imagefolder reader, and written in the cifar-10-batches-py layout for the seed's loop, so all
three read the same 50,000 images.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tarfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from seedloop import seed_epoch_seconds, seed_eval_seconds, write_cifar_layout  # noqa: E402

from tui_dropout.config import load_preset  # noqa: E402
from tui_dropout.data import load_arrays  # noqa: E402
from tui_dropout.trainer.engine import Trainer  # noqa: E402
from tui_dropout.groups import FIGURES, seed_groups  # noqa: E402
from tui_dropout.launch.plan import expand  # noqa: E402
from tui_dropout.store import RunStore  # noqa: E402

DEFAULT_TARBALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"
STUDY_EPOCHS, EVAL_EVERY = 1000, 20


def unpack(tarball: Path, work: Path) -> Path:
    root = work / "cifar10-jpeg"
    if not (root / "train").is_dir():
        root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as tar:
            tar.extractall(root, filter="data")
    return root


def timed_runs(store: RunStore, presets: list[str], overrides: dict) -> dict:
    """Train the presets together (fused when several) and read back per-epoch train and eval seconds."""
    cfgs = [load_preset(p).with_overrides(**overrides) for p in presets]
    runs = [store.create(c.to_dict()) for c in cfgs]
    t0 = time.time()
    states = Trainer(runs).run()
    wall = time.time() - t0
    assert all(s == "finished" for s in states), [r.read_status().get("error") for r in runs]
    rows = runs[0].read_metrics()
    secs = [r["seconds"] for r in rows]
    gaps = [rows[i]["elapsed"] - rows[i - 1]["elapsed"] - rows[i]["seconds"] for i in range(1, len(rows))]
    eval_gaps = [g for g, r in zip(gaps, rows[1:]) if "test_acc" in r]
    plain_gaps = [g for g, r in zip(gaps, rows[1:]) if "test_acc" not in r] or [0.0]
    return {"epoch": statistics.median(secs[1:] or secs), "first_epoch": secs[0],
            "eval": max(0.0, statistics.median(eval_gaps) - statistics.median(plain_gaps)) if eval_gaps else None,
            "startup": rows[0]["elapsed"] - secs[0], "wall": wall, "runs": runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "gpu-study")
    ap.add_argument("--epochs", type=int, default=6, help="epochs timed per configuration")
    ap.add_argument("--variants", action="store_true")
    ap.add_argument("--full-study", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per network in the full study")
    args = ap.parse_args()
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("error: device: no CUDA GPU here (use --smoke to check the script on CPU)")
    os.environ["TUI_DROPOUT_CACHE"] = str(args.work / "cache")
    t = time.time()
    root = unpack(args.tarball, args.work)
    arrays = load_arrays("imagefolder", str(root))
    limit = 2000 if args.smoke else None
    tx, ty = arrays.train_x[:limit], arrays.train_y[:limit]
    seed_root = write_cifar_layout(args.work / "pickles", tx, ty, arrays.test_x[:limit and 500],
                                   arrays.test_y[:limit and 500])
    print(f"data ready in {time.time() - t:.1f}s: {len(ty)} train images", flush=True)
    card = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    print(f"device: {card}, torch {torch.__version__}", flush=True)

    dev = torch.device(device)
    seed_epoch = seed_epoch_seconds(seed_root, dev, p=0.5)
    seed_eval = seed_eval_seconds(seed_root, dev)
    print(f"seed loop: {seed_epoch:.2f} s/epoch, evaluation {seed_eval:.2f} s", flush=True)

    store = RunStore(args.work / "runs")
    base = {"dataset": "imagefolder", "data_dir": str(root), "device": device, "epochs": args.epochs,
            "eval_every": 2, "checkpoint_every": 1000}
    if limit:
        base["train_limit"] = limit
    results = {"solo D": timed_runs(store, ["D"], base),
               "fused A B C D": timed_runs(store, ["A", "B", "C", "D"], base)}
    if args.variants:
        results["fused, NCHW"] = timed_runs(store, ["A", "B", "C", "D"], {**base, "channels_last": False})
        results["fused, compiled"] = timed_runs(store, ["A", "B", "C", "D"], {**base, "compile": True})
    for name, r in results.items():
        print(f"{name:16} {r['epoch']:.3f} s/epoch (first {r['first_epoch']:.2f}), eval {r['eval'] or 0:.3f} s, "
              f"start-up {r['startup']:.1f} s", flush=True)

    fused = results["fused A B C D"]
    n_evals = STUDY_EPOCHS // EVAL_EVERY + (STUDY_EPOCHS % EVAL_EVERY != 0)
    study = fused["startup"] + fused["first_epoch"] + (STUDY_EPOCHS - 1) * fused["epoch"] + n_evals * (fused["eval"] or 0)
    seed_study = 4 * (STUDY_EPOCHS * seed_epoch + STUDY_EPOCHS // EVAL_EVERY * seed_eval)
    print(f"\nprojected four-network {STUDY_EPOCHS}-epoch study: {study:.0f} s fused (goal <= 90 s); "
          f"seed loop {seed_study / 3600:.1f} h")
    print(f"seed loop / solo trainer, per epoch      = {seed_epoch / results['solo D']['epoch']:.1f}x")
    print(f"throughput, fused vs seed loop (4 nets)  = {4 * seed_epoch / fused['epoch']:.1f}x  (goal >= 50)")
    print(f"whole study, seed loop / fused           = {seed_study / study:.1f}x")
    summary = {"card": card, "seed_epoch": seed_epoch, "seed_eval": seed_eval, "projected_study_s": study,
               **{k: {kk: vv for kk, vv in v.items() if kk != "runs"} for k, v in results.items()}}
    out = os.environ.get("OUT")
    if out:  # noqa: SIM102
        Path(out, "gpu_study.json").write_text(json.dumps(summary, indent=2))

    if args.full_study:
        overrides = {k: v for k, v in base.items() if k not in ("epochs", "eval_every")}
        if args.smoke:
            overrides["epochs"] = 3
        bases = [load_preset(p).with_overrides(**{**overrides, "eval_every": EVAL_EVERY, "checkpoint_every": 100})
                 for p in "ABCD"]
        cfgs = expand(bases, {}, list(range(args.seeds)))
        runs = [store.create(c.to_dict()) for c in cfgs]  # one fused pass: 4 networks x seeds members
        t0 = time.time()
        states = Trainer(runs).run()
        wall = time.time() - t0
        assert all(s == "finished" for s in states), [r.read_status().get("error") for r in runs]
        table = results_markdown([r.info() for r in runs], card, wall, args)
        print(f"\nfull study on {card}: {wall:.0f} s wall\n\n{table}")
        if out:
            Path(out, "results.md").write_text(table)


SEED_TABLE = {"A": ("100%", "60.45%"), "B": ("99.84%", "61.47%"), "C": ("57.04%", "-"), "D": ("50.93%", "-")}


def results_markdown(infos, card: str, wall: float, args) -> str:
    """The table for docs/results.md: per network, final and best accuracy as mean±std over the seeds."""
    lines = [f"{len(infos)} runs ({len(infos) // 4} seeds x A B C D), fused in one pass on {card}, "
             f"{wall:.0f} s wall. Command: `python benchmarks/gpu_study.py --full-study --seeds {args.seeds}`.",
             "", "| network | n | final train | final test | best train | best test | seed's table (train / test) |",
             "|---|---|---|---|---|---|---|"]
    for group in seed_groups(infos):
        preset = group.runs[0].preset
        cells = [group.figure(f).text(digits=2) for f in FIGURES[:4]]
        lines.append(f"| {preset} | {group.n} | " + " | ".join(f"{c}%" if c != "-" else c for c in cells)
                     + f" | {' / '.join(SEED_TABLE.get(preset, ('-', '-')))} |")
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    main()
