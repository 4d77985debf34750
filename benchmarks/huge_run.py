"""One huge run among ordinary ones: the console's first paint and memory with it selected, and every export and
`show` of it, beside the same of an ordinary run (1,000 epochs), measured side by side in one run.

    python benchmarks/huge_run.py [--rows 1700000] [--log-mb 1024] [--idle-seconds 5] [--against OLD_CHECKOUT]

The huge run has --rows metric rows (1.7 M rows is about 245 MB of metrics.jsonl) and a train.log of --log-mb
megabytes. Every command runs as its own process: time is wall time, memory its peak resident size (from wait4).
The console runs in a real pseudo-terminal with the huge run selected (the newest); first paint is until its
status line shows, then it idles --idle-seconds (its metrics read in the background meanwhile) and its peak RSS
is taken. `--against` runs the same commands with another checkout of the project (PYTHONPATH) for a before/after."""
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

EXPORTS = ("csv", "jsonl", "md", "dir", "tensorboard")


def make_run(root: Path, name: str, rows: int, log_bytes: int, created: float) -> Path:
    run = root / name
    run.mkdir(parents=True)
    config = load_preset("D").to_dict()
    (run / "config.json").write_text(json.dumps({**config, "epochs": rows, "label": f"D {rows} epochs"}))
    figures = {"best_test_acc": 0.6, "best_test_epoch": rows // 2, "best_train_acc": 0.99, "best_train_epoch": rows,
               "final_test_acc": 0.59, "final_train_acc": 0.99, "final_loss": 0.01, "elapsed": 0.6 * rows}
    (run / "status.json").write_text(json.dumps({"state": "finished", "created": created, "epoch": rows,
                                                 "epochs": rows, "host": "bench", **figures}))
    (run / "summary.json").write_text(json.dumps({"state": "finished", "epochs_done": rows, **figures}))
    with open(run / "metrics.jsonl", "w") as f:
        for start in range(1, rows + 1, 10_000):
            f.write("".join(json.dumps({"epoch": e, "loss": 2.3 / e ** 0.3, "lr": 0.01 * 0.5 ** (e // 150_000),
                                        "seconds": 0.5 + (e % 97) / 997, "elapsed": 0.6 * e + (e % 89) / 887,
                                        **({"train_acc": 0.5 + e / rows / 3, "test_acc": 0.4 + e / rows / 4}
                                           if e % 20 == 0 else {})}) + "\n"
                            for e in range(start, min(start + 10_000, rows + 1))))
    line = "[2026-12-01 10:00:00] epoch: 1000 time: 0.50 loss: 0.0100 train_acc: 0.5000 test_acc: 0.4000\n"
    block = line * ((1 << 20) // len(line))
    with open(run / "train.log", "w") as f:
        for _ in range(max(1, log_bytes // len(block))):
            f.write(block)
    return run


def timed(cmd: list[str], env: dict, cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command, run to its end."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    assert proc.returncode == 0, f"{' '.join(cmd)} failed: {err[-2000:]}"
    return wall, usage.ru_maxrss / 1024


def measure(root: Path, run_id: str, env: dict, work: Path, args) -> dict:
    cli = [sys.executable, "-m", "tui_dropout"]
    out: dict = {}
    for fmt in EXPORTS:
        target = work / f"out-{run_id}-{fmt}"
        shutil.rmtree(target, ignore_errors=True)
        if target.is_file():
            target.unlink()
        out[f"export {fmt}"] = timed([*cli, "export", run_id, "--runs-dir", str(root), "--format", fmt, "-o",
                                      str(target), "--force"], env, work)
        shutil.rmtree(target, ignore_errors=True)
        if target.is_file():
            target.unlink()
    out["show"] = timed([*cli, "show", run_id, "--runs-dir", str(root), "--lines", "50"], env, work)
    return out


def console(root: Path, env: dict, args) -> dict:
    size = tuple(int(x) for x in args.size.split("x"))
    return run_in_pty([sys.executable, "-m", "tui_dropout", "--runs-dir", str(root)], env, size, args.idle_seconds,
                      b"x-axis")


CHART_READ = """
import sys, time
from tui_dropout.store import RunStore
from tui_dropout.watch import RunsWatcher
w = RunsWatcher(RunStore(sys.argv[1]))
w.refresh()
t0 = time.perf_counter()
s = w.series(sys.argv[2])
while getattr(w, "loading", lambda r: False)(sys.argv[2]):
    time.sleep(0.05)
    s = w.series(sys.argv[2])
print(time.perf_counter() - t0, len(s.epochs))
"""


def chart_read(root: Path, run_id: str, env: dict) -> tuple[float, int]:
    """How long the watcher takes to hold the huge run's whole (thinned) series, and how many points it holds."""
    out = subprocess.run([sys.executable, "-c", CHART_READ, str(root), run_id], env=env, capture_output=True,
                         text=True, check=True)
    seconds, points = out.stdout.split()
    return float(seconds), int(points)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_700_000)
    ap.add_argument("--log-mb", type=int, default=1024)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--size", default="120x40")
    ap.add_argument("--against", help="another checkout of the project, measured the same way")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="huge-run-"))
    os.chdir(work)  # `python -m` puts the working folder first on sys.path: a checkout there would beat PYTHONPATH
    try:
        t0 = time.perf_counter()
        now = time.time()
        huge_root, small_root = work / "huge", work / "small"
        make_run(huge_root, "20261201-100000-D-huge", args.rows, args.log_mb << 20, now)
        make_run(huge_root, "20261130-100000-D-aaaa", 1000, 4096, now - 86400)
        make_run(small_root, "20261201-100000-D-small", 1000, 4096, now)
        metrics_mb = (huge_root / "20261201-100000-D-huge" / "metrics.jsonl").stat().st_size / 2**20
        print(f"made the runs in {time.perf_counter() - t0:.1f}s: metrics.jsonl {metrics_mb:.0f} MB "
              f"({args.rows} rows), train.log {args.log_mb} MB", file=sys.stderr)
        versions = {"this": str(PROJECT)}
        if args.against:
            versions["against"] = str(Path(args.against).resolve())
        for version, path in versions.items():
            env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "120", "TUI_DROPOUT_CACHE": str(work / "cache")}
            small = measure(small_root, "20261201-100000-D-small", env, work, args)
            huge = measure(huge_root, "20261201-100000-D-huge", env, work, args)
            small["console"] = console(small_root, env, args)
            huge["console"] = console(huge_root, env, args)
            huge["chart"] = chart_read(huge_root, "20261201-100000-D-huge", env)
            print(f"\n{version} ({path}): huge run {args.rows} rows ({metrics_mb:.0f} MB), train.log {args.log_mb} MB; "
                  f"ordinary run 1000 rows")
            print(f"{'command':>18} {'huge (s)':>9} {'huge RSS (MB)':>14} {'ordinary (s)':>13} "
                  f"{'ordinary RSS (MB)':>18} {'RSS huge/ordinary':>18}")
            for name in (*(f"export {fmt}" for fmt in EXPORTS), "show"):
                (ht, hm), (st, sm) = huge[name], small[name]
                print(f"{name:>18} {ht:>9.2f} {hm:>14.0f} {st:>13.2f} {sm:>18.0f} {hm / sm:>17.2f}x")
            hc, sc = huge["console"], small["console"]
            print(f"{'console paint':>18} {hc['first_paint'] or float('nan'):>9.2f} {hc['rss_mb']:>14.0f} "
                  f"{sc['first_paint'] or float('nan'):>13.2f} {sc['rss_mb']:>18.0f} {hc['rss_mb'] / sc['rss_mb']:>17.2f}x")
            print(f"console idle CPU over {args.idle_seconds:.0f}s after paint (reading the metrics in the background): "
                  f"huge {hc['cpu_fraction'] * 100:.1f}%, ordinary {sc['cpu_fraction'] * 100:.1f}% of a core")
            worst = max(v[1] for n, v in huge.items() if n not in ("console", "chart"))
            print(f"the whole chart series, read by the console's watcher in the background: "
                  f"{huge['chart'][0]:.1f} s, {huge['chart'][1]} points held")
            print(f"goals: console paint < 3 s: {hc['first_paint'] or float('nan'):.2f} s; console < 300 MB: "
                  f"{hc['rss_mb']:.0f} MB; the largest export/show RSS {worst:.0f} MB against a {metrics_mb:.0f} MB "
                  f"metrics file ({worst / metrics_mb:.2f}x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
