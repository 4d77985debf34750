"""Checks before a run folder exists: the config, the device and the data. No torch."""
from __future__ import annotations

from typing import Any

from .config import ConfigError, RunConfig, load_preset, problems
from .data import DataError, check_available
from .gpus import check_device_listed


def build_config(preset: str, overrides: dict[str, Any]) -> RunConfig:
    return load_preset(preset).with_overrides(**overrides)


def preflight_problems(cfg: RunConfig, local_device: bool = True) -> dict[str, str]:
    """Every reason this run could not start, by field; cheap enough to run on every key press.

    local_device=False leaves the device to the machine that will train (a Slurm node, not this login node)."""
    found = problems(cfg)
    if local_device and "device" not in found:
        try:
            check_device_listed(cfg.device)
        except ConfigError as exc:
            found["device"] = exc.reason
    if found.keys() & {"dataset", "data_dir"}:
        return found
    try:
        check_available(cfg.dataset, cfg.data_dir)
    except DataError as exc:
        found["data_dir"] = exc.reason if exc.field == "data_dir" else str(exc)
    return found


def preflight(cfg: RunConfig, local_device: bool = True) -> RunConfig:
    """Raise ConfigError naming the first field that would keep the run from starting; nothing is written."""
    found = preflight_problems(cfg, local_device)
    if found:
        raise ConfigError(*next(iter(found.items())))
    return cfg
