"""The training loop: K runs stepped together over one device-resident dataset, each writing its own folder."""
from __future__ import annotations

import math
import os
import platform
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .. import __version__
from ..config import RunConfig, validate
from ..data import load_arrays
from ..fusion import fusable
from ..store import HEARTBEAT_SECONDS, RunDir, host_and_pid
from .devicedata import DeviceData, normalize
from .devices import check_device_present, resolve_device
from .fused import FusedStepper
from .steppers import SoloStepper, Stepper, scheduler_state

Progress = Callable[[dict[str, Any]], None]


class StopRequested(Exception):
    pass


@dataclass
class Member:
    run: RunDir
    cfg: RunConfig
    active: bool = True
    best_train_acc: float | None = None
    best_train_epoch: int | None = None
    best_test_acc: float | None = None
    best_test_epoch: int | None = None
    last_loss: float | None = None
    train_seconds: float = 0.0
    wall_seconds: float = 0.0
    state: str = "running"
    error: str | None = None
    epochs_done: int = 0

    def record_accuracy(self, epoch: int, train_acc: float, test_acc: float) -> None:
        if self.best_train_acc is None or train_acc > self.best_train_acc:
            self.best_train_acc, self.best_train_epoch = train_acc, epoch
        if self.best_test_acc is None or test_acc > self.best_test_acc:
            self.best_test_acc, self.best_test_epoch = test_acc, epoch

    def bests(self) -> dict[str, Any]:
        return {"best_train_acc": self.best_train_acc, "best_train_epoch": self.best_train_epoch,
                "best_test_acc": self.best_test_acc, "best_test_epoch": self.best_test_epoch}


def make_stepper(cfgs: list[RunConfig], channels: int, classes: int, device: torch.device) -> Stepper:
    if len(cfgs) == 1:
        torch.manual_seed(cfgs[0].seed)
        return SoloStepper(cfgs[0], channels, classes, device)
    return FusedStepper(cfgs, channels, classes, device)


class Heartbeat(threading.Thread):
    """Rewrites every member's status.json heartbeat while the trainer lives, even in a long epoch."""

    def __init__(self, members: list[Member]):
        super().__init__(daemon=True, name="heartbeat")
        self.members = members
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(HEARTBEAT_SECONDS):
            for m in self.members:
                if m.active:
                    m.run.update_status(heartbeat=time.time())


