"""Checks before a run folder exists: the config, the device and the data. No torch unless cuda is named."""
from __future__ import annotations

from typing import Any

from .config import ConfigError, RunConfig, check_device_present, load_preset, validate
from .data import DataError, check_available


def build_config(preset: str, overrides: dict[str, Any]) -> RunConfig:
    return load_preset(preset).with_overrides(**overrides)


def preflight(cfg: RunConfig, check_device: bool = True) -> RunConfig:
    """Raise ConfigError naming the field when the run could not start; nothing is written.

    check_device=False skips the one check that imports torch (the console's form checks as you type)."""
    validate(cfg)
    if check_device:
        check_device_present(cfg.device)
    try:
        check_available(cfg.dataset, cfg.data_dir)
    except DataError as exc:
        text = str(exc)
        field, _, reason = text.partition(": ") if text.startswith("data_dir: ") else ("data_dir", "", text)
        raise ConfigError(field, reason) from None
    return cfg
