"""Small datasets written in each real on-disk format the readers take: idx files (MNIST, Fashion-MNIST),
CIFAR-100's pickles and SVHN's .mat files. Each writer returns the data folder and the labels it wrote."""
from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(root: Path, folder: str, train: int = 40, test: int = 20, seed: int = 0) -> dict:
    """<root>/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte, big-endian headers as LeCun wrote them."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    labels = {}
    for split, n in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + y.tobytes())
        labels[split] = (images, y)
    return labels


def write_cifar100(root: Path, train: int = 60, test: int = 30, seed: int = 0) -> dict:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", train), ("test", test)):
        fine = [int(x) for x in rng.integers(0, 100, n)]
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        with open(folder / split, "wb") as f:
            pickle.dump({"filenames": [f"{i}.png" for i in range(n)], "fine_labels": fine,
                         "coarse_labels": [x // 5 for x in fine], "data": data}, f, protocol=2)
        out[split] = (data, fine)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"class{i}" for i in range(100)],
                     "coarse_label_names": [f"super{i}" for i in range(20)]}, f)
    return out


def write_svhn(root: Path, train: int = 40, test: int = 20, seed: int = 0) -> dict:
    """<root>/svhn/{train,test}_32x32.mat: X is 32x32x3xN uint8, y is Nx1 with the digit 0 written as 10."""
    import scipy.io

    folder = root / "svhn"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", train), ("test", test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
        scipy.io.savemat(str(folder / f"{split}_32x32.mat"), {"X": x, "y": y})
        out[split] = (x, y)
    return out
