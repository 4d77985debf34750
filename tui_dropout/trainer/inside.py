"""What dropout does inside a network: at an evaluation, each hidden layer's mean activation, fraction of zeros and
weight norm on a fixed batch of test images (dropout off), their histograms and the first layer's filters.

Forward hooks on the layers each network module names (`hidden_layers(net)` in trainer/<module>.py) read the
activations as one forward pass of the batch makes them; nothing is kept but the figures. No random number is drawn
(eval mode), so a run trains exactly as it would without looking."""
from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import torch
import torch.nn as nn

from ..networks import NETWORKS

PROBE_IMAGES = 512  # the first this many test images, the same at every evaluation
BINS = 40  # bins of each histogram
MAX_FILTERS = 64  # filters of the first layer kept in inside.json
FILTER_DIGITS = 5  # significant digits of a filter weight in inside.json: a picture needs no more


class Hidden(NamedTuple):
    """One hidden layer as a network module names it."""

    name: str  # short and stable: conv1, fc1, h2, block3, layer4
    module: nn.Module  # its forward output is the layer's activation (or, with relu, the input of a ReLU after it)
    weights: list[torch.Tensor]  # the weight tensors of the layer (biases left out), for its L2 norm
    relu: bool = False  # the network applies a functional ReLU to the module's output: the activation is that


def hidden_layers(net: nn.Module, network: str) -> list[Hidden]:
    module = importlib.import_module(f"tui_dropout.trainer.{NETWORKS[network].module}")
    return module.hidden_layers(net)


def histogram(values: torch.Tensor) -> dict[str, list]:
    """BINS equal bins from min(0, smallest) to the largest finite value (0 to the max for a ReLU layer); every
    finite value counted once (the largest in the last bin)."""
    values = values[torch.isfinite(values)]
    lo = min(0.0, float(values.min())) if values.numel() else 0.0
    hi = float(values.max()) if values.numel() else 1.0
    if not hi > lo:
        hi = lo + 1.0  # a dead layer (all zeros): one bin holds them all
    index = ((values - lo) * (BINS / (hi - lo))).floor_().clamp_(0, BINS - 1).long()
    counts = torch.bincount(index, minlength=BINS)
    edges = torch.linspace(lo, hi, BINS + 1, dtype=torch.float64)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def _summary(x: torch.Tensor) -> dict[str, Any]:
    """The figures of one layer's activations x (images, units)."""
    x = x.float().reshape(x.shape[0], -1)
    zeros = x.numel() - int(torch.count_nonzero(x))  # counted exactly: a float mean of 0/1 would round
    return {"units": x.shape[1], "mean": float(x.mean()), "zero_fraction": zeros / max(1, x.numel()),
            "hist": histogram(x.reshape(-1)), "unit_mean_hist": histogram(x.mean(0))}


def _filters(layer: Hidden, images: torch.Tensor) -> dict[str, Any]:
    """The first layer's weights as pictures: a conv's filters, or each unit's input weights of a fully connected
    layer laid out as the input images (c, h, w)."""
    w = layer.weights[0].detach().float()[:MAX_FILTERS].cpu()
    if w.dim() == 2:
        w = w.reshape(w.shape[0], *images.shape[1:])
    flat = w.reshape(w.shape[0], -1).tolist()
    return {"layer": layer.name, "shape": list(w.shape),
            "values": [[float(f"{v:.{FILTER_DIGITS}g}") for v in row] for row in flat]}


@torch.inference_mode()
def look_inside(net: nn.Module, network: str, images: torch.Tensor, epoch: int) -> tuple[dict[str, float], dict]:
    """(the metric row's per-layer values, the inside.json document) of `net` on `images` (normalised), in eval
    mode; the module's train/eval mode is left as it was."""
    layers = hidden_layers(net, network)
    found: dict[str, dict[str, Any]] = {}
    handles = []
    for layer in layers:
        def hook(module, inputs, output, layer=layer):  # runs before any in-place ReLU that follows the module
            found[layer.name] = _summary(output.clamp(min=0) if layer.relu else output)
        handles.append(layer.module.register_forward_hook(hook))
    was_training = net.training
    net.eval()
    try:
        net(images)
    finally:
        for handle in handles:
            handle.remove()
        net.train(was_training)
    row: dict[str, float] = {}
    out = []
    for layer in layers:
        figures = found[layer.name]
        norm = float(torch.sqrt(sum((w.detach().float() ** 2).sum() for w in layer.weights)))
        figures = {"name": layer.name, **figures, "weight_norm": norm}
        out.append(figures)
        row.update({f"act_mean.{layer.name}": figures["mean"], f"sparsity.{layer.name}": figures["zero_fraction"],
                    f"wnorm.{layer.name}": norm})
    doc = {"epoch": epoch, "images": int(images.shape[0]), "layers": out,
           "filters": _filters(layers[0], images) if layers else None}
    return row, doc
