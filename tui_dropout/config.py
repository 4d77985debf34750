"""Run configuration: one dataclass, preset loading, overrides and validation (no torch import)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PLACEMENTS = ("none", "fc", "conv", "all")
CONV_KINDS = ("dropout", "dropout2d", "dropout3d", "alpha", "feature_alpha")
FC_KINDS = ("dropout", "dropout2d", "dropout3d", "alpha", "feature_alpha")
DATASETS = ("cifar10", "digits", "imagefolder")


class ConfigError(ValueError):
    """A bad value; the message names the field and the reason in one line."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass
class RunConfig:
    """Everything one training run needs; presets set these fields, the CLI and form override them."""

    preset: str = "custom"  # name of the preset this config came from
    description: str = ""  # one line shown in lists
    dataset: str = "cifar10"  # cifar10 | digits | imagefolder
    data_dir: str | None = None  # folder holding the dataset; None: $TUI_DROPOUT_DATA or the cache folder
    train_limit: int | None = None  # use only the first N training images (None: all)
    placement: str = "none"  # where dropout goes: none (A) | fc (B) | conv (C) | all (D)
    p_conv: float = 0.5  # drop probability after each conv ReLU, in [0, 1)
    p_fc: float = 0.5  # drop probability on the fc hidden layer, in [0, 1)
    conv_kind: str = "dropout2d"  # dropout | dropout2d | dropout3d | alpha | feature_alpha
    fc_kind: str = "dropout"  # dropout | alpha (channel kinds make no sense on a vector)
    epochs: int = 1000  # passes over the training set
    batch_size: int = 256  # images per SGD step
    lr: float = 1e-2  # initial learning rate
    momentum: float = 0.9  # SGD momentum factor
    weight_decay: float = 0.0  # L2 penalty per step
    lr_step: int = 150  # StepLR period, in epochs
    lr_gamma: float = 0.5  # StepLR factor applied every lr_step epochs
    eval_every: int = 20  # full train+test accuracy every N epochs (and at the last one)
    eval_batch_size: int = 2048  # images per forward pass while evaluating
    checkpoint_every: int = 10  # epochs between checkpoints (also written at every stop)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0  # seeds weights, dropout masks and the data order
    channels_last: bool = True  # NHWC memory layout for images and conv weights (benchmarks/epoch_speed.py)
    compile: bool = False  # torch.compile the training forward pass (slower on CPU; see docs/benchmarks.md)
    extra: dict[str, Any] = field(default_factory=dict)  # filled in by the trainer: versions, resolved paths

    @property
    def uses_conv_dropout(self) -> bool:
        return self.placement in ("conv", "all")

    @property
    def uses_fc_dropout(self) -> bool:
        return self.placement in ("fc", "all")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(unknown[0], "unknown setting")
        return cls(**data)

    def with_overrides(self, **overrides: Any) -> "RunConfig":
        """Apply non-None overrides, converting strings from forms and the CLI to the field's type."""
        values = self.to_dict()
        for name, value in overrides.items():
            if value is None:
                continue
            if name == "p":  # shorthand: one p for every dropout group
                values["p_conv"] = values["p_fc"] = coerce("p", float, value)
                continue
            if name not in values:
                raise ConfigError(name, "unknown setting")
            values[name] = coerce(name, FIELD_TYPES[name], value)
        return RunConfig(**values)


FIELD_TYPES: dict[str, type] = {
    "preset": str, "description": str, "dataset": str, "data_dir": str, "train_limit": int,
    "placement": str, "p_conv": float, "p_fc": float, "conv_kind": str, "fc_kind": str,
    "epochs": int, "batch_size": int, "lr": float, "momentum": float, "weight_decay": float,
    "lr_step": int, "lr_gamma": float, "eval_every": int, "eval_batch_size": int,
    "checkpoint_every": int, "device": str, "seed": int, "channels_last": bool, "compile": bool, "extra": dict,
}

# Fields a user sets (the console form shows these, in this order).
EDITABLE_FIELDS = (
    "dataset", "data_dir", "train_limit", "placement", "conv_kind", "p_conv", "fc_kind", "p_fc",
    "epochs", "batch_size", "lr", "momentum", "weight_decay", "lr_step", "lr_gamma", "eval_every",
    "device", "seed",
)


