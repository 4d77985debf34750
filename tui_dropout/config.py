"""Run configuration: one dataclass, preset loading, overrides and validation (no torch import)."""
from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .data.registry import NAMES
from .networks import NETWORKS
from .errors import FieldError
from .kinds import KINDS

PLACEMENTS = ("none", "fc", "conv", "all")
CONV_KINDS = tuple(KINDS)
FC_KINDS = tuple(KINDS)
DATASETS = NAMES  # data/registry.py: one row per dataset


class ConfigError(FieldError, ValueError):
    """A bad value; the message names the field and the reason in one line."""

    def __init__(self, field_name: str, reason: str):
        super().__init__(field_name, reason)


@dataclass
class RunConfig:
    """Everything one training run needs; presets set these fields, the CLI and form override them."""

    preset: str = "custom"  # name of the preset this config came from
    description: str = ""  # one line shown in lists
    dataset: str = "cifar10"  # a name in data/registry.py: cifar10, cifar100, mnist, fashion_mnist, svhn...
    data_dir: str | None = None  # folder holding the dataset; None: $TUI_DROPOUT_DATA or the cache folder
    train_limit: int | None = None  # use only the first N training images (None: all)
    network: str = "lenet5"  # a name in networks.py: lenet5 | mlp | vgg | resnet18
    hidden_units: int = 1024  # mlp only: units in each hidden layer
    hidden_layers: int = 3  # mlp only: how many hidden layers
    placement: str = "none"  # where dropout goes: none (A) | fc (B) | conv (C) | all (D)
    p_conv: float = 0.5  # drop probability after each conv ReLU, in [0, 1)
    p_fc: float = 0.5  # drop probability on the fc hidden layer, in [0, 1)
    conv_kind: str = "dropout2d"  # a name in kinds.py: dropout | dropout2d | ... | dropblock | dropconnect
    fc_kind: str = "dropout"  # dropout | alpha (channel kinds make no sense on a vector)
    epochs: int = 1000  # passes over the training set
    batch_size: int = 256  # images per SGD step
    lr: float = 1e-2  # initial learning rate
    momentum: float = 0.9  # SGD momentum factor
    weight_decay: float = 0.0  # L2 penalty per step
    max_norm: float | None = None  # max-norm: each hidden unit's incoming weights kept at L2 norm <= c after
    # every step (Srivastava et al. 2014 pair it with dropout, c = 3 to 4); None: off
    lr_step: int = 150  # StepLR period, in epochs
    lr_gamma: float = 0.5  # StepLR factor applied every lr_step epochs
    eval_every: int = 20  # full train+test accuracy every N epochs (and at the last one)
    eval_batch_size: int = 2048  # images per forward pass while evaluating
    checkpoint_every: int = 10  # epochs between checkpoints (also written at every stop)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    seed: int = 0  # seeds weights, dropout masks and the data order
    channels_last: bool = True  # NHWC memory layout for images and conv weights (benchmarks/epoch_speed.py)
    compile: bool = False  # torch.compile the training forward pass (slower on CPU; see docs/benchmarks.md)
    deterministic: bool = False  # deterministic kernels only (GPU runs repeat bit for bit; README: Reproducibility)
    tf32: bool = False  # TF32 math (10-bit mantissa) for GPU matmuls and convolutions; False: FP32 everywhere
    study: str = ""  # id of the study (presets x grid x seeds) this run was launched with; empty for a lone run
    label: str = ""  # readable name within its study, e.g. "D p_fc=0.3 seed=2"; empty: the preset
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
                p = coerce("p", float, value)
                if _type_problem("p_fc", p) or not 0.0 <= p < 1.0:
                    raise ConfigError("p", f"must be in [0, 1) (1 would zero every unit), got {value!r}")
                values["p_conv"] = values["p_fc"] = p
                continue
            if name not in values:
                raise ConfigError(name, "unknown setting")
            values[name] = coerce(name, FIELD_TYPES[name], value)
        return RunConfig(**values)


def _field_types() -> dict[str, type]:
    """Each field's value type, read from the dataclass annotations (`int | None` gives int)."""
    hints = typing.get_type_hints(RunConfig)
    out: dict[str, type] = {}
    for name, hint in hints.items():
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        out[name] = typing.get_origin(hint) or hint
    return out


FIELD_TYPES = _field_types()
OPTIONAL_FIELDS = tuple(name for name, hint in typing.get_type_hints(RunConfig).items()
                        if type(None) in typing.get_args(hint))  # `X | None`: empty means 'not set'
MAX_INT = 2**31 - 1  # beyond this a size or count is a typo, and torch would overflow or the allocator fail

# Fields a user sets (the console form shows these, in this order).
EDITABLE_FIELDS = (
    "dataset", "data_dir", "train_limit", "network", "hidden_units", "hidden_layers", "placement", "conv_kind", "p_conv", "fc_kind", "p_fc",
    "epochs", "batch_size", "lr", "momentum", "weight_decay", "max_norm", "lr_step", "lr_gamma", "eval_every",
    "device", "seed",
)


