"""LeNet-5 as in the seed, with dropout placement, kind and rate chosen per group (conv, fc)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import RunConfig

from .kinds import DROPOUT_CLASSES, make_dropout  # noqa: F401 (callers import them from here)

INPUT_SIZE = 32  # LeNet-5's input is 32x32; smaller images (MNIST's 28x28) are padded to it (ImageArrays.fitted)


class LeNet5(nn.Module):
    """conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> conv 120@5x5 -> fc 84 -> fc 10, ReLU, 2x2 max-pool.

    forward() applies dropout while the module is in train() mode (inverted dropout: kept units
    are scaled by 1/(1-p), so eval() uses every unit as is); predict() is the seed's other way,
    the same network with the dropout layers skipped.
    """

    def __init__(self, in_channels: int = 3, placement: str = "none", p_conv: float = 0.5, p_fc: float = 0.5,
                 conv_kind: str = "dropout2d", fc_kind: str = "dropout", num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.conv3 = nn.Conv2d(16, 120, kernel_size=5)
        self.pool = nn.MaxPool2d(2, stride=2)
        self.fc1 = nn.Linear(120, 84)
        self.fc2 = nn.Linear(84, num_classes)
        conv_on = placement in ("conv", "all")
        fc_on = placement in ("fc", "all")
        self.drop_conv = make_dropout(conv_kind, p_conv) if conv_on else nn.Identity()
        self.drop_fc = make_dropout(fc_kind, p_fc) if fc_on else nn.Identity()

    @classmethod
    def from_config(cls, cfg: RunConfig, in_channels: int, num_classes: int = 10) -> "LeNet5":
        return cls(in_channels, cfg.placement, cfg.p_conv, cfg.p_fc, cfg.conv_kind, cfg.fc_kind, num_classes)

    # ReLU runs in place: conv and linear backward passes never read their outputs, and it saves an
    # allocation per layer (20% of a CPU epoch, benchmarks/epoch_speed.py).
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.drop_conv(F.relu(self.conv1(x), inplace=True)))
        x = self.pool(self.drop_conv(F.relu(self.conv2(x), inplace=True)))
        x = self.drop_conv(F.relu(self.conv3(x), inplace=True))
        x = self.drop_fc(F.relu(self.fc1(x.flatten(1)), inplace=True))
        return self.fc2(x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.conv1(x), inplace=True))
        x = self.pool(F.relu(self.conv2(x), inplace=True))
        x = F.relu(self.conv3(x), inplace=True)
        x = F.relu(self.fc1(x.flatten(1)), inplace=True)
        return self.fc2(x)


def from_config(cfg: RunConfig, in_channels: int, num_classes: int) -> LeNet5:
    """The registry's entry point (trainer/networks.py)."""
    return LeNet5.from_config(cfg, in_channels, num_classes)


def hidden_layers(net: LeNet5) -> list:
    """The hidden layers trainer/inside.py looks into: each conv and the fc hidden layer, after their ReLU."""
    from .inside import Hidden

    return [Hidden(name, getattr(net, name), [getattr(net, name).weight], relu=True)
            for name in ("conv1", "conv2", "conv3", "fc1")]
