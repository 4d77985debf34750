"""How long the new-run form takes to open (`n`), in a real pseudo-terminal, against another checkout side by side.

    python benchmarks/form_open.py [--against OLD_CHECKOUT] [--rounds 5] [--size 120x40]

Each round starts `dropout-tui` over the same small runs folder in a pseudo-terminal, waits for its first paint and
for the console to be idle (no output, no CPU time), presses `n` and times until the form's Launch button is on the
terminal (the first open); then escape, idle again, and `n` once more (a second open). With `--against`, each round
measures the other checkout (PYTHONPATH) right after this one, so both see the same load. Medians are printed,
and the ratio of the two."""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
READY = b"x-axis"  # the main screen's status line: the console has painted
FORM = b"Launch (enter)"  # the form's button: the form has painted
QUIET_SECONDS = 0.4  # no output and no CPU time for this long: the console is idle
LIMIT_SECONDS = 30.0


class Terminal:
    """A process in a pseudo-terminal, its output collected by a thread."""

    def __init__(self, cmd: list[str], env: dict, size: tuple[int, int], cwd: Path):
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                                     close_fds=True, start_new_session=True)
        os.close(slave)
        self.out = bytearray()
        self.last = time.perf_counter()
        self.lock = threading.Lock()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.out.extend(chunk)
                self.last = time.perf_counter()

    def wait_for(self, marker: bytes, since: int) -> float:
        """Seconds until `marker` shows in the output written after offset `since`."""
        start = time.perf_counter()
        while time.perf_counter() - start < LIMIT_SECONDS:
            with self.lock:
                if len(self.out) > since and marker in self.out[since:]:
                    return time.perf_counter() - start
            time.sleep(0.002)
        raise TimeoutError(f"{marker!r} never showed")

    def quiet(self) -> None:
        """Until the terminal has had no output and the process no CPU time for QUIET_SECONDS: the console is
        idle (whatever it does while idle, such as composing the next form, is done)."""
        start = time.perf_counter()
        cpu, since = self.cpu(), time.perf_counter()
        while time.perf_counter() - start < LIMIT_SECONDS:
            time.sleep(0.05)
            now_cpu = self.cpu()
            if now_cpu != cpu:
                cpu, since = now_cpu, time.perf_counter()
            if time.perf_counter() - max(since, self.last) >= QUIET_SECONDS:
                return

    def cpu(self) -> int:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def press(self, keys: bytes, marker: bytes) -> float:
        """Send keys; seconds from sending them until `marker` shows."""
        with self.lock:
            since = len(self.out)
        start = time.perf_counter()
        os.write(self.master, keys)
        self.wait_for(marker, since)
        return time.perf_counter() - start

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self.master)


def one_round(checkout: Path, work: Path, size: tuple[int, int]) -> tuple[float, float]:
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(checkout), "TUI_DROPOUT_CACHE": str(work / "cache"),
           "DROPOUT_TUI_BELL": "0"}
    term = Terminal([sys.executable, "-m", "tui_dropout", "--runs-dir", str(work / "runs")], env, size, work)
    try:
        term.wait_for(READY, 0)
        term.quiet()
        first = term.press(b"n", FORM)
        term.quiet()
        term.press(b"\x1b", b"")  # escape alone: output follows once the terminal parser gives up waiting for more
        term.quiet()
        second = term.press(b"n", FORM)
    finally:
        term.close()
    return first, second


def make_runs(root: Path, count: int = 12) -> None:
    """Finished runs as a trainer leaves them: enough for a list, cheap to write."""
    base = time.time() - count * 60
    for i in range(count):
        run = root / (time.strftime("%Y%m%d-%H%M%S", time.localtime(base + i * 60)) + f"-quick-{i:04x}")
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({"preset": "quick", "epochs": 5, "p_fc": 0.5, "seed": i}))
        (run / "status.json").write_text(json.dumps({"state": "finished", "created": base + i * 60, "epoch": 5,
                                                     "epochs": 5}))
        (run / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "loss": 2.3 / e, "lr": 0.01,
                                                               "seconds": 0.1}) + "\n" for e in range(1, 6)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--against", help="another checkout of the project, measured the same way in each round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size", default="120x40")
    args = ap.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    work = Path(tempfile.mkdtemp(prefix="form-open-"))
    make_runs(work / "runs")
    checkouts = {"this checkout": PROJECT}
    if args.against:
        checkouts["against"] = Path(args.against).resolve()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in checkouts}
    for _ in range(args.rounds):
        for name, checkout in checkouts.items():
            times[name].append(one_round(checkout, work, size))
    print(f"new-run form open, terminal {args.size}, median of {args.rounds} rounds (first open / second open):")
    medians = {}
    for name, checkout in checkouts.items():
        first = statistics.median(t[0] for t in times[name])
        second = statistics.median(t[1] for t in times[name])
        medians[name] = (first, second)
        print(f"  {name:14} {first:6.3f} s / {second:6.3f} s   ({checkout})")
    if args.against:
        (a1, a2), (b1, b2) = medians["this checkout"], medians["against"]
        print(f"against / this checkout = {b1 / a1:.2f}x (first open), {b2 / a2:.2f}x (second open); "
              f"goal: under 0.3 s")


if __name__ == "__main__":
    main()