class Trainer:
    """Trains the runs in `runs` (one folder each) together; fresh or resumed from their checkpoints."""

    def __init__(self, runs: list[RunDir], resume: bool = False, stop: threading.Event | None = None,
                 progress: Progress | None = None):
        self.members = [Member(r, RunConfig.from_dict(r.read_config())) for r in runs]
        self.resume = resume
        self.stop = stop or threading.Event()
        self.progress = progress or (lambda event: None)
        cfgs = [m.cfg for m in self.members]
        for cfg in cfgs:
            validate(cfg)
        differing = fusable(cfgs)
        if differing:
            raise ValueError(f"{differing}: runs trained together must share it")
        self.cfg = cfgs[0]

    # ----- status and files ---------------------------------------------------------------
    def _status_all(self, **changes: Any) -> None:
        for m in self.members:
            if m.active:
                m.run.update_status(**changes)

    def _finish(self, m: Member, state: str, error: str | None = None) -> None:
        now = time.time()
        m.active, m.state, m.error = False, state, error
        m.wall_seconds += now - self.t_session
        m.run.update_status(state=state, error=error, ended=now, heartbeat=now, **m.bests())
        summary = {"state": state, "final_loss": m.last_loss, "epochs_done": m.epochs_done,
                   "epochs": m.cfg.epochs, "train_seconds": round(m.train_seconds, 3),
                   "wall_seconds": round(m.wall_seconds, 3), "error": error, **m.bests()}
        m.run.write_summary(summary)
        m.run.log(f"run {state}" + (f": {error}" if error else ""))

    # ----- checkpoints ----------------------------------------------------------------------
    def _rng_state(self, gen: torch.Generator) -> dict[str, Any]:
        state = {"torch": torch.get_rng_state(), "perm": gen.get_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def _save_checkpoints(self, stepper: Stepper, epoch: int, gen: torch.Generator,
                          partial: dict[str, Any] | None = None) -> None:
        rng = self._rng_state(gen)
        if partial:
            partial = {**partial, "perm": partial["perm"].cpu()}  # one copy, shared by every member's file
        for k, m in enumerate(self.members):
            if not m.active and m.state == "failed":
                continue
            ckpt = {"epoch": epoch, "member": stepper.member_state(k), "scheduler": scheduler_state(m.cfg, epoch),
                    "rng": rng, "partial": _partial_for(partial, k), "bests": m.bests(), "last_loss": m.last_loss,
                    "train_seconds": m.train_seconds, "wall_seconds": m.wall_seconds,
                    "group": [x.run.run_id for x in self.members], "index": k}
            tmp = m.run.checkpoint_path.with_name(f".checkpoint.{os.getpid()}.tmp")
            torch.save(ckpt, tmp)
            os.replace(tmp, m.run.checkpoint_path)

    def _load_checkpoints(self, stepper: Stepper, gen: torch.Generator) -> tuple[int, dict[str, Any] | None]:
        ckpts = [torch.load(m.run.checkpoint_path, map_location=self.device, weights_only=False)
                 for m in self.members]
        epochs = {c["epoch"] for c in ckpts}
        if len(epochs) != 1:
            raise ValueError(f"checkpoints stand at different epochs {sorted(epochs)}: resume these runs one by one")
        partials = [c.get("partial") for c in ckpts]
        for k, (m, c) in enumerate(zip(self.members, ckpts)):
            stepper.load_member_state(k, c["member"])
            for key, value in c["bests"].items():
                setattr(m, key, value)
            m.last_loss, m.train_seconds, m.wall_seconds = c["last_loss"], c["train_seconds"], c["wall_seconds"]
            m.epochs_done = c["epoch"]
        rng = ckpts[0]["rng"]
        torch.set_rng_state(rng["torch"].cpu())
        gen.set_state(rng["perm"].cpu())
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"].cpu(), self.device)
        partial = _merge_partials(partials, self.device)
        return ckpts[0]["epoch"], partial

    # ----- the loop -------------------------------------------------------------------------
    def run(self) -> list[str]:
        self.t_session = time.time()
        for m in self.members:
            m.run.update_status(state="running", started=time.time(), heartbeat=time.time(), error=None,
                                ended=None, group=[x.run.run_id for x in self.members], **host_and_pid())
        heartbeat = Heartbeat(self.members)
        heartbeat.start()
        try:
            self._train()
        except StopRequested:
            for m in self.members:
                if m.active:
                    self._finish(m, "cancelled", None)
        except Exception as exc:  # any failure becomes a failed run with its traceback, never a silent death
            text = traceback.format_exc()
            for m in self.members:
                if m.active:
                    m.run.log(text.rstrip())
                    self._finish(m, "failed", f"{type(exc).__name__}: {exc}")
        finally:
            heartbeat.halt.set()
        return [m.state for m in self.members]

    def _train(self) -> None:
        cfg = self.cfg
        check_device_present(cfg.device)
        self.device = resolve_device(cfg.device)
        self.progress({"kind": "status", "text": f"loading {cfg.dataset}"})
        arrays = load_arrays(cfg.dataset, cfg.data_dir, progress=lambda t: self.progress({"kind": "status", "text": t}))
        data = DeviceData(arrays.limited(cfg.train_limit), self.device, cfg.channels_last)
        stepper = make_stepper([m.cfg for m in self.members], data.channels, data.num_classes, self.device)
        gen = torch.Generator(device=self.device)
        gen.manual_seed(cfg.seed)
        start_epoch, partial = 0, None
        if self.resume:
            start_epoch, partial = self._load_checkpoints(stepper, gen)
            for m in self.members:
                kept = m.run.truncate_metrics(start_epoch)
                m.run.log(f"resumed after epoch {start_epoch}" + (" (mid-epoch)" if partial else "")
                          + f"; {kept} metric rows kept")
        else:
            for m in self.members:
                m.run.log(f"start {m.cfg.preset}: {len(data.train_y)} train / {len(data.test_y)} test images, "
                          f"device {self.device}")
        self._status_all(device=str(self.device), torch=torch.__version__, python=platform.python_version(),
                         version=__version__, train_size=data.train_size)
        n, bs = data.train_size, cfg.batch_size
        for epoch in range(start_epoch + 1, cfg.epochs + 1):
            lrs = stepper.set_epoch(epoch)
            stepper.train()
            if partial:
                perm, first, loss_sum, batches, seconds = (partial["perm"], partial["next"], partial["loss_sum"],
                                                           partial["batches"], partial["seconds"])
                partial = None
            else:
                perm = torch.randperm(n, device=self.device, generator=gen)
                first, loss_sum, batches, seconds = 0, torch.zeros(stepper.members, device=self.device), 0, 0.0
            t0 = time.perf_counter()
            steps = math.ceil(n / bs)
            for start in range(first, n, bs):
                if self.stop.is_set():
                    self._sync()
                    snap = {"perm": perm, "next": start, "loss_sum": loss_sum, "batches": batches,
                            "seconds": seconds + time.perf_counter() - t0}
                    self._save_checkpoints(stepper, epoch - 1, gen, snap)
                    raise StopRequested
                x, y = data.batch(perm, start, bs)
                loss_sum += stepper.step(x, y)
                batches += 1
                if batches % 20 == 0:
                    self.progress({"kind": "step", "epoch": epoch, "step": batches, "steps": steps})
            losses = (loss_sum / batches).tolist()  # the one host sync of the epoch
            seconds += time.perf_counter() - t0
            accs = None
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
                accs = (self._accuracy(stepper, data.train_x, data.train_y),
                        self._accuracy(stepper, data.test_x, data.test_y))
            self._record_epoch(epoch, losses, lrs, seconds, accs)
            if not any(m.active for m in self.members):
                return
            if epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs:
                self._save_checkpoints(stepper, epoch, gen)
        for m in self.members:
            if m.active:
                self._finish(m, "finished")

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

    def _record_epoch(self, epoch: int, losses: list[float], lrs: list[float], seconds: float,
                      accs: tuple[list[float], list[float]] | None) -> None:
        for k, m in enumerate(self.members):
            if not m.active:
                continue
            loss = losses[k]
            row: dict[str, Any] = {"epoch": epoch, "loss": loss, "lr": lrs[k], "seconds": round(seconds, 4),
                                   "elapsed": round(m.wall_seconds + time.time() - self.t_session, 3)}
            line = f"epoch: {epoch} time: {seconds:.2f} loss: {loss:.4f} lr: {lrs[k]:.2e}"
            if accs:
                row["train_acc"], row["test_acc"] = accs[0][k], accs[1][k]
                m.record_accuracy(epoch, accs[0][k], accs[1][k])
                line += f" train_acc: {accs[0][k] * 100:.2f}% test_acc: {accs[1][k] * 100:.2f}%"
            m.run.append_metric(row)
            m.run.log(line)
            m.last_loss, m.epochs_done = loss, epoch
            m.train_seconds += seconds
            if not math.isfinite(loss):
                self._finish(m, "failed", f"loss became {loss} at epoch {epoch}")
                continue
            m.run.update_status(epoch=epoch, last_loss=loss, lr=lrs[k], heartbeat=time.time(), elapsed=row["elapsed"],
                                **m.bests())
        self.progress({"kind": "epoch", "epoch": epoch, "epochs": self.cfg.epochs, "losses": losses,
                       "accs": accs, "seconds": seconds})


def _partial_for(partial: dict[str, Any] | None, k: int) -> dict[str, Any] | None:
    if not partial:
        return None
    return {"perm": partial["perm"], "next": partial["next"], "batches": partial["batches"],
            "seconds": partial["seconds"], "loss_sum": float(partial["loss_sum"][k])}


def _merge_partials(partials: list[dict[str, Any] | None], device: torch.device) -> dict[str, Any] | None:
    if not partials[0]:
        return None
    p = partials[0]
    return {"perm": p["perm"].to(device), "next": p["next"], "batches": p["batches"], "seconds": p["seconds"],
            "loss_sum": torch.tensor([q["loss_sum"] for q in partials], device=device, dtype=torch.float32)}
