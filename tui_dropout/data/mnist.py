"""MNIST and Fashion-MNIST in torchvision's layout (<data-dir>/MNIST/raw/ or FashionMNIST/raw/ holding the
four idx files), read and fetched by torchvision's own dataset classes; 28x28 grey images.

torchvision (and so torch) is imported only inside read() and fetch(): they run in the trainer's process and
in `data fetch`, never in the console."""
from __future__ import annotations

import socket
from pathlib import Path

from .arrays import DataError, ImageArrays

CLASS_NAMES = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}  # torchvision's class, and its folder
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def raw_folder(data_dir: Path, dataset: str) -> Path:
    return Path(data_dir) / CLASS_NAMES[dataset] / "raw"


def missing(data_dir: Path, dataset: str = "mnist") -> str | None:
    gone = [name for name in FILES if not (raw_folder(data_dir, dataset) / name).is_file()]
    return (f"{CLASS_NAMES[dataset]} not found in {raw_folder(data_dir, dataset)} (missing {', '.join(gone)})"
            if gone else None)


def source_files(data_dir: Path, dataset: str = "mnist") -> list[Path]:
    return [raw_folder(data_dir, dataset) / name for name in FILES]


def by_hand(data_dir: Path | None = None, dataset: str = "mnist") -> str:
    where = raw_folder(data_dir or Path("DIR"), dataset)
    return (f"to place it by hand, put {', '.join(FILES)} (gunzipped) in {where}/; the data folder is "
            f"--data-dir DIR, else $TUI_DROPOUT_DATA")


def _torchvision_class(dataset: str):
    import torchvision.datasets as tvd

    return getattr(tvd, CLASS_NAMES[dataset])


def read(data_dir: Path, progress=None, warn=None, dataset: str = "mnist") -> ImageArrays:
    cls = _torchvision_class(dataset)
    splits = []
    for train in (True, False):
        try:
            split = cls(str(data_dir), train=train, download=False)
        except (RuntimeError, OSError, ValueError, AssertionError) as exc:  # torchvision's reader refuses
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DataError(f"{raw_folder(data_dir, dataset)} cannot be read as {CLASS_NAMES[dataset]} ({first})") \
                from None
        images = split.data.numpy()[:, None]  # (N, 1, 28, 28) uint8
        labels = split.targets.numpy().astype("int64")
        splits.append((images, labels))
        classes = [str(c) for c in split.classes]
    (train_x, train_y), (test_x, test_y) = splits
    if len(train_y) and (train_y.min() < 0 or max(train_y.max(), test_y.max()) >= len(classes)):
        raise DataError(f"{raw_folder(data_dir, dataset)}: labels outside 0..{len(classes) - 1}")
    return ImageArrays(train_x, train_y, test_x, test_y, classes)


def fetch(data_dir: Path, timeout: float = 60.0, progress=None, dataset: str = "mnist") -> Path:
    """torchvision's own download (its mirrors, md5 checks and unpacking), every socket wait bounded by
    `timeout`; one DataError line on failure."""
    cls = _torchvision_class(dataset)
    from .cifar10 import remove_made

    target = raw_folder(data_dir, dataset)
    made = [p for p in [target, *target.parents] if not p.exists()]
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        cls(str(data_dir), train=True, download=True)
        cls(str(data_dir), train=False, download=True)
    except Exception as exc:  # urllib's zoo and torchvision's RuntimeError listing each mirror's failure
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1].strip()
        remove_made(made)
        raise DataError("network", f"cannot download {CLASS_NAMES[dataset]}: {first}; "
                        f"{by_hand(data_dir, dataset)}") from None
    finally:
        socket.setdefaulttimeout(before)
    return raw_folder(data_dir, dataset)
