"""CIFAR-100 in torchvision's python-pickle layout (cifar-100-python/ holding train, test and meta), read by
CIFAR-10's batch reader with its 100 fine labels, and fetched by the same checked download."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable

from . import cifar10
from .arrays import ImageArrays

SOURCE = cifar10.Source(
    name="cifar100", title="CIFAR-100", url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    archive="cifar-100-python.tar.gz", archive_md5="eb9058c3a382ffc7106e4002c42a8d85", folder="cifar-100-python",
    files={"train": "16019d7e3df5f24257cddd939b257f8d", "test": "f0ef6b0ae62326f3e7ffdfab6717acfc"})
NUM_CLASSES = 100


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / SOURCE.folder


def missing(data_dir: Path) -> str | None:
    gone = [name for name in SOURCE.files if not (folder(data_dir) / name).is_file()]
    return f"CIFAR-100 not found in {folder(data_dir)} (missing {', '.join(gone)})" if gone else None


def source_files(data_dir: Path) -> list[Path]:
    return [folder(data_dir) / name for name in SOURCE.files]


def by_hand(data_dir: Path | None = None) -> str:
    return cifar10.by_hand(data_dir, SOURCE)


def read(data_dir: Path, progress=None, warn: Callable[[str], None] | None = None) -> ImageArrays:
    root = folder(data_dir)
    train_x, train_y = cifar10._read_batch(root / "train", NUM_CLASSES, "cifar100")
    test_x, test_y = cifar10._read_batch(root / "test", NUM_CLASSES, "cifar100")
    classes = [str(i) for i in range(NUM_CLASSES)]
    try:
        with open(root / "meta", "rb") as f:
            names = [str(n) for n in pickle.load(f, encoding="latin1")["fine_label_names"]]
        if len(names) == NUM_CLASSES:
            classes = names
    except Exception:  # the meta file only names classes; a bad or missing one costs nothing but the names
        pass
    return ImageArrays(train_x, train_y, test_x, test_y, classes)


def fetch(data_dir: Path, timeout: float = 60.0, progress=None) -> Path:
    return cifar10.fetch(data_dir, timeout, progress, SOURCE)
