"""What a Slurm job runs (pickled by submitit, imported on the node): the trainer for one group of runs.

A job told to stop by Slurm checkpoints and comes back: SIGUSR2 (sent `signal_delay_s` before the time limit,
or by a preemption set up that way) reaches submitit, which calls `checkpoint`; SIGTERM (a preemption, `scontrol
requeue`: what most clusters send) is turned into the same. `checkpoint` stops the trainer after its current step
(it saves a checkpoint), marks the runs queued again and hands submitit a job to requeue; the requeued job starts
after that checkpoint. A SIGTERM is a cancel instead when the run folder holds a cancel request (`dropout-tui
cancel` writes one, then scancels) or Slurm is ending the job for good (a plain `scancel`): the trainer stops
with a checkpoint, as cancelled."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from ..states import State
from ..store import RunBusy, RunDir


def slurm_job_id() -> str | None:
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID")


def job_ending() -> bool:
    """True when Slurm ends this job for good: it no longer reads RUNNING (a `scancel` makes it COMPLETING at once)
    and was not requeued (`scontrol requeue` and a requeueing preemption count a restart before their SIGTERM).
    False when Slurm cannot say: the job is then kept, as for a preemption."""
    job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return False
    try:
        out = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    fields = dict(word.split("=", 1) for word in out.stdout.split() if "=" in word)
    state, restarts = fields.get("JobState", ""), fields.get("Restarts", "")
    if out.returncode != 0 or not state or not restarts.isdigit():
        return False
    started = os.environ.get("SLURM_RESTART_COUNT", "0")
    return state not in ("RUNNING", "SUSPENDED") and int(restarts) <= int(started if started.isdigit() else 0)


class SlurmTrainer:
    def __init__(self, run_dirs: list[str], claim: str, resume: bool = False):
        self.run_dirs = run_dirs
        self.claim = claim
        self.resume = resume

    def __call__(self) -> list[str]:
        from ..trainer.engine import Trainer

        self._stopping = False
        self._requeue_handler = signal.getsignal(signal.SIGUSR2)  # submitit's: checkpoint, requeue, exit
        signal.signal(signal.SIGTERM, self._on_sigterm)
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
                run.update_status(state=State.FAILED, error=f"cannot start: {exc}", ended=time.time())
            return [State.FAILED]
        trainer = self._trainer
        self._thread = threading.Thread(target=lambda: self._states.extend(trainer.run()), name="trainer")
        self._thread.start()
        while self._thread.is_alive():  # the main thread stays free for Slurm's signals
            self._thread.join(0.5)
        return self._states

    def _cancel_requested(self) -> bool:
        return any(RunDir(p).cancel_requested() for p in self.run_dirs)

    def _on_sigterm(self, signum, frame) -> None:
        """SIGTERM: a cancel when the folder asks for one or Slurm is ending the job for good (`scancel`), else a
        preemption (checkpoint and requeue, as USR2).

        It may come twice (from slurmd and forwarded by srun): the second finds the first at work."""
        if self._stopping:
            return
        thread = getattr(self, "_thread", None)
        live = thread is not None and thread.is_alive()
        ended = live and not self._cancel_requested() and job_ending()
        if ended:  # a cancel all the same: the run says so (once), and keeps its checkpoint for `resume`
            self._stopping = True
            for path in self.run_dirs:
                RunDir(path).log("Slurm ended the job (scancel): stopped with a checkpoint; resume continues it")
        if ended or self._cancel_requested() or (thread is not None and not live):
            stop = getattr(self, "_stop", None)
            if stop is not None:
                stop.set()  # the trainer stops as cancelled (or has ended); the job then ends by itself
            return
        self._stopping = True
        handler = self._requeue_handler
        if not callable(handler):  # not run by submitit (no handler to requeue with): stop with a checkpoint
            self.checkpoint()
            return
        try:
            handler(signum, frame)  # submitit uses the number only in its log line: it then names SIGTERM
        except subprocess.CalledProcessError:
            # `scontrol requeue` refused: Slurm is requeueing the job itself (scontrol requeue, preemption) or
            # ends it (scancel). The runs are checkpointed and queued: back with the job, else `lost`, resumable.
            raise SystemExit(-1) from None

    def checkpoint(self, *args, **kwargs):
        """Called by submitit on SIGUSR2 (time limit or preemption) and by SIGTERM: stop, checkpoint, and come
        back resumed. None (no requeue) when the runs ended already or a cancel was asked for."""
        import submitit

        self._stopping = True
        trainer, thread = getattr(self, "_trainer", None), getattr(self, "_thread", None)
        if self._cancel_requested():
            if trainer is not None:
                trainer.stop.set()
                if thread is not None:
                    thread.join(600)
            return None
        if trainer is not None and thread is not None:
            if not thread.is_alive():
                return None  # finished (or failed) before the signal: nothing to come back for
            trainer.requeue = True  # it stops as 'queued' (checkpointed), not 'cancelled'
            trainer.stop.set()
            thread.join(600)
        return submitit.helpers.DelayedSubmission(SlurmTrainer(self.run_dirs, self.claim, resume=True))
