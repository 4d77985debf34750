"""torchvision's ResNet-18, adapted to 32x32 images as CIFAR studies do (a 3x3 stride-1 stem, no max-pool),
with dropout after each of its four residual stages (p_conv) and on the pooled features before the classifier
(p_fc)."""
from __future__ import annotations

import torch.nn as nn

from ..config import RunConfig
from .kinds import make_dropout


def from_config(cfg: RunConfig, in_channels: int, num_classes: int) -> nn.Module:
    from torchvision.models import resnet18

    net = resnet18(weights=None, num_classes=num_classes)
    net.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    if cfg.placement in ("conv", "all"):
        for name in ("layer1", "layer2", "layer3", "layer4"):
            setattr(net, name, nn.Sequential(getattr(net, name), make_dropout(cfg.conv_kind, cfg.p_conv)))
    if cfg.placement in ("fc", "all"):
        net.fc = nn.Sequential(make_dropout(cfg.fc_kind, cfg.p_fc), net.fc)
    return net


def hidden_layers(net: nn.Module) -> list:
    """The hidden layers trainer/inside.py looks into: the stem after its ReLU and each residual stage's output
    (after its last ReLU), with the weights of every conv in it."""
    from .inside import Hidden

    out = [Hidden("conv1", net.relu, [net.conv1.weight])]
    for name in ("layer1", "layer2", "layer3", "layer4"):
        stage = getattr(net, name)
        out.append(Hidden(name, stage, [m.weight for m in stage.modules() if isinstance(m, nn.Conv2d)]))
    return out