def coerce(name: str, kind: type, value: Any) -> Any:
    """Text from the CLI or form to the field's type; None means 'not set' (an optional field left empty)."""
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if text == "" or text.lower() == "none":
            if name in OPTIONAL_FIELDS:
                return None
            raise ConfigError(name, "needs a value")
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
            what = "whole number" if kind is int else "number"
            raise ConfigError(name, f"{value!r} is not a {what}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _type_problem(name: str, value: Any) -> str | None:
    """Why `value` cannot be this field's value at all (a wrong type from a preset or a hand-edited config)."""
    kind = FIELD_TYPES[name]
    if value is None:
        return None if name in OPTIONAL_FIELDS else "needs a value"
    if kind is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {value!r}"
        return None if abs(value) <= MAX_INT else f"must be at most {MAX_INT}, got {value!r}"
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        return None if math.isfinite(value) else f"must be a finite number, got {value!r}"
    if kind is str:
        return None if isinstance(value, str) else f"must be text, got {value!r}"
    if kind is dict:
        return None if isinstance(value, dict) else f"must be a table, got {value!r}"
    return None


def problems(cfg: RunConfig) -> dict[str, str]:
    """Every bad field with its reason, in form order: the form shows them all at once, the CLI the first."""
    found: dict[str, str] = {}
    for f in fields(cfg):
        reason = _type_problem(f.name, getattr(cfg, f.name))
        if reason:
            found[f.name] = reason
    if found:
        return found  # range checks below assume the types are right

    def bad(name: str, reason: str) -> None:
        found.setdefault(name, reason)

    for name in ("epochs", "batch_size", "lr_step", "eval_every", "eval_batch_size", "checkpoint_every"):
        if getattr(cfg, name) <= 0:
            bad(name, f"must be a positive whole number, got {getattr(cfg, name)!r}")
    if cfg.train_limit is not None and cfg.train_limit <= 0:
        bad("train_limit", f"must be a positive whole number or empty, got {cfg.train_limit!r}")
    for name in ("p_conv", "p_fc"):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            bad(name, f"must be in [0, 1], got {getattr(cfg, name)!r}")
    if cfg.lr <= 0:
        bad("lr", f"must be positive, got {cfg.lr!r}")
    if not 0.0 <= cfg.momentum < 1.0:
        bad("momentum", f"must be in [0, 1), got {cfg.momentum!r}")
    if cfg.weight_decay < 0:
        bad("weight_decay", f"must be zero or positive, got {cfg.weight_decay!r}")
    if cfg.max_norm is not None and not 0.0 < cfg.max_norm < float("inf"):
        bad("max_norm", f"must be a positive number or empty (off), got {cfg.max_norm!r}")
    if not 0.0 < cfg.lr_gamma <= 1.0:
        bad("lr_gamma", f"must be in (0, 1], got {cfg.lr_gamma!r}")
    if cfg.seed < 0:
        bad("seed", f"must be a whole number >= 0, got {cfg.seed!r}")
    if cfg.dataset not in DATASETS:
        bad("dataset", f"unknown dataset {cfg.dataset!r} (choose from {', '.join(DATASETS)})")
    if cfg.dataset == "imagefolder" and not cfg.data_dir:
        bad("data_dir", "imagefolder needs a folder with train/<class>/ and test/<class>/")
    if cfg.network not in NETWORKS:
        bad("network", f"unknown network {cfg.network!r} (choose from {', '.join(NETWORKS)})")
    if cfg.placement not in PLACEMENTS:
        bad("placement", f"unknown placement {cfg.placement!r} (choose from {', '.join(PLACEMENTS)})")
    elif cfg.network in NETWORKS and cfg.placement not in NETWORKS[cfg.network].placements:
        bad("placement", f"{cfg.network} has no conv layers to put dropout after: choose from "
            f"{', '.join(NETWORKS[cfg.network].placements)} (all drops the input with p_conv)")
    if not 1 <= cfg.hidden_units <= 65536:
        bad("hidden_units", f"must be 1 to 65536, got {cfg.hidden_units!r}")
    if not 1 <= cfg.hidden_layers <= 16:
        bad("hidden_layers", f"must be 1 to 16, got {cfg.hidden_layers!r}")
    for name, allowed in (("conv_kind", CONV_KINDS), ("fc_kind", FC_KINDS)):
        if getattr(cfg, name) not in allowed:
            bad(name, f"unknown kind {getattr(cfg, name)!r} (choose from {', '.join(allowed)})")
    for name, reason in _combination_problems(cfg):
        bad(name, reason)
    device_reason = _device_name_problem(cfg.device)
    if device_reason:
        bad("device", device_reason)
    return found


def validate(cfg: RunConfig) -> RunConfig:
    """Raise ConfigError naming the first bad field; return cfg unchanged when all is well."""
    found = problems(cfg)
    if found:
        raise ConfigError(*next(iter(found.items())))
    return cfg


def _combination_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    """Dropout settings that cannot mean anything on LeNet-5's shapes."""
    out = []
    if cfg.uses_fc_dropout:
        if cfg.fc_kind in KINDS and KINDS[cfg.fc_kind].channels:
            out.append(("fc_kind", f"{cfg.fc_kind} drops whole channels of a feature map; "
                        "the fc hidden layer is a plain vector: use "
                        + " or ".join(k.name for k in KINDS.values() if not k.channels)))
        if cfg.p_fc >= 1.0:
            out.append(("p_fc", "p=1 zeroes every fc unit: the network could not learn"))
    vector_input = cfg.network in NETWORKS and NETWORKS[cfg.network].conv_site_is_vector
    if cfg.uses_conv_dropout and vector_input:
        if cfg.conv_kind in KINDS and KINDS[cfg.conv_kind].channels:
            out.append(("conv_kind", f"{cfg.conv_kind} drops whole channels; {cfg.network} drops its input as a "
                        "flat vector: use " + " or ".join(k.name for k in KINDS.values() if not k.channels)))
    elif cfg.uses_conv_dropout:
        if cfg.conv_kind in KINDS and KINDS[cfg.conv_kind].map_dims != 4:
            out.append(("conv_kind", "dropout3d expects 5-D (N, C, D, H, W) volumes; "
                        "the conv maps are 4-D (N, C, H, W): use dropout2d"))
        if cfg.p_conv >= 1.0:
            out.append(("p_conv", "p=1 zeroes every conv channel: the network could not learn"))
    out += _weight_kind_problems(cfg)
    return out


def _weight_kind_problems(cfg: RunConfig) -> list[tuple[str, str]]:
    """A weight kind (DropConnect) masks the weights of the one layer that computes its site: refused at a site no
    single layer computes (the network row's weight_sites say which do)."""
    row = NETWORKS.get(cfg.network)
    if row is None:
        return []
    out = []
    for site, field, used, where in (("conv", "conv_kind", cfg.uses_conv_dropout, row.conv_site),
                                     ("fc", "fc_kind", cfg.uses_fc_dropout, row.fc_site)):
        kind = KINDS.get(getattr(cfg, field))
        if used and kind is not None and kind.weights and site not in row.weight_sites:
            out.append((field, f"{kind.name} masks the weights of the layer that computes its site; on {cfg.network} "
                        f"that site is {where}, which no single layer computes: use another kind"))
    return out


def _device_name_problem(device: str) -> str | None:
    if device in ("auto", "cpu", "cuda"):
        return None
    if device.startswith("cuda:") and device[5:].isdigit():
        return None
    return f"unknown device {device!r} (auto, cpu, cuda or cuda:N)"


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
        try:
            if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
                seen.append(d)
        except (OSError, RuntimeError):  # $TUI_DROPOUT_PRESETS too long to be a path, or a link loop: no presets there
            continue
    return seen


def list_presets() -> dict[str, Path]:
    """Preset name -> its file; a folder named x.toml is not a preset and is skipped."""
    found: dict[str, Path] = {}
    for d in presets_dirs():
        for path in sorted(d.glob("*.toml")):
            if path.is_file():
                found.setdefault(path.stem, path)
    return found


def unusable_presets() -> dict[str, Path]:
    """`*.toml` entries in the preset folders that are not files (a folder, a dangling link), by name, when no
    file of that name is found: `presets` lists them as broken and `load_preset` says what they are."""
    files = list_presets()
    found: dict[str, Path] = {}
    for d in presets_dirs():
        for path in sorted(d.glob("*.toml")):
            if path.stem not in files and not path.is_file():
                found.setdefault(path.stem, path)
    return found


def load_preset(name: str) -> RunConfig:
    """The preset's config; any fault in the file (encoding, TOML, unknown key, wrong type) is one ConfigError."""
    import tomllib

    available = list_presets()
    if name not in available:
        odd = unusable_presets().get(name)
        if odd is not None:
            what = "a folder" if odd.is_dir() else "a dangling link" if odd.is_symlink() else "not a regular file"
            raise ConfigError("preset", f"{odd} is {what}, not a preset file")
        choices = ", ".join(sorted(available)) or "none found"
        raise ConfigError("preset", f"unknown preset {name!r} (available: {choices})")
    path = available[name]
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("preset", f"{path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("preset", f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError("preset", f"{path} cannot be read: {exc.strerror or exc}") from None
    data["preset"] = name
    values = RunConfig().to_dict()
    for key, value in data.items():
        if key not in values:
            raise ConfigError("preset", f"{path}: unknown setting {key!r}")
        try:
            value = coerce(key, FIELD_TYPES[key], value)
        except ConfigError as exc:
            raise ConfigError("preset", f"{path}: {key} {exc.reason}") from None
        reason = _type_problem(key, value)
        if reason:
            raise ConfigError("preset", f"{path}: {key} {reason}")
        values[key] = value
    return RunConfig(**values)
