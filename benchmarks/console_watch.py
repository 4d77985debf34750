"""The console watching a live run, in a real pseudo-terminal, beside a bare Textual app: first paint, CPU, memory.

    python benchmarks/console_watch.py [--seconds 30] [--size 120x40]

A detached trainer (the `quick` preset, many epochs) writes a metric line every few hundredths of a
second while `dropout-tui` watches it with its charts live; a Textual app with one Static runs for
the same time in its own terminal as the baseline. CPU is each process's user+system time over the
wall time it ran (from /proc), memory its peak resident size.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

BARE_APP = """
from textual.app import App
from textual.widgets import Static, Footer
class Bare(App):
    def compose(self):
        yield Static("bare textual app: ? for help")
        yield Footer()
Bare().run()
"""


def run_in_pty(cmd: list[str], env: dict, size: tuple[int, int], seconds: float, marker: bytes,
               settle: float = 0.0) -> dict:
    """First paint (until `marker` shows), then CPU over `seconds`, begun `settle` seconds after the first paint
    (the console builds its new-run form once while idle after it: a warm-up, not its idle cost)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                            start_new_session=True)
    os.close(slave)
    seen = bytearray()
    first_paint = [None]

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            if first_paint[0] is None:
                seen.extend(chunk)
                if marker in seen:
                    first_paint[0] = time.perf_counter() - start
                    seen.clear()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = time.time() + 20
    while first_paint[0] is None and time.time() < deadline:
        time.sleep(0.01)
    warm0 = _cpu_seconds(proc.pid)
    time.sleep(settle)
    warm_up = _cpu_seconds(proc.pid) - warm0
    t0_cpu = _cpu_seconds(proc.pid)
    t0 = time.perf_counter()
    time.sleep(seconds)
    cpu = _cpu_seconds(proc.pid) - t0_cpu
    wall = time.perf_counter() - t0
    rss = _peak_rss_mb(proc.pid)
    proc.terminate()
    proc.wait(10)
    os.close(master)
    return {"first_paint": first_paint[0], "cpu_fraction": cpu / wall, "rss_mb": rss, "settle_cpu": warm_up}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--size", default="120x40")
    args = ap.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="console-watch-"))
    env = {**os.environ, "TERM": "xterm-256color", "TUI_DROPOUT_CACHE": str(work / "cache"),
           "TUI_DROPOUT_RUNS": str(work / "runs")}
    subprocess.run([sys.executable, "-m", "tui_dropout", "train", "--preset", "quick", "--epochs", "1",
                    "--device", "cpu"], env=env, check=True, capture_output=True)  # warm the decode cache
    started = subprocess.run([sys.executable, "-m", "tui_dropout", "train", "--preset", "quick", "--epochs",
                              "100000", "--device", "cpu", "--set", "train_limit=100", "--detach"],
                             env=env, check=True, capture_output=True, text=True)
    run_id = started.stdout.strip()
    time.sleep(3)
    try:
        console = run_in_pty([sys.executable, "-m", "tui_dropout"], env, size, args.seconds, b"x-axis")
        bare = run_in_pty([sys.executable, "-c", BARE_APP], env, size, args.seconds, b"bare textual app")
    finally:
        subprocess.run([sys.executable, "-m", "tui_dropout", "cancel", run_id], env=env, capture_output=True)
    epochs = len((work / "runs" / run_id / "metrics.jsonl").read_text().splitlines())
    print(f"watched run {run_id}: {epochs} epochs written while measuring; terminal {args.size}, "
          f"{args.seconds:.0f} s each")
    for name, r in (("dropout-tui", console), ("bare Textual app", bare)):
        paint = "n/a" if r["first_paint"] is None else f"{r['first_paint']:.2f} s"
        print(f"  {name:17} first paint {paint:>7}   CPU {r['cpu_fraction'] * 100:5.2f}% of a core   "
              f"peak RSS {r['rss_mb']:6.1f} MB")
    print(f"console CPU / bare app CPU = {console['cpu_fraction'] / max(bare['cpu_fraction'], 1e-9):.1f}x;  "
          f"console CPU = {console['cpu_fraction'] * 100:.2f}% of a core (goal < 3%), "
          f"peak RSS {console['rss_mb']:.0f} MB (goal < 200), first paint {console['first_paint'] or float('nan'):.2f} s "
          f"(goal < 1.5)")


if __name__ == "__main__":
    main()
