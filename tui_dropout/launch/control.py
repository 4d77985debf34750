"""Steering runs wherever they train: claim for one trainer, cancel through the folder, find what resumes."""
from __future__ import annotations

import os
import signal
import time

from ..errors import RunRefused
from ..states import ENDED, State
from ..config import ConfigError, RunConfig
from ..preflight import preflight
from ..store import ACTIVE, RunBusy, RunDir, RunStore, effective_state, proven_process
from ..store.rundir import owner_text
from ..store.slurm import scancel


def claim_group(runs: list[RunDir]) -> str:
    """Claim every run for one new trainer with one token; on RunBusy nothing stays claimed by us."""
    token = None
    claimed: list[tuple[RunDir, dict]] = []
    try:
        for run in runs:
            before = run.read_status()
            token = run.claim(token)
            claimed.append((run, before))
    except RunBusy:
        for run, before in claimed:  # put back what was there
            run.update_status(**{**before, "claim": None})
        raise
    assert token is not None
    return token


def cancel(run: RunDir) -> str:
    """Stop a run: a queued one leaves its queue at once; a running one gets a request in its folder that its
    trainer honours wherever it runs. SIGTERM is only a fast path, sent to a pid proven to be the run's trainer
    (this host, same process start time); a Slurm job is also scancel'ed once it stops."""
    status = run.read_status()
    state = effective_state(status)
    if state in ENDED:
        raise RunRefused("run", f"{run.run_id} is already {state}")
    job = status.get("job_id") if status.get("backend") == "slurm" else None
    if state == State.QUEUED and not status.get("pid") and run.leave_queue():
        if isinstance(job, str):
            scancel(job)  # still pending in Slurm: it never starts
        run.log("cancelled while queued")
        return State.CANCELLED
    run.request_cancel()
    if isinstance(job, str):
        scancel(job)  # submitit ignores scancel's SIGTERM: the trainer stops on the request above, then the job ends
    if state == State.LOST:
        # only if it is still lost: a resume elsewhere may have taken it since we looked
        if run.update_status_if(lambda now: effective_state(now) == State.LOST, state=State.CANCELLED, ended=time.time()):
            run.clear_cancel_request()
            run.log("cancelled (no live trainer)")
            return State.CANCELLED
    # only a trainer that says "running" has its SIGTERM handler in place: one still starting (queued, with a
    # pid) would die of the signal and leave the run lost; it sees the request within a second of starting
    pid = proven_process(status) if state == State.RUNNING else None
    if pid is not None:
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGTERM)
            else:
                os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    return "stopping"


def resume_group(store: RunStore, run: RunDir, local_device: bool = True) -> list[RunDir]:
    """The runs to resume with `run`: its fused partners that stopped with it, else the run alone.

    A run with no checkpoint (killed before its first, or never started) resumes too: from epoch 1.
    local_device=False leaves the device to the machine that will train (a Slurm node)."""
    info = run.info()
    if info.damaged:
        raise RunRefused("run", f"{run.run_id} cannot resume: {info.problem}")
    status = info.status
    state = effective_state(status)
    if state in ACTIVE:
        raise RunBusy(owner_text(run.run_id, status, state))
    if state not in (State.LOST, State.CANCELLED, State.FAILED):
        raise RunRefused("run", f"{run.run_id} is {state}; only lost, cancelled or failed runs resume")
    config_problem(run, local_device)
    group = status.get("group")
    members = []
    for run_id in group if isinstance(group, list) else [run.run_id]:
        try:
            other = run if run_id == run.run_id else store.find(str(run_id))
        except KeyError:
            continue
        if other.run_id != run_id or not other.has_checkpoint():
            continue
        if effective_state(other.read_status()) in (State.LOST, State.CANCELLED):
            members.append(other)
    if run not in members or not run.has_checkpoint():
        return [run]
    for other in members:
        config_problem(other, local_device)
    return members


def config_problem(run: RunDir, local_device: bool = True) -> None:
    """Refuse (RunRefused, one line) a run whose config.json no longer passes the checks a new run's does (the
    values, the device, the data): an edit to `epochs=-1`, `lr=NaN`, an unknown key or a GPU this machine lacks
    would fail the trainer after the run was claimed."""
    try:
        preflight(RunConfig.from_dict(run.read_config()), local_device)
    except (ConfigError, TypeError, ValueError, OSError) as exc:
        raise RunRefused("run", f"{run.run_id} cannot resume: config.json: {exc}") from None
