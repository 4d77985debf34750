"""Any train/<class>/*.img and test/<class>/*.img tree of images, decoded to 32x32 RGB."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from .arrays import DataError, ImageArrays

SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}
SIZE = 32


def _classes(split: Path) -> list[str]:
    try:
        return sorted(p.name for p in split.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise DataError(f"{split} cannot be listed ({exc.strerror or exc})") from None


def check(root: Path) -> None:
    for split in ("train", "test"):
        if not (root / split).is_dir() or not _classes(root / split):
            raise DataError(f"{root / split} missing or empty: an image folder needs train/<class>/ and test/<class>/")


def missing(root: Path) -> str | None:
    if not root.is_dir():
        return f"{root} " + ("is a file, not a folder" if root.exists() else "does not exist")
    try:
        check(root)
    except DataError as exc:
        return str(exc)
    return None


def source_files(root: Path) -> list[Path]:
    return [root / "train", root / "test", *sorted((root / "train").iterdir()), *sorted((root / "test").iterdir())]


def by_hand(root: Path | None = None) -> str:
    return "give --data-dir a folder holding train/<class>/ and test/<class>/ images"


def _files(split: Path, classes: list[str]) -> list[tuple[Path, int]]:
    out = []
    for label, name in enumerate(classes):
        try:
            entries = sorted((split / name).iterdir())
        except OSError as exc:
            raise DataError(f"{split / name} cannot be listed ({exc.strerror or exc})") from None
        out += [(path, label) for path in entries
                if path.suffix.lower() in SUFFIXES and not path.name.startswith(".") and path.is_file()]
    return out


def _decode_one(path: Path, warn: Callable[[str], None] | None) -> np.ndarray:
    """One image as (32, 32, 3) uint8; anything PIL cannot or will not decode is a DataError naming the file."""
    from PIL import Image

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = img.convert("RGB")
                if img.size != (SIZE, SIZE):
                    img = img.resize((SIZE, SIZE), Image.BILINEAR)
                pixels = np.asarray(img)
    except Image.DecompressionBombError as exc:
        raise DataError(f"{path} is too large to decode safely ({exc}); shrink or remove it") from None
    except MemoryError:
        raise DataError(f"{path} is too large to decode in memory; shrink or remove it") from None
    except Exception as exc:  # PIL raises OSError, SyntaxError, ValueError, struct.error... on damaged files
        raise DataError(f"{path} cannot be decoded ({type(exc).__name__}: {exc})") from None
    if warn and any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
        warn(f"{path} is very large; decoded anyway (images are scaled to {SIZE}x{SIZE})")
    return pixels


def _decode(split: Path, classes: list[str], progress=None, warn=None) -> tuple[np.ndarray, np.ndarray]:
    files = _files(split, classes)
    if not files:
        raise DataError(f"{split} holds no images ({', '.join(sorted(SUFFIXES))})")
    out = np.empty((len(files), SIZE, SIZE, 3), dtype=np.uint8)
    for i, (path, _) in enumerate(files):
        out[i] = _decode_one(path, warn)
        if progress and i % 2000 == 0:
            progress(f"decoding {split.name}: {i}/{len(files)}")
    # a fixed shuffle, as in CIFAR-10's own batches: a train_limit subset then holds every class
    order = np.random.default_rng(0).permutation(len(files))
    labels = np.array([label for _, label in files], dtype=np.int64)
    return out.transpose(0, 3, 1, 2)[order].copy(), labels[order]


def read(root: Path, progress=None, warn=None) -> ImageArrays:
    root = Path(root)
    check(root)
    classes = _classes(root / "train")
    if _classes(root / "test") != classes:
        raise DataError(f"{root}: train/ and test/ name different classes")
    train_x, train_y = _decode(root / "train", classes, progress, warn)
    test_x, test_y = _decode(root / "test", classes, progress, warn)
    return ImageArrays(train_x, train_y, test_x, test_y, classes)
