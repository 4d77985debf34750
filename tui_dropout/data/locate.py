"""Where datasets are found (--data-dir, $TUI_DROPOUT_DATA, the cache folder) and the decode cache."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .arrays import DataError, ImageArrays


def cache_root() -> Path:
    if os.environ.get("TUI_DROPOUT_CACHE"):
        return Path(os.environ["TUI_DROPOUT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tui_dropout"


def resolve_data_dir(dataset: str, data_dir: str | None) -> Path | None:
    if dataset == "digits":
        return None
    if data_dir:
        return Path(data_dir).expanduser().resolve()
    if os.environ.get("TUI_DROPOUT_DATA"):
        return Path(os.environ["TUI_DROPOUT_DATA"]).expanduser().resolve()
    return cache_root() / "data"


def check_available(dataset: str, data_dir: str | None) -> None:
    """Cheap look (no decoding) that the data is there; raises DataError with what to do."""
    root = resolve_data_dir(dataset, data_dir)
    if dataset == "cifar10":
        from . import cifar10

        if data_dir and not root.is_dir():
            raise DataError(f"data_dir: {root} does not exist")
        missing = cifar10.missing_files(root)
        if missing:
            raise DataError(f"data_dir: CIFAR-10 not found in {cifar10.folder(root)}; run "
                            f"`dropout-tui data fetch cifar10 --data-dir {root}` or pass --data-dir")
    elif dataset == "imagefolder":
        from . import imagefolder

        if not root.is_dir():
            raise DataError(f"data_dir: {root} does not exist")
        try:
            imagefolder.check(root)
        except DataError as exc:
            raise DataError(f"data_dir: {exc}") from None


def _source_files(dataset: str, root: Path | None) -> list[Path]:
    if dataset == "cifar10":
        from . import cifar10

        return [cifar10.folder(root) / n for n in [*cifar10.TRAIN_FILES, *cifar10.TEST_FILES]]
    if dataset == "imagefolder":
        return [root / "train", root / "test", *sorted((root / "train").iterdir()), *sorted((root / "test").iterdir())]
    return []


# Bump when a reader's output changes (order, scaling, layout): cached arrays from older readers are then ignored.
DECODE_VERSION = 2


def _cache_key(dataset: str, root: Path | None) -> str:
    h = hashlib.sha1(f"{dataset}:{root}:v{DECODE_VERSION}".encode())
    for path in _source_files(dataset, root):
        st = path.stat()
        h.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def load_arrays(dataset: str, data_dir: str | None, progress=None, warn=None) -> ImageArrays:
    """Decode once, then read the cached arrays (a .npz keyed by the source files' sizes and times)."""
    check_available(dataset, data_dir)
    root = resolve_data_dir(dataset, data_dir)
    cache = cache_root() / "decoded" / f"{dataset}-{_cache_key(dataset, root)}.npz"
    if cache.is_file():
        try:
            return ImageArrays.load(cache)
        except (OSError, ValueError, KeyError):
            cache.unlink(missing_ok=True)  # a torn cache file is rebuilt, never trusted
    if progress:
        progress(f"decoding {dataset} (once; cached in {cache.parent})")
    if dataset == "cifar10":
        from . import cifar10

        arrays = cifar10.read(root, warn)
    elif dataset == "imagefolder":
        from . import imagefolder

        arrays = imagefolder.read(root, progress)
    elif dataset == "digits":
        from . import digits

        arrays = digits.read()
    else:
        raise DataError(f"dataset: unknown dataset {dataset!r}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp.npz")
    arrays.save(tmp)
    os.replace(tmp, cache)
    return arrays
