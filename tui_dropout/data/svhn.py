"""SVHN's cropped digits in their standard files (train_32x32.mat, test_32x32.mat in <data-dir>/svhn/), read with
scipy.io.loadmat as torchvision's SVHN reads them (X is H x W x C x N, label 10 means the digit 0)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .arrays import DataError, ImageArrays

FOLDER = "svhn"
FILES = {"train_32x32.mat": ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
                             "e26dedcc434d2e4c54c9b2d4a06d8373"),
         "test_32x32.mat": ("http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
                            "eb5a983be6a315427106f1b164d9cef3")}


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER


def missing(data_dir: Path) -> str | None:
    gone = [name for name in FILES if not (folder(data_dir) / name).is_file()]
    return f"SVHN not found in {folder(data_dir)} (missing {', '.join(gone)})" if gone else None


def source_files(data_dir: Path) -> list[Path]:
    return [folder(data_dir) / name for name in FILES]


def by_hand(data_dir: Path | None = None) -> str:
    where = folder(data_dir or Path("DIR"))
    urls = ", ".join(url for url, _ in FILES.values())
    return f"to place it by hand, download {urls} into {where}/; the data folder is --data-dir DIR, else $TUI_DROPOUT_DATA"


def _read_split(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
        x, y = np.asarray(mat["X"]), np.asarray(mat["y"]).astype(np.int64).reshape(-1)
    except Exception as exc:  # scipy raises MatReadError, ValueError, OSError... for a damaged file
        raise DataError(f"{path} cannot be read as SVHN ({type(exc).__name__}: {str(exc)[:200]})") from None
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y) or x.dtype != np.uint8:
        raise DataError(f"{path} is malformed: X {x.shape} {x.dtype}, {len(y)} labels (want 32x32x3xN uint8)")
    y[y == 10] = 0  # SVHN writes the digit 0 as class 10
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise DataError(f"{path} is malformed: labels run from {y.min()} to {y.max()} (want 1..10)")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), y  # (N, 3, 32, 32)


def read(data_dir: Path, progress=None, warn=None) -> ImageArrays:
    train_x, train_y = _read_split(folder(data_dir) / "train_32x32.mat")
    test_x, test_y = _read_split(folder(data_dir) / "test_32x32.mat")
    return ImageArrays(train_x, train_y, test_x, test_y, [str(i) for i in range(10)])


def fetch(data_dir: Path, timeout: float = 60.0, progress=None) -> Path:
    """torchvision's checked download of each file (md5 as torchvision has it); one DataError line on failure."""
    import socket

    from torchvision.datasets.utils import download_url

    from .cifar10 import remove_made

    target = folder(data_dir)
    made = [p for p in [target, *target.parents] if not p.exists()]
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        for name, (url, md5) in FILES.items():
            download_url(url, str(folder(data_dir)), filename=name, md5=md5)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].strip()
        remove_made(made)
        raise DataError("network", f"cannot download SVHN: {first}; {by_hand(data_dir)}") from None
    finally:
        socket.setdefaulttimeout(before)
    return folder(data_dir)
