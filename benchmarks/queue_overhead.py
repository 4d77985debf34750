"""The local queue's overhead: eight short runs on two slots, against the ideal (their own training time divided
over the slots) and against two plain chains of four foreground runs, side by side in one run.

    python benchmarks/queue_overhead.py [--runs 8] [--slots 2] [--epochs 3]

A run's own time is from the moment its trainer was started to its end (status `dispatched` to `ended`), so
process start, imports and data loading count as the run's, not the queue's. Goal: makespan <= 1.15x ideal."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args, env):
    return subprocess.run([sys.executable, "-m", "tui_dropout", *map(str, args)], capture_output=True, text=True,
                          env=env)


def statuses(runs: Path) -> list[dict]:
    return [json.loads((p / "status.json").read_text()) for p in runs.iterdir() if not p.name.startswith(".")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="queue-overhead-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUI_DROPOUT_CACHE": str(work / "cache"), "OMP_NUM_THREADS": "1"}
    common = ["--epochs", args.epochs, "--set", "train_limit=600", "--device", "cpu"]
    cli("train", "--preset", "quick", "--epochs", 1, "--device", "cpu", "--runs-dir", work / "warm", env=env)  # decode cache

    # the queue: one command, N runs, S slots
    queued = work / "queued"
    t0 = time.time()
    out = cli("study", "quick", *common, "--seeds", args.runs, "--backend", "queue",
              "--gpus", ",".join(map(str, range(args.slots))), "--max-fused", 1, "--runs-dir", queued, env=env)
    assert out.returncode == 0, out.stderr
    while not all(s.get("state") == "finished" for s in statuses(queued)):
        time.sleep(0.2)
    done = statuses(queued)
    makespan = max(s["ended"] for s in done) - t0
    own = sum(s["ended"] - s["dispatched"] for s in done)
    ideal = own / args.slots

    # the baseline: S chains of foreground runs, no queue
    direct = work / "direct"
    per_chain = [args.runs // args.slots + (i < args.runs % args.slots) for i in range(args.slots)]

    def chain(count: int, index: int) -> None:
        for k in range(count):
            cli("train", "--preset", "quick", *common, "--seed", index * 100 + k, "--runs-dir", direct, env=env)

    t1 = time.time()
    threads = [threading.Thread(target=chain, args=(n, i)) for i, n in enumerate(per_chain)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    chains = time.time() - t1

    print(f"{args.runs} runs x {args.epochs} epochs on {args.slots} slots (CPU, one thread a trainer)")
    print(f"  queue makespan           {makespan:7.1f} s")
    print(f"  ideal (own time / slots) {ideal:7.1f} s   queue / ideal = {makespan / ideal:.3f}x (goal <= 1.15)")
    print(f"  two foreground chains    {chains:7.1f} s   queue / chains = {makespan / chains:.3f}x")


if __name__ == "__main__":
    main()
