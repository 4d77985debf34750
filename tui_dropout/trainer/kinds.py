"""The torch side of the dropout kinds: each row of tui_dropout/kinds.py mapped to its module, in one place."""
from __future__ import annotations

import torch.nn as nn

from .dropconnect import DropConnect
from .noise import DropBlock, GaussianDropout

DROPOUT_CLASSES: dict[str, type[nn.Module]] = {
    "dropout": nn.Dropout,
    "dropout2d": nn.Dropout2d,
    "dropout3d": nn.Dropout3d,
    "alpha": nn.AlphaDropout,
    "feature_alpha": nn.FeatureAlphaDropout,
    "gaussian": GaussianDropout,
    "dropblock": DropBlock,
    "dropconnect": DropConnect,
}


def make_dropout(kind: str, p: float) -> nn.Module:
    return DROPOUT_CLASSES[kind](p=p)
