"""Each dropout kind with its rate as a tensor, for the torch.func fused pass: under vmap every member brings its own
p (F.dropout and torchvision's drop_block2d take p as a Python float, which vmap cannot batch), and the masks are
drawn from per-member keep probabilities with randomness="different". Same mean and variance as the kind's module;
p=0 is the identity, as the module is."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .kinds import DROPOUT_CLASSES

ALPHA = 1.7580993408473766  # SELU's -alpha' (torch's alpha_dropout)


def _bernoulli(x: torch.Tensor, p: torch.Tensor, channels: bool) -> torch.Tensor:
    """Keep masks (1.0 kept, 0.0 dropped): one per unit, or one per channel of an (N, C, ...) map."""
    shape = (*x.shape[:2], *([1] * (x.dim() - 2))) if channels and x.dim() > 2 else x.shape
    return (torch.rand(shape, device=x.device, dtype=x.dtype) >= p).to(x.dtype)


def _inverted(x: torch.Tensor, p: torch.Tensor, channels: bool) -> torch.Tensor:
    keep = 1.0 - p
    return x * _bernoulli(x, p, channels) / keep.clamp_min(1e-12)  # p=1: every mask zero, so zeroes, as torch


def _alpha(x: torch.Tensor, p: torch.Tensor, channels: bool) -> torch.Tensor:
    """torch's alpha dropout: dropped units set to SELU's saturation value, then an affine map keeping mean and
    variance."""
    noise = _bernoulli(x, p, channels)
    a = 1.0 / torch.sqrt((ALPHA * ALPHA * p + 1) * (1 - p)).clamp_min(1e-12)
    return x * noise * a + (noise - 1) * ALPHA * a + ALPHA * a * p


def _gaussian(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    std = torch.sqrt(p / (1.0 - p))
    return x * (1.0 + torch.randn_like(x) * std)


def _dropblock(x: torch.Tensor, p: torch.Tensor, block_size: int, eps: float) -> torch.Tensor:
    """torchvision's drop_block2d with p a tensor: block centres drawn with rate gamma, grown to blocks by a max-pool,
    the kept part rescaled to the map's size."""
    n, c, h, w = x.shape
    size = min(block_size, h, w)
    gamma = p * h * w / (size ** 2 * ((h - size + 1) * (w - size + 1)))
    noise = (torch.rand((n, c, h - size + 1, w - size + 1), device=x.device, dtype=x.dtype) < gamma).to(x.dtype)
    noise = F.pad(noise, [size // 2] * 4, value=0)
    noise = 1 - F.max_pool2d(noise, stride=(1, 1), kernel_size=(size, size), padding=size // 2)
    return x * noise * (noise.numel() / (eps + noise.sum()))


# kind name -> (the module at a site, its input, p as a 0-d tensor) -> output, in training mode
FORMS: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "dropout": lambda m, x, p: _inverted(x, p, False),
    "dropout2d": lambda m, x, p: _inverted(x, p, True),
    "dropout3d": lambda m, x, p: _inverted(x, p, True),
    "alpha": lambda m, x, p: _alpha(x, p, False),
    "feature_alpha": lambda m, x, p: _alpha(x, p, True),
    "gaussian": lambda m, x, p: _gaussian(x, p),
    "dropblock": lambda m, x, p: _dropblock(x, p, m.block_size, m.eps),
    "dropconnect": lambda m, x, p: _inverted(x, p, False),  # x is the layer's weight here
}
KIND_OF = {cls: name for name, cls in DROPOUT_CLASSES.items()}


class RateSite(nn.Module):
    """A kind's module with its rate as the buffer `p`, so that torch.func.functional_call can hand each member its
    own; the module it stands for is kept (outside the module tree) for its other settings."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.kind = KIND_OF[type(module)]
        self.__dict__["of"] = module  # not a submodule: its p stays a float and out of the state
        self.register_buffer("p", torch.tensor(float(module.p)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return FORMS[self.kind](self.of, x, self.p)


def rate_sites(model: nn.Module) -> dict[str, nn.Module]:
    """Each dropout module of `model` by name (under a parametrization too), in module order."""
    kinds = tuple(DROPOUT_CLASSES.values())
    return {name: m for name, m in model.named_modules() if isinstance(m, kinds)}


def with_rate_sites(model: nn.Module) -> list[str]:
    """Replace every dropout module of `model` by its RateSite, in place; the names of their `p` buffers."""
    names = []
    for name, m in rate_sites(model).items():
        parent, _, attr = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        site = RateSite(m).train(m.training)
        if isinstance(owner, (nn.ModuleList, nn.Sequential)):
            owner[int(attr)] = site
        else:
            setattr(owner, attr, site)
        names.append(f"{name}.p")
    return names
