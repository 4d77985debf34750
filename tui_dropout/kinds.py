"""The dropout kinds: one torch-free row each, read by config, fusion, the models and the inspector."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One dropout kind; trainer/kinds.py maps `name` to its torch module."""

    name: str
    module: str          # the torch class's name, as the inspector shows it
    description: str
    channels: bool       # drops whole channels of a feature map: means nothing on the fc (N, 84) vector
    map_dims: int        # the rank of feature map it expects (4 = N, C, H, W; 5 = N, C, D, H, W)
    fuse_conv: bool      # the fused trainer can draw its conv masks per member
    fuse_fc: bool        # the fused trainer can draw its fc masks per member
    weights: bool = False  # masks the weights of the layer that computes its site, not the units at the site


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("dropout", "nn.Dropout", "zeroes single units", False, 4, True, True),
    Kind("dropout2d", "nn.Dropout2d", "zeroes whole channels of a 2-D map", True, 4, True, False),
    Kind("dropout3d", "nn.Dropout3d", "zeroes whole channels of a 3-D volume", True, 5, False, False),
    Kind("alpha", "nn.AlphaDropout", "keeps mean and variance (for SELU)", False, 4, False, False),
    Kind("feature_alpha", "nn.FeatureAlphaDropout", "alpha dropout of whole channels", True, 4, False, False),
    Kind("gaussian", "GaussianDropout", "multiplies each unit by N(1, p/(1-p)) noise", False, 4, False, False),
    Kind("dropblock", "DropBlock", "zeroes 3x3 blocks of each map (torchvision DropBlock2d)", True, 4, False, False),
    Kind("dropconnect", "DropConnect", "zeroes single weights of the layer before its site (Wan et al. 2013)", False, 4,
         False, False, weights=True),
)}
