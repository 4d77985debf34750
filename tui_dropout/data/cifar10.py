"""CIFAR-10 in torchvision's python-pickle layout (cifar-10-batches-py/), read directly, and its fetch."""
from __future__ import annotations

import hashlib
import pickle
import socket
from pathlib import Path
from typing import Callable

import numpy as np

from .arrays import DataError, ImageArrays

FOLDER = "cifar-10-batches-py"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
TRAIN_FILES = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
}
TEST_FILES = {"test_batch": "40351d587109b95175f43aff81a1287e"}
META = "batches.meta"


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER


def missing_files(data_dir: Path) -> list[str]:
    root = folder(data_dir)
    return [name for name in [*TRAIN_FILES, *TEST_FILES] if not (root / name).is_file()]


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}); delete it and run "
                        "`dropout-tui data fetch cifar10`") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{path} is malformed: data {data.shape}, {len(labels)} labels (want (N, 3072) and N labels)")
    return data.reshape(-1, 3, 32, 32), labels


def read(data_dir: Path, warn: Callable[[str], None] | None = None) -> ImageArrays:
    """The five train batches and the test batch; files whose md5 is not torchvision's are read, and `warn` told once."""
    root = folder(data_dir)
    missing = missing_files(data_dir)
    if missing:
        raise DataError(f"CIFAR-10 not found in {root} (missing {', '.join(missing)}); run "
                        f"`dropout-tui data fetch cifar10 --data-dir {data_dir}` or pass --data-dir")
    train = [_read_batch(root / name) for name in TRAIN_FILES]
    test_x, test_y = _read_batch(root / "test_batch")
    differ = [name for name, md5 in {**TRAIN_FILES, **TEST_FILES}.items() if _md5(root / name) != md5]
    if differ and warn:
        warn(f"CIFAR-10 in {root}: md5 of {', '.join(differ)} differs from torchvision's; reading them anyway")
    classes = [str(i) for i in range(10)]
    if (root / META).is_file():
        try:
            with open(root / META, "rb") as f:
                classes = list(pickle.load(f, encoding="latin1")["label_names"])
        except Exception:  # the meta file only names classes; a bad one costs nothing but the names
            pass
    return ImageArrays(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
                       test_x, test_y, classes)


def fetch(data_dir: Path, timeout: float = 60.0) -> Path:
    """Download and unpack through torchvision, with a socket timeout so an offline machine fails fast."""
    from torchvision.datasets.utils import download_and_extract_archive

    Path(data_dir).mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        download_and_extract_archive(URL, str(data_dir), filename=ARCHIVE, md5=ARCHIVE_MD5)
    except Exception as exc:  # urllib raises a zoo of types; the user needs one line
        raise DataError(f"could not download CIFAR-10 from {URL} within {timeout:.0f}s: {exc}") from None
    finally:
        socket.setdefaulttimeout(previous)
    return folder(data_dir)
