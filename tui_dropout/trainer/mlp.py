"""Srivastava et al.'s MNIST network (JMLR 2014, section 6.1.1): fully connected ReLU layers, dropout on the
input pixels (p_conv, conv_kind) and after every hidden layer (p_fc, fc_kind)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import RunConfig
from .kinds import make_dropout


class MLP(nn.Module):
    def __init__(self, in_features: int, num_classes: int, hidden_units: int = 1024, hidden_layers: int = 3,
                 placement: str = "none", p_in: float = 0.2, p_hidden: float = 0.5, in_kind: str = "dropout",
                 hidden_kind: str = "dropout"):
        super().__init__()
        widths = [in_features] + [hidden_units] * hidden_layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.out = nn.Linear(widths[-1], num_classes)
        self.drop_in = make_dropout(in_kind, p_in) if placement == "all" else nn.Identity()
        on = placement in ("fc", "all")
        self.drops = nn.ModuleList(make_dropout(hidden_kind, p_hidden) if on else nn.Identity() for _ in self.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop_in(x.flatten(1))
        for layer, drop in zip(self.hidden, self.drops):
            x = drop(F.relu(layer(x), inplace=True))
        return self.out(x)


def from_config(cfg: RunConfig, in_channels: int, num_classes: int) -> MLP:
    from ..data.registry import DATASETS

    shape = DATASETS[cfg.dataset].shape if cfg.dataset in DATASETS else None
    side = shape[1] if shape else 32  # an image folder is decoded to 32x32
    return MLP(in_channels * side * side, num_classes, cfg.hidden_units, cfg.hidden_layers, cfg.placement,
               cfg.p_conv, cfg.p_fc, cfg.conv_kind, cfg.fc_kind)


def hidden_layers(net: MLP) -> list:
    """The hidden layers trainer/inside.py looks into: h1, h2, ... after their ReLU."""
    from .inside import Hidden

    return [Hidden(f"h{i}", layer, [layer.weight], relu=True) for i, layer in enumerate(net.hidden, 1)]
