"""The training loop: K runs stepped together over one device-resident dataset, each writing its own folder."""
from __future__ import annotations

import errno
import math
import platform
import sys
import threading
import time
import traceback
from typing import Any, Callable

import torch

from .. import __version__
from ..config import ConfigError, RunConfig, validate
from ..data import DataError, load_arrays
from ..errors import DropoutTuiError
from ..fusion import fusable, fused_pass
from ..states import State
from ..store import RunBusy, RunDir, host_and_pid
from ..store.files import sweep_temp_files
from . import checkpoints
from .devicedata import DeviceData, normalize
from .networks import input_size
from .devices import apply_numerics, check_device_present, numerics_record, resolve_device
from .func_fused import FuncStepper
from .fused import FusedStepper
from .inside import PROBE_IMAGES, look_inside
from .members import Heartbeat, Member
from .order import BatchOrder
from .steppers import SoloStepper, Stepper, scheduler_state

Progress = Callable[[dict[str, Any]], None]


class StopRequested(DropoutTuiError):
    """Raised inside a step to stop training after it (a cancel); caught by the engine itself."""


def make_stepper(cfgs: list[RunConfig], channels: int, classes: int, device: torch.device) -> Stepper:
    if len(cfgs) == 1:
        torch.manual_seed(cfgs[0].seed)
        return SoloStepper(cfgs[0], channels, classes, device)
    if fused_pass(cfgs) == "grouped":  # LeNet-5's hand-written pass, faster where it applies
        return FusedStepper(cfgs, channels, classes, device)
    return FuncStepper(cfgs, channels, classes, device)


