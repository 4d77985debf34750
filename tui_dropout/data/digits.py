"""The offline dataset: scikit-learn's 8x8 handwritten digits, scaled to LeNet-5's 32x32 input."""
from __future__ import annotations

import numpy as np

from .arrays import ImageArrays

TEST_FRACTION = 0.25


def missing(root) -> None:
    return None  # inside scikit-learn


def source_files(root) -> list:
    return []


def by_hand(root=None) -> str:
    return "it ships with scikit-learn (pip install scikit-learn)"


def read(root=None, progress=None, warn=None) -> ImageArrays:
    from sklearn.datasets import load_digits  # ships inside scikit-learn: no network needed

    digits = load_digits()
    images = np.asarray(digits.images, dtype=np.float32)  # (1797, 8, 8), values 0..16
    pixels = np.clip(np.rint(images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    big = pixels.repeat(4, axis=1).repeat(4, axis=2)[:, None]  # nearest-neighbour 8x8 -> 32x32, 1 channel
    labels = np.asarray(digits.target, dtype=np.int64)
    order = np.random.default_rng(0).permutation(len(labels))  # fixed split, same on every machine
    n_test = int(len(labels) * TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    return ImageArrays(big[train], labels[train], big[test], labels[test], [str(i) for i in range(10)])
