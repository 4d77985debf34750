"""What dropout did to a finished network: `python -m tui_dropout.trainer.evaluate RUN_DIR [--mc T] [--device D]`.

Loads the run's checkpoint.pt (weights only) into the LeNet-5 its config.json describes and measures it on the
run's test set twice: with dropout off (eval mode), and as Monte-Carlo dropout (only the dropout layers in
train mode, T passes with a generator seeded by the run's seed, softmax probabilities averaged). For each:
accuracy (a fraction, as in status.json), mean predictive entropy and negative log-likelihood (nats), the
expected calibration error over 15 equal-width confidence bins and its reliability table. Everything goes to
the run folder's evaluation.json, written atomically as it progresses; one line goes to train.log.

Exit status: 0 evaluated, 1 failed (evaluation.json says why), 2 refused (nothing written)."""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
import traceback
from typing import Any, Callable

from ..evaluation import DEFAULT_PASSES, Refused, finished_record, lock, passes_problem, refusal
from ..states import State
from ..store import EVALUATION, RunDir, host_and_pid
from ..store.files import write_json_atomic

BINS = 15  # equal-width confidence bins of the expected calibration error


# ----- the figures (torch from here on) ----------------------------------------------------------------------
def figures(probs: Any, labels: Any, bins: int = BINS) -> dict[str, Any]:
    """Accuracy, mean entropy, NLL, ECE and the reliability table of probabilities (N, C) against labels (N,)."""
    import torch

    p = probs.double().cpu()
    y = labels.long().cpu()
    n = int(y.numel())
    conf, pred = p.max(1)
    correct = (pred == y).double()
    logp = p.clamp_min(1e-12).log()
    entropy = -(p * logp).sum(1)
    nll = -logp.gather(1, y.view(-1, 1)).squeeze(1)
    # bin b holds confidences in (b/bins, (b+1)/bins]; the first also holds 0
    which = (conf * bins).ceil().long().sub(1).clamp(0, bins - 1)
    count = torch.bincount(which, minlength=bins).double()
    conf_sum = torch.bincount(which, weights=conf, minlength=bins)
    acc_sum = torch.bincount(which, weights=correct, minlength=bins)
    table, ece = [], 0.0
    for b in range(bins):
        c = int(count[b])
        mean_conf = float(conf_sum[b] / c) if c else None
        acc = float(acc_sum[b] / c) if c else None
        if c:
            ece += c / n * abs(acc - mean_conf)
        table.append({"bin": [round(b / bins, 6), round((b + 1) / bins, 6)], "count": c, "confidence": mean_conf,
                      "accuracy": acc})
    return {"accuracy": float(correct.mean()), "entropy": float(entropy.mean()), "nll": float(nll.mean()),
            "ece": ece, "confidence": float(conf.mean()), "reliability": table}


def dropout_modules(model: Any) -> list[Any]:
    from .models import DROPOUT_CLASSES

    kinds = tuple(DROPOUT_CLASSES.values())
    return [m for m in model.modules() if isinstance(m, kinds)]


def has_dropout(model: Any) -> bool:
    return any(m.p > 0 for m in dropout_modules(model))


def mc_mode(model: Any) -> None:
    """Everything in eval mode but the dropout layers."""
    model.eval()
    for m in dropout_modules(model):
        m.train()


