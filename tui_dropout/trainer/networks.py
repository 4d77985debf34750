"""Builds the torch module a run's network row names (tui_dropout/networks.py), from its config."""
from __future__ import annotations

import importlib

import torch.nn as nn

from ..config import RunConfig
from ..networks import NETWORKS
from .dropconnect import move_to_weights


def build(cfg: RunConfig, in_channels: int, num_classes: int) -> nn.Module:
    """The row's module, with any weight kind (DropConnect) moved from its sites onto the weights before them."""
    row = NETWORKS[cfg.network]
    model = importlib.import_module(f"tui_dropout.trainer.{row.module}").from_config(cfg, in_channels, num_classes)
    return move_to_weights(model)


def input_size(cfg: RunConfig) -> int | None:
    """The size images are padded to for the run's network (None: as they are)."""
    return NETWORKS[cfg.network].input_size
