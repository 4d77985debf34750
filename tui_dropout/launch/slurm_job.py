"""What a Slurm job runs (pickled by submitit, imported on the node): the trainer for one group of runs.

A job that reaches its time limit or is preempted gets SIGUSR2 from Slurm; submitit then calls `checkpoint`,
which stops the trainer after its current step (it saves a checkpoint), marks the runs queued again and hands
submitit a resuming job to requeue. A cancel request in the run folder stops it for good (scancel's SIGTERM is
ignored by submitit, so the folder is the way)."""
from __future__ import annotations

import os
import threading
import time

from ..store import RunBusy, RunDir


def slurm_job_id() -> str | None:
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


class SlurmTrainer:
    def __init__(self, run_dirs: list[str], claim: str, resume: bool = False):
        self.run_dirs = run_dirs
        self.claim = claim
        self.resume = resume

    def __call__(self) -> list[str]:
        from ..trainer.engine import Trainer

        runs = [RunDir(p) for p in self.run_dirs]
        try:
            for run in runs:
                run.take_ownership(self.claim)
        except RunBusy as exc:
            return [f"refused: {exc}"]
        for run in runs:
            run.update_status(job_id=slurm_job_id(), backend="slurm")
        self._stop = threading.Event()
        self._states: list[str] = []
        try:
            self._trainer = Trainer(runs, resume=self.resume, stop=self._stop, claim=self.claim)
        except Exception as exc:  # a config that cannot start: the runs say why, as the worker's do
            for run in runs:
                run.log(f"cannot start: {exc}")
                run.update_status(state="failed", error=f"cannot start: {exc}", ended=time.time())
            return ["failed"]
        trainer = self._trainer
        self._thread = threading.Thread(target=lambda: self._states.extend(trainer.run()), name="trainer")
        self._thread.start()
        while self._thread.is_alive():  # the main thread stays free for Slurm's signals
            self._thread.join(0.5)
        return self._states

    def checkpoint(self, *args, **kwargs):
        """Called by submitit on SIGUSR2 (time limit or preemption): stop, checkpoint, and come back resumed."""
        import submitit

        trainer, thread = getattr(self, "_trainer", None), getattr(self, "_thread", None)
        if trainer is not None and thread is not None:
            trainer.requeue = True  # it stops as 'queued' (checkpointed), not 'cancelled'
            trainer.stop.set()
            thread.join(600)
        return submitit.helpers.DelayedSubmission(SlurmTrainer(self.run_dirs, self.claim, resume=True))