class Evaluation:
    """One evaluation of one run's checkpoint; `record` is what evaluation.json holds."""

    def __init__(self, run: RunDir, passes: int = DEFAULT_PASSES, device: str | None = None,
                 progress: Callable[[int, int], None] | None = None):
        if passes < 1:
            raise ValueError(f"mc: needs at least one pass, got {passes}")
        self.run, self.passes, self.device_name = run, passes, device
        self.progress = progress or (lambda done, total: None)
        now = time.time()
        self.record: dict[str, Any] = {"state": State.RUNNING, "mc_passes": passes, "checkpoint_epoch": None,
                                       "device": device, "started": now, "ended": None, "seconds": None,
                                       "progress": [0, passes], "deterministic": None, "mc": None,
                                       **host_and_pid()}
        previous = finished_record(run)
        if previous is not None:  # kept until this one finishes: a failed or killed re-evaluation loses nothing
            self.record["previous"] = previous
        self.t0 = time.monotonic()

    def write(self, **changes: Any) -> None:
        self.record.update(changes, updated=time.time())
        write_json_atomic(self.run.file(EVALUATION), self.record)

    def run_it(self) -> dict[str, Any]:
        """Evaluate, writing evaluation.json as it goes; a failure is recorded (state failed) and re-raised."""
        self.write()
        try:
            self._evaluate()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                reason = "interrupted before it finished"
            elif type(exc).__name__ in ("ConfigError", "DataError", "CheckpointError"):
                reason = str(exc)  # already says what and what to do
            else:
                reason = f"{type(exc).__name__}: {exc}"
            self._end(State.FAILED, error=reason)
            try:
                self.run.log(traceback.format_exc().rstrip())
                self.run.log(f"evaluation failed: {reason}")
            except OSError:
                pass
            raise
        self._end(State.FINISHED)
        self.run.log(log_line(self.record))
        return self.record

    def _end(self, state: str, **changes: Any) -> None:
        if state == State.FINISHED:
            self.record.pop("previous", None)
        self.write(state=state, ended=time.time(), seconds=round(time.monotonic() - self.t0, 3), **changes)

    def _evaluate(self) -> None:
        import torch

        from ..config import RunConfig, validate
        from ..data import load_arrays
        from . import checkpoints
        from .devicedata import normalize
        from .devices import apply_numerics, check_device_present, numerics_record, resolve_device
        from .networks import build, input_size

        cfg = RunConfig.from_dict(self.run.read_config())
        validate(cfg)
        name = self.device_name or cfg.device
        check_device_present(name)
        device = resolve_device(name)
        apply_numerics(cfg)  # the run's own kernels and TF32 choice: its figures, not torch's defaults
        ckpt = checkpoints.load(self.run.checkpoint_path, device)
        weights = ckpt["member"]["model"]  # a solo LeNet5 state_dict, fused members' too
        self.write(device=str(device), numerics=numerics_record(device), checkpoint_epoch=int(ckpt["epoch"]), mid_epoch=bool(ckpt.get("partial")))
        arrays = load_arrays(cfg.dataset, cfg.data_dir, warn=lambda text: self.run.log(f"warning: {text}"))
        arrays = arrays.fitted(input_size(cfg))
        classes = max(len(arrays.classes), int(arrays.train_y.max()) + 1)  # as the trainer counted them
        model = build(cfg, arrays.channels, classes)
        try:
            model.load_state_dict(weights)
        except RuntimeError:  # shapes that differ: another dataset's channels or classes
            raise ValueError(f"the checkpoint's network does not take {cfg.dataset}'s {arrays.channels}-channel "
                             f"images and {classes} classes: is the dataset the one it trained on?") from None
        model.to(device)
        layout = torch.channels_last if cfg.channels_last else torch.contiguous_format
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        images = torch.from_numpy(arrays.test_x).to(device).contiguous(memory_format=layout)
        labels = torch.from_numpy(arrays.test_y).to(device)
        size = cfg.eval_batch_size

        @torch.inference_mode()
        def probabilities() -> torch.Tensor:
            out = []
            for start in range(0, len(labels), size):
                logits = model(normalize(images[start:start + size]))
                out.append(torch.softmax(logits.float(), dim=1))
            return torch.cat(out)

        model.eval()
        det_probs = probabilities()
        deterministic = figures(det_probs, labels)
        dropout = has_dropout(model)
        self.write(deterministic=deterministic, dropout=dropout, test_size=int(len(labels)), bins=BINS)
        if not dropout:  # nothing random in the network: every pass would be the pass above
            mc = {**deterministic, "passes": self.passes, "same_as_deterministic": True,
                  "expected_entropy": deterministic["entropy"], "mutual_info": 0.0}
            self.write(mc=mc, progress=[self.passes, self.passes])
            self.progress(self.passes, self.passes)
            return
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the caller's generator state is left as it was
            torch.manual_seed(cfg.seed)  # seeds every device's generator: the same masks on a rerun
            mc_mode(model)
            total = torch.zeros_like(det_probs)
            entropy_sum = torch.zeros(len(labels), device=device)
            for done in range(1, self.passes + 1):
                probs = probabilities()
                total += probs
                entropy_sum -= (probs * probs.clamp_min(1e-12).log()).sum(1)
                self.write(progress=[done, self.passes])
                self.progress(done, self.passes)
            model.eval()
        mc = figures(total / self.passes, labels)
        expected = float(entropy_sum.mean()) / self.passes
        mc.update(passes=self.passes, same_as_deterministic=False, expected_entropy=expected,
                  mutual_info=max(mc["entropy"] - expected, 0.0))
        self.write(mc=mc)


