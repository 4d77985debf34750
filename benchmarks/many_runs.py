"""A runs folder that sweeps fill: `dropout-tui runs` and the console's first paint and idle CPU with 500, 5,000
and 50,000 run folders, measured side by side in one run.

    python benchmarks/many_runs.py [--runs 500,5000,50000] [--rows 1000] [--idle-seconds 10] [--size 120x40]
                                   [--against OLD_CHECKOUT]

Folders are written as a finished trainer leaves them (config, status, summary, --rows metric rows, a log); 50,000
folders of 1,000 rows are 4 GB, so `--rows 100` keeps the largest case to a few hundred MB (only the selected run's
metrics are ever read). `--against` measures another checkout of the project (PYTHONPATH) the same way, on the same
folders, right after this one: a before/after side by side.
`runs` is timed as a subprocess (best of 3); the console runs in a real pseudo-terminal (first paint: until
its status line shows; warm-up CPU: what it spends in the --settle-seconds after it, building its new-run form
once; idle CPU: user+system time over the next --idle-seconds with nothing changing)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from console_watch import run_in_pty  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]  # before any chdir: __file__ may be relative
sys.path.insert(0, str(PROJECT))
from tui_dropout.config import load_preset  # noqa: E402


def make_runs(root: Path, count: int, epochs: int = 1000) -> None:
    root.mkdir(parents=True, exist_ok=True)
    config = load_preset("D").to_dict()
    rows = "".join(json.dumps({"epoch": e, "loss": 2.3 / e, "lr": 0.01, "seconds": 0.5, "elapsed": 0.6 * e,
                               **({"train_acc": 0.5, "test_acc": 0.4} if e % 20 == 0 else {})}) + "\n"
                   for e in range(1, epochs + 1))
    base = time.time() - count * 60
    for i in range(count):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(base + i * 60))
        run = root / f"{stamp}-D-{i:04x}"
        run.mkdir()
        p_fc = round(0.1 * (i % 7 + 1), 1)
        (run / "config.json").write_text(json.dumps({**config, "epochs": epochs, "p_fc": p_fc, "seed": i % 3,
                                                     "study": f"s{i // 21}", "label": f"D p_fc={p_fc} seed={i % 3}"}))
        figures = {"best_test_acc": 0.6, "best_test_epoch": 800, "best_train_acc": 0.99, "best_train_epoch": 990,
                   "final_test_acc": 0.59, "final_train_acc": 0.99, "final_loss": 0.01, "elapsed": 600.0}
        (run / "status.json").write_text(json.dumps({"state": "finished", "created": base + i * 60, "epoch": epochs,
                                                     "epochs": epochs, "host": "bench", **figures}))
        (run / "summary.json").write_text(json.dumps({"state": "finished", "epochs_done": epochs, **figures}))
        (run / "metrics.jsonl").write_text(rows)
        (run / "train.log").write_text("epoch: 1000 time: 0.50 loss: 0.0100\n")
        os.utime(run, (base + i * 60 + 30,) * 2)  # ended a while ago, as a year of sweeps leaves them (not just
        # written: a listing re-reads a run folder written in the last 2 s), the newest a half minute ago


def time_runs(root: Path, env: dict) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "tui_dropout", "runs", "--runs-dir", str(root)],
                             capture_output=True, env=env)
        best = min(best, time.perf_counter() - t0)
        assert out.returncode == 0, out.stderr
    return best


def measure(root: Path, args, env: dict) -> dict:
    """`runs` cold (the first listing of the folder builds its index), then warm, then the console."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tui_dropout", "runs", "--runs-dir", str(root)], capture_output=True, env=env)
    cold = time.perf_counter() - t0
    warm = time_runs(root, env)
    size = tuple(int(x) for x in args.size.split("x"))
    console = run_in_pty([sys.executable, "-m", "tui_dropout", "--runs-dir", str(root)], env, size,
                         args.idle_seconds, b"x-axis", settle=args.settle_seconds)
    console["first_paint"] = console["first_paint"] or float("nan")  # never painted within the wait
    return {"cold": cold, "runs": warm, **console}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="500,5000,50000", help="folder counts, comma-separated, smallest first")
    ap.add_argument("--rows", type=int, default=1000, help="metric rows in each run")
    ap.add_argument("--idle-seconds", type=float, default=10.0)
    ap.add_argument("--settle-seconds", type=float, default=3.0,
                    help="wait after the first paint before idle CPU is measured (the form is built once, then)")
    ap.add_argument("--size", default="120x40")
    ap.add_argument("--against", help="another checkout of the project, measured the same way")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="many-runs-"))
    os.chdir(work)  # `python -m` puts the working folder first on sys.path: a checkout there would beat PYTHONPATH
    versions = {"this": str(PROJECT)}
    if args.against:
        versions["against"] = str(Path(args.against).resolve())
    envs = {name: {**os.environ, "PYTHONPATH": path, "COLUMNS": "120", "TUI_DROPOUT_CACHE": str(work / "cache"),
                   "PYTHONDONTWRITEBYTECODE": "1"} for name, path in versions.items()}
    try:
        results = {name: {} for name in versions}
        counts = [int(n) for n in args.runs.split(",")]
        for count in counts:
            t0 = time.perf_counter()
            make_runs(work / str(count), count, args.rows)
            print(f"made {count} run folders in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            for name, env in envs.items():  # each version builds its own index first (the formats may differ)
                results[name][count] = measure(work / str(count), args, env)
            shutil.rmtree(work / str(count))
        for name, path in versions.items():
            print(f"\n{name} ({path})")
            report(results[name], counts)
        if args.against:
            print("\nthis / against (under 1: this is faster)")
            for count in counts:
                a, b = results["this"][count], results["against"][count]
                print(f"{count:>8} folders: runs, first {a['cold'] / b['cold']:.2f}x; runs {a['runs'] / b['runs']:.2f}x; "
                      f"first paint {a['first_paint'] / b['first_paint']:.2f}x; idle CPU "
                      f"{a['cpu_fraction'] / max(b['cpu_fraction'], 1e-9):.2f}x; RSS {a['rss_mb'] / b['rss_mb']:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: dict, counts: list[int]) -> None:
    print(f"{'folders':>8} {'runs, first (s)':>16} {'runs (s)':>9} {'first paint (s)':>16} "
          f"{'warm-up CPU (s)':>16} {'idle CPU (% of a core)':>23} {'RSS (MB)':>9}")
    for count, r in results.items():
        print(f"{count:>8} {r['cold']:>16.2f} {r['runs']:>9.2f} {r['first_paint']:>16.2f} "
              f"{r['settle_cpu']:>16.2f} {r['cpu_fraction'] * 100:>23.2f} {r['rss_mb']:>9.0f}")
    small = results[counts[0]]
    for count in counts[1:]:
        large = results[count]
        print(f"{count}/{counts[0]} folders ({count / counts[0]:.0f}x): runs {large['runs'] / small['runs']:.2f}x, "
              f"first paint {large['first_paint'] / small['first_paint']:.2f}x")
    large = results[counts[-1]]
    print(f"goals at {counts[-1]}: runs < 1 s: {large['runs']:.2f} s ({large['runs']:.2f}x the bound); first paint "
          f"< 2 s: {large['first_paint']:.2f} s ({large['first_paint'] / 2:.2f}x); idle < 3% of a core: "
          f"{large['cpu_fraction'] * 100:.2f}% ({large['cpu_fraction'] / 0.03:.2f}x)")


if __name__ == "__main__":
    main()
