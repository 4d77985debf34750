"""Dropout kinds that torch.nn lacks: Gaussian dropout (multiplicative N(1, p/(1-p)) noise, Srivastava et al.
2014, section 10) and DropBlock (torchvision's ops.DropBlock2d, with the block size LeNet-5's maps allow)."""
from __future__ import annotations

import torch
import torch.nn as nn
from torchvision.ops import DropBlock2d

DROPBLOCK_SIZE = 3  # LeNet-5's maps are 28, 10 and 1 wide: torchvision clamps the block to a smaller map


class GaussianDropout(nn.Module):
    """Multiplies each unit by noise drawn from N(1, p/(1-p)) while training: the same mean and variance as
    inverted Bernoulli dropout of rate p, without zeroes. In eval() mode it is the identity."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"gaussian dropout: p must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        std = (self.p / (1.0 - self.p)) ** 0.5
        return x * torch.randn_like(x).mul_(std).add_(1.0)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class DropBlock(DropBlock2d):
    """torchvision's DropBlock2d (contiguous 3x3 regions of each map dropped together), built from p alone as
    every kind is."""

    def __init__(self, p: float = 0.5, block_size: int = DROPBLOCK_SIZE):
        super().__init__(p, block_size)
