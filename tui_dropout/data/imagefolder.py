"""Any train/<class>/*.img and test/<class>/*.img tree of images, decoded to 32x32 RGB."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .arrays import DataError, ImageArrays

SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}
SIZE = 32


def _classes(split: Path) -> list[str]:
    return sorted(p.name for p in split.iterdir() if p.is_dir())


def check(root: Path) -> None:
    for split in ("train", "test"):
        if not (root / split).is_dir() or not _classes(root / split):
            raise DataError(f"{root / split} missing or empty: an image folder needs train/<class>/ and test/<class>/")


def _decode(split: Path, classes: list[str], progress=None) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    files = [(path, label) for label, name in enumerate(classes)
             for path in sorted((split / name).iterdir()) if path.suffix.lower() in SUFFIXES]
    if not files:
        raise DataError(f"{split} holds no images ({', '.join(sorted(SUFFIXES))})")
    out = np.empty((len(files), SIZE, SIZE, 3), dtype=np.uint8)
    for i, (path, _) in enumerate(files):
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
                if img.size != (SIZE, SIZE):
                    img = img.resize((SIZE, SIZE), Image.BILINEAR)
                out[i] = np.asarray(img)
        except OSError as exc:
            raise DataError(f"{path} cannot be decoded: {exc}") from None
        if progress and i % 2000 == 0:
            progress(f"decoding {split.name}: {i}/{len(files)}")
    # a fixed shuffle, as in CIFAR-10's own batches: a train_limit subset then holds every class
    order = np.random.default_rng(0).permutation(len(files))
    labels = np.array([label for _, label in files], dtype=np.int64)
    return out.transpose(0, 3, 1, 2)[order].copy(), labels[order]


def read(root: Path, progress=None) -> ImageArrays:
    root = Path(root)
    check(root)
    classes = _classes(root / "train")
    if _classes(root / "test") != classes:
        raise DataError(f"{root}: train/ and test/ name different classes")
    train_x, train_y = _decode(root / "train", classes, progress)
    test_x, test_y = _decode(root / "test", classes, progress)
    return ImageArrays(train_x, train_y, test_x, test_y, classes)