class Trainer:
    """Trains the runs in `runs` (one folder each) together; fresh or resumed from their checkpoints.

    Where it starts is decided from the folders alone (`_start_point`); `resume` only says the launch meant to
    continue the runs, so that a missing checkpoint is warned about."""

    def __init__(self, runs: list[RunDir], resume: bool = False, stop: threading.Event | None = None,
                 progress: Progress | None = None, claim: str | None = None):
        self.members = [Member(r, RunConfig.from_dict(r.read_config())) for r in runs]
        self.resume = resume
        self.claim = claim
        self.stop = stop or threading.Event()
        self.requeue = False  # set before `stop` by a Slurm job told to checkpoint: stop as queued, not cancelled
        self.progress = progress or (lambda event: None)
        cfgs = [m.cfg for m in self.members]
        for cfg in cfgs:
            validate(cfg)
        differing = fusable(cfgs)
        if differing:
            raise ValueError(f"{differing}: runs trained together must share it")
        self.cfg = cfgs[0]
        self.t_session = time.time()

    def elapsed(self, m: Member) -> float:
        """Wall seconds since the run first started, across resumes."""
        return m.wall_before + time.time() - self.t_session

    # ----- status and files ---------------------------------------------------------------
    def _status_all(self, **changes: Any) -> None:
        for m in self.members:
            if m.active:
                m.run.update_status(**changes)

    def _finish(self, m: Member, state: str, error: str | None = None) -> None:
        now = time.time()
        m.active, m.state, m.error = False, state, error
        wall = round(self.elapsed(m), 3)
        summary = {"state": state, "epochs_done": m.epochs_done, "epochs": m.cfg.epochs,
                   "train_seconds": round(m.train_seconds, 3), "wall_seconds": wall, "error": error, **m.figures()}
        m.run.write_summary(summary)  # first: the status change that follows tells readers to look at both
        m.run.update_status(state=state, error=error, ended=now, heartbeat=now, epoch=m.epochs_done, elapsed=wall,
                            **m.figures())
        if state == State.CANCELLED:
            m.run.clear_cancel_request()
        m.run.log(f"run {state}" + (f": {error}" if error else ""))

    def _requeued(self, m: Member) -> None:
        """Stopped for a Slurm time limit or preemption: checkpointed, and waiting to come back (no summary)."""
        m.active, m.state = False, State.QUEUED
        # the log line first: once the status says `requeued`, the log already says why
        m.run.log("Slurm time limit or preemption: checkpointed, requeued to resume")
        m.run.update_status(state=State.QUEUED, pid=None, pid_start=None, ended=None, requeued=time.time(),
                            epoch=m.epochs_done, elapsed=round(self.elapsed(m), 3), **m.figures())

    def _note(self, text: str) -> None:
        """A warning worth a line in every member's log and in the foreground progress."""
        for m in self.members:
            m.run.log(f"warning: {text}")
        self.progress({"kind": "warning", "text": text})

    # ----- checkpoints ----------------------------------------------------------------------
    def _save_checkpoints(self, stepper: Stepper, epoch: int, order: BatchOrder,
                          partial: dict[str, Any] | None = None) -> None:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        if partial:
            partial = {**partial, "perm": partial["perm"].cpu()}  # one copy, shared by every member's file
        for k, m in enumerate(self.members):
            if not m.active and m.state == State.FAILED:
                continue
            ckpt = {"epoch": epoch, "member": stepper.member_state(k), "scheduler": scheduler_state(m.cfg, epoch),
                    "rng": {**rng, "perm": order.state(k)}, "partial": _partial_for(partial, k),
                    "figures": m.figures(),
                    "train_seconds": m.train_seconds, "wall_seconds": self.elapsed(m),
                    "group": [x.run.run_id for x in self.members], "index": k}
            checkpoints.save(m.run.checkpoint_path, ckpt)

    def _load_checkpoints(self, stepper: Stepper, order: BatchOrder) -> tuple[int, dict[str, Any] | None]:
        ckpts = [checkpoints.load(m.run.checkpoint_path, self.device) for m in self.members]
        epochs = {c["epoch"] for c in ckpts}
        if len(epochs) != 1:
            raise ValueError(f"checkpoints stand at different epochs {sorted(epochs)}: resume these runs one by one")
        partials = [c.get("partial") for c in ckpts]
        for k, (m, c) in enumerate(zip(self.members, ckpts)):
            stepper.load_member_state(k, c["member"])
            if "figures" not in c or "perm" not in c["rng"]:
                raise ValueError(f"{m.run.checkpoint_path} comes from an older version of dropout-tui; start the run "
                                 "again (it cannot resume exactly)")
            m.set_figures(c["figures"])
            m.train_seconds, m.wall_before = c["train_seconds"], c["wall_seconds"]
            m.epochs_done = c["epoch"]
        rng = ckpts[0]["rng"]
        torch.set_rng_state(rng["torch"].cpu())
        for note in order.load([c["rng"]["perm"] for c in ckpts], ckpts[0]["epoch"]):
            self._note(note)
        if "cuda" in rng and self.device.type == "cuda":  # dropout masks: CUDA's stream goes on where it was
            torch.cuda.set_rng_state(rng["cuda"].cpu(), self.device)
        partial = _merge_partials(partials, order, self.device)
        return ckpts[0]["epoch"], partial

    def _start_point(self, stepper: Stepper, order: BatchOrder) -> tuple[int, dict[str, Any] | None]:
        """Where this (re)start begins, for every start path alike (local, queue, Slurm, foreground, console): after
        the newest checkpoint when every run has one, else at epoch 1. Each run's folder is cut back to that point
        (metric rows, train.log's epoch lines, the figures in its status), so no epoch is ever written twice."""
        have = [m.run.has_checkpoint() for m in self.members]
        if any(have) and not all(have):
            raise ValueError("some of these runs have a checkpoint and some do not: resume them one by one")
        if all(have):
            start, partial = self._load_checkpoints(stepper, order)
        else:
            start, partial = 0, None
            for m in self.members:
                m.set_figures({})
                m.epochs_done, m.train_seconds, m.wall_before = 0, 0.0, 0.0
        for m in self.members:
            before = len(m.run.read_metrics())
            kept = m.run.rewind(start)
            if start:
                m.run.log(f"resumed after epoch {start}" + (" (mid-epoch)" if partial else "")
                          + f"; {kept} metric rows kept" + (f", {before - kept} later ones dropped" if before > kept
                                                            else ""))
            elif before or self.resume:
                m.run.log(f"no checkpoint to resume from: starting over from epoch 1 ({before} earlier metric rows "
                          "dropped)")
        if not start and self.resume:
            self.progress({"kind": "warning", "text": "no checkpoint: starting over from epoch 1"})
        for m in self.members:
            m.run.update_status(epoch=start, elapsed=round(m.wall_before, 3), **m.figures())
        return start, partial

    # ----- the loop -------------------------------------------------------------------------
    def run(self) -> list[str]:
        """Own the run folders, train, and leave each with an end state. RunBusy when another trainer owns one."""
        owned = []
        try:
            for m in self.members:
                m.run.take_ownership(self.claim)
                owned.append(m.run)
        except RunBusy:
            for run in owned:
                run.release_ownership()
            raise
        self.t_session = time.time()
        for m in self.members:  # a restart that fails before its checkpoint loads must not wipe these
            m.keep_previous(m.run.info())
        heartbeat = Heartbeat(self.members, self.stop)
        try:
            now = time.time()
            for m in self.members:
                first = m.run.read_status().get("started")
                m.run.update_status(state=State.RUNNING, started=first or now, session_started=now, heartbeat=now,
                                    error=None, ended=None, group=[x.run.run_id for x in self.members],
                                    **host_and_pid())
            heartbeat.start()
            self._train()
        except StopRequested:
            for m in self.members:
                if m.active and self.requeue:
                    self._requeued(m)
                elif m.active:
                    self._finish(m, State.CANCELLED, None)
        except Exception as exc:  # any failure becomes a failed run with its reason, never a silent death
            self._fail_all(exc)
        finally:
            heartbeat.halt.set()
            heartbeat.join(5)  # never leave it mid-write: the process may end with os._exit next
            for run in owned:
                run.release_ownership()
        return [m.state for m in self.members]

    def _fail_all(self, exc: Exception) -> None:
        if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
            where = exc.filename or ", ".join(str(m.run.path) for m in self.members)
            reason = f"{(exc.strerror or str(exc)).lower()} while writing {where}"
            for m in self.members:
                sweep_temp_files(m.run.path)  # free what half-written files hold before writing the verdict
        elif isinstance(exc, (DataError, ConfigError)):
            reason = str(exc)  # already says what and what to do
        else:
            reason = f"{type(exc).__name__}: {exc}"
        text = traceback.format_exc()
        for m in self.members:
            if not m.active:
                continue
            try:
                m.run.log(text.rstrip())
            except OSError:
                pass
            try:
                self._finish(m, State.FAILED, reason)
            except OSError as again:  # nothing more can be written: the run reads as lost, the reason goes to stderr
                m.active, m.state, m.error = False, State.FAILED, reason
                print(f"{m.run.run_id}: failed: {reason} (status not written: {again.strerror})", file=sys.stderr)

    def _train(self) -> None:
        cfg = self.cfg
        check_device_present(cfg.device)
        self.device = resolve_device(cfg.device)
        apply_numerics(cfg)
        self.progress({"kind": "status", "text": f"loading {cfg.dataset}"})
        arrays = load_arrays(cfg.dataset, cfg.data_dir, progress=lambda t: self.progress({"kind": "status", "text": t}),
                             warn=self._note)
        loaded = time.time() - self.t_session
        self.t_session = time.time()  # a run's time is its training: the one-off decode is not counted in it
        if loaded >= 1.0:
            for m in self.members:
                m.run.log(f"loaded {cfg.dataset} in {loaded:.1f}s (not counted in the run's time)")
        data = DeviceData(arrays.fitted(input_size(cfg)).limited(cfg.train_limit), self.device, cfg.channels_last)
        stepper = make_stepper([m.cfg for m in self.members], data.channels, data.num_classes, self.device)
        n, bs = data.train_size, cfg.batch_size
        order = BatchOrder([m.cfg.seed for m in self.members], n, self.device)
        start_epoch, partial = self._start_point(stepper, order)
        probe = normalize(data.test_x[:PROBE_IMAGES])  # the fixed batch every evaluation looks inside the networks with
        if not start_epoch:
            for m in self.members:
                m.run.log(f"start {m.cfg.preset}: {len(data.train_y)} train / {len(data.test_y)} test images, "
                          f"device {self.device}")
        if bs > n:
            self._note(f"batch_size {bs} is larger than the training set ({n} images): each step uses the whole set")
        self._status_all(device=str(self.device), python=platform.python_version(), version=__version__,
                         train_size=n, **numerics_record(self.device))
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            lrs = stepper.set_epoch(epoch)
            stepper.train()
            if partial:
                perm, first, loss_sum, batches, seconds = (partial["perm"], partial["next"], partial["loss_sum"],
                                                           partial["batches"], partial["seconds"])
                partial = None
            else:
                perm = order.next_epoch()
                first, loss_sum, batches, seconds = 0, torch.zeros(stepper.members, device=self.device), 0, 0.0
            t0 = time.perf_counter()
            steps = math.ceil(n / bs)
            for start in range(first, n, bs):
                if self.stop.is_set():
                    self._sync()
                    snap = {"perm": perm, "next": start, "loss_sum": loss_sum, "batches": batches,
                            "seconds": seconds + time.perf_counter() - t0}
                    self._save_checkpoints(stepper, epoch - 1, order, snap)
                    raise StopRequested
                x, y = data.batch(perm, start, bs)
                loss_sum += stepper.step(x, y)
                batches += 1
                if batches % 20 == 0:
                    self.progress({"kind": "step", "epoch": epoch, "step": batches, "steps": steps})
            losses = (loss_sum / batches).tolist()  # the one host sync of the epoch
            seconds += time.perf_counter() - t0
            accs = inside = None
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
                accs = (self._accuracy(stepper, data.train_x, data.train_y),
                        self._accuracy(stepper, data.test_x, data.test_y))
                inside = self._look_inside(stepper, probe, epoch)
            self._record_epoch(epoch, losses, lrs, seconds, accs, inside)
            if not any(m.active for m in self.members):
                return
            if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs:
                self._save_checkpoints(stepper, epoch, order)
        for m in self.members:
            if m.active:
                self._finish(m, State.FINISHED)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @torch.inference_mode()
    def _accuracy(self, stepper: Stepper, images: torch.Tensor, labels: torch.Tensor) -> list[float]:
        correct = torch.zeros(stepper.members, device=self.device)
        size = self.cfg.eval_batch_size
        for start in range(0, len(labels), size):
            logits = stepper.eval_logits(normalize(images[start:start + size]))
            correct += (logits.argmax(-1) == labels[start:start + size]).sum(-1)
        stepper.train()
        return (correct / len(labels)).tolist()

    def _look_inside(self, stepper: Stepper, images: torch.Tensor, epoch: int) -> list[tuple[dict, dict] | None]:
        """Each active member's per-layer figures on the fixed batch: (its metric row's values, its inside.json)."""
        return [look_inside(stepper.member_model(k), m.cfg.network, images, epoch) if m.active else None
                for k, m in enumerate(self.members)]

    def _record_epoch(self, epoch: int, losses: list[float], lrs: list[float], seconds: float,
                      accs: tuple[list[float], list[float]] | None,
                      inside: list[tuple[dict, dict] | None] | None = None) -> None:
        for k, m in enumerate(self.members):
            if not m.active:
                continue
            loss = losses[k]
            elapsed = round(self.elapsed(m), 3)
            row: dict[str, Any] = {"epoch": epoch, "loss": loss, "lr": lrs[k], "seconds": round(seconds, 4),
                                   "elapsed": elapsed}
            line = f"epoch: {epoch} time: {seconds:.2f} loss: {loss:.4f} lr: {lrs[k]:.2e}"
            if accs:
                row["train_acc"], row["test_acc"] = accs[0][k], accs[1][k]
                m.record_accuracy(epoch, accs[0][k], accs[1][k])
                line += f" train_acc: {accs[0][k] * 100:.2f}% test_acc: {accs[1][k] * 100:.2f}%"
            if inside and inside[k]:
                row.update(inside[k][0])
                m.run.write_inside(inside[k][1])
            m.run.append_metric(row)
            m.run.log(line)
            m.final_loss, m.epochs_done = loss, epoch
            m.train_seconds += seconds
            if not math.isfinite(loss):
                self._finish(m, State.FAILED, f"loss became {loss} at epoch {epoch}")
                continue
            m.run.update_status(epoch=epoch, lr=lrs[k], heartbeat=time.time(), elapsed=elapsed, **m.figures())
        self.progress({"kind": "epoch", "epoch": epoch, "epochs": self.cfg.epochs, "losses": losses,
                       "accs": accs, "seconds": seconds})


DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EIO)


def _partial_for(partial: dict[str, Any] | None, k: int) -> dict[str, Any] | None:
    if not partial:
        return None
    return {"perm": BatchOrder.member(partial["perm"], k), "next": partial["next"], "batches": partial["batches"],
            "seconds": partial["seconds"], "loss_sum": float(partial["loss_sum"][k])}


def _merge_partials(partials: list[dict[str, Any] | None], order: BatchOrder,
                    device: torch.device) -> dict[str, Any] | None:
    if not partials[0]:
        return None
    p = partials[0]
    return {"perm": order.merge([q["perm"] for q in partials]), "next": p["next"], "batches": p["batches"],
            "seconds": p["seconds"],
            "loss_sum": torch.tensor([q["loss_sum"] for q in partials], device=device, dtype=torch.float32)}