def coerce(name: str, kind: type, value: Any) -> Any:
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if text == "" or text.lower() == "none":
            return None
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ConfigError(name, f"{value!r} is not true or false")
        try:
            if kind is int:
                return int(text)
            if kind is float:
                return float(text)
        except ValueError:
            raise ConfigError(name, f"{value!r} is not a {kind.__name__}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def validate(cfg: RunConfig) -> RunConfig:
    """Raise ConfigError naming the first bad field; return cfg unchanged when all is well."""
    for name in ("epochs", "batch_size", "lr_step", "eval_every", "eval_batch_size", "checkpoint_every"):
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ConfigError(name, f"must be a positive whole number, got {value!r}")
    if cfg.train_limit is not None and (not isinstance(cfg.train_limit, int) or cfg.train_limit <= 0):
        raise ConfigError("train_limit", f"must be a positive whole number or empty, got {cfg.train_limit!r}")
    for name in ("p_conv", "p_fc"):
        value = getattr(cfg, name)
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise ConfigError(name, f"must be in [0, 1], got {value!r}")
    if not (isinstance(cfg.lr, (int, float)) and cfg.lr > 0):
        raise ConfigError("lr", f"must be positive, got {cfg.lr!r}")
    if not 0.0 <= cfg.momentum < 1.0:
        raise ConfigError("momentum", f"must be in [0, 1), got {cfg.momentum!r}")
    if cfg.weight_decay < 0:
        raise ConfigError("weight_decay", f"must be zero or positive, got {cfg.weight_decay!r}")
    if not 0.0 < cfg.lr_gamma <= 1.0:
        raise ConfigError("lr_gamma", f"must be in (0, 1], got {cfg.lr_gamma!r}")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ConfigError("seed", f"must be a whole number >= 0, got {cfg.seed!r}")
    if cfg.dataset not in DATASETS:
        raise ConfigError("dataset", f"unknown dataset {cfg.dataset!r} (choose from {', '.join(DATASETS)})")
    if cfg.dataset == "imagefolder" and not cfg.data_dir:
        raise ConfigError("data_dir", "imagefolder needs a folder with train/<class>/ and test/<class>/")
    if cfg.placement not in PLACEMENTS:
        raise ConfigError("placement", f"unknown placement {cfg.placement!r} (choose from {', '.join(PLACEMENTS)})")
    for name, allowed in (("conv_kind", CONV_KINDS), ("fc_kind", FC_KINDS)):
        if getattr(cfg, name) not in allowed:
            raise ConfigError(name, f"unknown kind {getattr(cfg, name)!r} (choose from {', '.join(allowed)})")
    _check_combination(cfg)
    _check_device_name(cfg.device)
    return cfg


def _check_combination(cfg: RunConfig) -> None:
    """Refuse dropout settings that cannot mean anything on LeNet-5's shapes."""
    if cfg.uses_fc_dropout:
        if cfg.fc_kind in ("dropout2d", "dropout3d", "feature_alpha"):
            raise ConfigError("fc_kind", f"{cfg.fc_kind} drops whole channels of a feature map; "
                              "the fc hidden layer is a plain (N, 84) vector: use dropout or alpha")
        if cfg.p_fc >= 1.0:
            raise ConfigError("p_fc", "p=1 zeroes every fc unit: the network could not learn")
    if cfg.uses_conv_dropout:
        if cfg.conv_kind == "dropout3d":
            raise ConfigError("conv_kind", "dropout3d expects 5-D (N, C, D, H, W) volumes; "
                              "LeNet-5's conv maps are 4-D (N, C, H, W): use dropout2d")
        if cfg.p_conv >= 1.0:
            raise ConfigError("p_conv", "p=1 zeroes every conv channel: the network could not learn")


def _check_device_name(device: str) -> None:
    if device in ("auto", "cpu", "cuda"):
        return
    if device.startswith("cuda:") and device[5:].isdigit():
        return
    raise ConfigError("device", f"unknown device {device!r} (auto, cpu, cuda or cuda:N)")


def check_device_present(device: str) -> None:
    """Refuse a CUDA device this machine lacks. Imports torch, so only the trainer and CLI call it."""
    if not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("device", f"{device} asked for, but this machine has no CUDA GPU (use cpu or auto)")
    if ":" in device and int(device.split(":")[1]) >= torch.cuda.device_count():
        raise ConfigError("device", f"{device} asked for, but only {torch.cuda.device_count()} GPU(s) are present")


# ----- presets --------------------------------------------------------------------------------

def presets_dirs() -> list[Path]:
    """Where presets are looked for, first match wins: $TUI_DROPOUT_PRESETS, ./presets, the package's own."""
    dirs: list[Path] = []
    if os.environ.get("TUI_DROPOUT_PRESETS"):
        dirs.append(Path(os.environ["TUI_DROPOUT_PRESETS"]))
    dirs.append(Path.cwd() / "presets")
    source_tree = Path(__file__).resolve().parent.parent / "presets"
    dirs.append(source_tree)
    try:
        from importlib.resources import files

        dirs.append(Path(str(files("tui_dropout.presets"))))
    except (ModuleNotFoundError, TypeError):
        pass
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def list_presets() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for d in presets_dirs():
        for path in sorted(d.glob("*.toml")):
            found.setdefault(path.stem, path)
    return found


def load_preset(name: str) -> RunConfig:
    import tomllib

    available = list_presets()
    if name not in available:
        choices = ", ".join(sorted(available)) or "none found"
        raise ConfigError("preset", f"unknown preset {name!r} (available: {choices})")
    try:
        data = tomllib.loads(available[name].read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("preset", f"{available[name]} is not valid TOML: {exc}") from None
    data["preset"] = name
    values = RunConfig().to_dict()
    for key, value in data.items():
        if key not in values:
            raise ConfigError(key, f"unknown setting in preset {available[name]}")
        values[key] = coerce(key, FIELD_TYPES[key], value)
    return RunConfig(**values)