def log_line(record: dict[str, Any]) -> str:
    det, mc = record.get("deterministic") or {}, record.get("mc") or {}

    def pc(value: Any) -> str:
        return f"{value * 100:.2f}%" if isinstance(value, (int, float)) and math.isfinite(value) else "-"

    mc_what = f"MC dropout x{record.get('mc_passes')}" if record.get("dropout") else "no dropout in the network, MC"
    return (f"evaluated checkpoint of epoch {record.get('checkpoint_epoch')} on {record.get('device')}: "
            f"dropout off test_acc {pc(det.get('accuracy'))} ECE {pc(det.get('ece'))} NLL {det.get('nll', 0):.4f} "
            f"entropy {det.get('entropy', 0):.3f}; {mc_what} test_acc {pc(mc.get('accuracy'))} "
            f"ECE {pc(mc.get('ece'))} NLL {mc.get('nll', 0):.4f} entropy {mc.get('entropy', 0):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tui_dropout.trainer.evaluate")
    parser.add_argument("--mc", type=int, default=DEFAULT_PASSES, help="Monte-Carlo dropout passes (>= 1)")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: the run's)")
    parser.add_argument("--lock-fd", type=int, default=None, help="the evaluation lock, taken by the launcher")
    parser.add_argument("--progress", action="store_true", help="print `progress DONE TOTAL` lines on stdout")
    parser.add_argument("run_dir")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal does not end a detached evaluation
    signal.signal(signal.SIGTERM, _interrupt)  # a kill still leaves evaluation.json saying it failed
    run = RunDir(args.run_dir)
    try:
        if args.lock_fd is None:  # else the launcher took it and handed it over
            lock(run)
        why = passes_problem(args.mc) or refusal(run)
        if why:
            raise Refused(why)
    except (Refused, OSError) as exc:
        print(str(exc), file=sys.stderr)
        return 2

    def report(done: int, total: int) -> None:
        if args.progress:
            try:
                print(f"progress {done} {total}", flush=True)
            except (BrokenPipeError, OSError):  # whoever read the progress is gone (a closed pipe): go on without
                args.progress = False
                sys.stdout = open(os.devnull, "w")

    try:
        Evaluation(run, args.mc, args.device, report).run_it()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"evaluation failed: {(run.file(EVALUATION).exists() and _error(run)) or exc}", file=sys.stderr)
        return 1
    return 0


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _error(run: RunDir) -> str | None:
    from ..store import read_json

    try:
        data = read_json(run.file(EVALUATION)) or {}
    except Exception:
        return None
    error = data.get("error")
    return error if isinstance(error, str) else None


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # every file is written; torch's interpreter teardown costs a second or two
