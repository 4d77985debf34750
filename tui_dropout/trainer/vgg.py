"""A VGG-style CIFAR network: three blocks of two 3x3 conv layers with BatchNorm and ReLU, then 2x2 max-pool
(64, 128, 256 channels), dropout after each block (p_conv), and a 512-unit classifier with dropout (p_fc)."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..config import RunConfig
from .kinds import make_dropout

WIDTHS = (64, 128, 256)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.MaxPool2d(2))


class VGG(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, placement: str = "none", p_conv: float = 0.2,
                 p_fc: float = 0.5, conv_kind: str = "dropout2d", fc_kind: str = "dropout"):
        super().__init__()
        conv_on, fc_on = placement in ("conv", "all"), placement in ("fc", "all")
        layers, cin = [], in_channels
        for width in WIDTHS:
            layers += [_block(cin, width), make_dropout(conv_kind, p_conv) if conv_on else nn.Identity()]
            cin = width
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(WIDTHS[-1] * 4 * 4, 512)
        self.drop_fc = make_dropout(fc_kind, p_fc) if fc_on else nn.Identity()
        self.fc2 = nn.Linear(512, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).flatten(1)
        return self.fc2(self.drop_fc(torch.relu(self.fc1(x))))


def from_config(cfg: RunConfig, in_channels: int, num_classes: int) -> VGG:
    return VGG(in_channels, num_classes, cfg.placement, cfg.p_conv, cfg.p_fc, cfg.conv_kind, cfg.fc_kind)


def hidden_layers(net: VGG) -> list:
    """The hidden layers trainer/inside.py looks into: each block after its second ReLU (before its pool), with
    both its convs' weights, and the classifier's hidden layer after its ReLU."""
    from .inside import Hidden

    blocks = [m for m in net.features if isinstance(m, nn.Sequential)]
    out = [Hidden(f"block{i}", block[5], [block[0].weight, block[3].weight]) for i, block in enumerate(blocks, 1)]
    return out + [Hidden("fc1", net.fc1, [net.fc1.weight], relu=True)]
