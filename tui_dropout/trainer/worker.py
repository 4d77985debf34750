"""The trainer process: `python -m tui_dropout.trainer.worker [--resume] [--claim T] RUN_DIR...`.

SIGTERM (or a cancel request in the run folder) stops it after the current step; SIGHUP is ignored."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from ..states import State
from ..store import RunBusy, RunDir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tui_dropout.trainer.worker")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--claim", default=None, help="the token the launcher claimed the runs with")
    parser.add_argument("run_dirs", nargs="+")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a dropped SSH link must not end the run
    runs = [RunDir(p) for p in args.run_dirs]
    try:  # before torch is imported: a refused trainer costs a fraction of a second
        for run in runs:
            run.take_ownership(args.claim)
    except RunBusy as exc:  # another trainer owns a run: touch nothing
        for run in runs:
            run.release_ownership()
        print(str(exc), file=sys.stderr)
        return 2
    try:
        from .engine import Trainer

        trainer = Trainer(runs, resume=args.resume, stop=stop, claim=args.claim)
    except Exception as exc:  # a config that cannot start still leaves a readable failed run
        for run in runs:
            run.log(f"cannot start: {exc}")
            run.update_status(state=State.FAILED, error=f"cannot start: {exc}")
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    states = trainer.run()
    return 0 if all(s in (State.FINISHED, State.CANCELLED) for s in states) else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Every file is written and closed by now; skipping the interpreter's teardown (torch's takes a second or
    # two) frees the run's slot in the queue at once.
    os._exit(code)
