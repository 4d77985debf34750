"""DropConnect (Wan et al. 2013): single weights zeroed rather than units, and the step that moves a weight kind
from the site a network builds it at onto the weights of the layer that computes that site.

Dropout after a layer, m * a(W v), zeroes whole rows of W; DropConnect, a((M * W) v), zeroes single entries of the
same W. So a network builds `make_dropout("dropconnect", p)` where dropout would go, as for every kind, and
`move_to_weights` (called by trainer/networks.build) traces the network with torch.fx, follows each such site back
through ReLU, pooling, BatchNorm and reshapes to the one Linear or Conv2d that computes it, registers the module as
a parametrization of that layer's weight (torch.nn.utils.parametrize) and leaves an Identity at the site. A fresh
mask is drawn each time the weight is read, so once per forward; eval() turns it off and MC dropout turns it on
again, as for any kind (the module is among DROPOUT_CLASSES and has `p`)."""
from __future__ import annotations

import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrize

from ..errors import DropoutTuiError


class DropConnect(nn.Module):
    """Given a weight tensor, each entry kept with probability 1-p and scaled by 1/(1-p) while training (inverted,
    as dropout); the weight unchanged in eval() mode."""

    weights = True  # a weight kind: moved from its site onto the weights before it (move_to_weights)

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropconnect: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return weight
        if self.p == 1.0:
            return weight * 0.0
        keep = 1.0 - self.p
        return weight * torch.empty_like(weight).bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class CannotApply(DropoutTuiError, ValueError):
    """A weight kind's site that no single Linear or Conv2d computes (the input, a residual sum)."""


# what lies between a layer and the units at a site without mixing other values in: the layer still computes them
PASS_MODULES = (nn.ReLU, nn.MaxPool2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.Identity, nn.Flatten)
PASS_FUNCTIONS = {F.relu, torch.relu, F.max_pool2d, torch.flatten, F.batch_norm}
PASS_METHODS = {"relu", "relu_", "flatten", "view", "reshape", "contiguous"}
WEIGHT_LAYERS = (nn.Linear, nn.Conv2d)


class _SitesAsLeaves(torch.fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return getattr(m, "weights", False) is True or super().is_leaf_module(m, qualname)


def _producer(node: torch.fx.Node, modules: dict[str, nn.Module]) -> nn.Module | None:
    """The Linear or Conv2d whose output reaches `node` through pass-through steps only, or None."""
    while True:
        if node.op == "call_module":
            m = modules[str(node.target)]
            if isinstance(m, WEIGHT_LAYERS):
                return m
            if not isinstance(m, PASS_MODULES) and not getattr(m, "weights", False):
                return None
        elif node.op == "call_function":
            if node.target not in PASS_FUNCTIONS:  # a residual add mixes in another path: no single layer
                return None
        elif node.op == "call_method":
            if node.target not in PASS_METHODS:
                return None
        else:  # the input itself, a constant
            return None
        first = node.args[0] if node.args else None
        if not isinstance(first, torch.fx.Node):
            return None
        node = first


def move_to_weights(model: nn.Module) -> nn.Module:
    """Each weight-kind module at a site becomes a parametrization of the weight of the layer that computes the site
    (one per layer, shared sites included); CannotApply naming the site when no single layer does."""
    sites = {name for name, m in model.named_modules() if getattr(m, "weights", False) is True}
    if not sites:
        return model
    graph = _SitesAsLeaves().trace(model)
    modules = dict(model.named_modules())
    moved: dict[int, nn.Module] = {}
    for node in graph.nodes:
        if node.op != "call_module" or str(node.target) not in sites:
            continue
        site = modules[str(node.target)]
        source = node.args[0] if node.args else None
        layer = _producer(source, modules) if isinstance(source, torch.fx.Node) else None
        if layer is None:
            raise CannotApply(f"{type(site).__name__} at {node.target} follows no single Linear or Conv2d")
        if id(layer) not in moved:
            mask = type(site)(p=site.p).eval()  # registering calls it once: in eval() it draws no random numbers
            parametrize.register_parametrization(layer, "weight", mask)
            mask.train(site.training)
            moved[id(layer)] = layer
    for name in sites:
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, attr, nn.Identity())
    return model


def raw_weight(layer: nn.Module) -> torch.Tensor:
    """The stored weight of a layer, under any parametrization (what an optimiser and max-norm change)."""
    if parametrize.is_parametrized(layer, "weight"):
        return layer.parametrizations.weight.original
    return layer.weight
