"""Where datasets are found (--data-dir, $TUI_DROPOUT_DATA, the cache folder) and the decode cache."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from typing import TYPE_CHECKING

from .errors import DataError
from .places import cache_root
from .registry import dataset as dataset_row

if TYPE_CHECKING:
    from .arrays import ImageArrays


def resolve_data_dir(dataset: str, data_dir: str | None) -> Path | None:
    if not dataset_row(dataset).needs_dir:
        return None
    if data_dir:
        return Path(data_dir).expanduser().resolve()
    if os.environ.get("TUI_DROPOUT_DATA"):
        return Path(os.environ["TUI_DROPOUT_DATA"]).expanduser().resolve()
    return cache_root() / "data"


def check_available(dataset: str, data_dir: str | None) -> None:
    """Cheap look (no decoding) that the data is there; raises DataError with what to do."""
    try:
        _check_available(dataset, data_dir)
    except OSError as exc:  # a name too long, a link loop, a folder that cannot be listed
        where = exc.filename or data_dir
        raise DataError("data_dir", f"{where} cannot be used ({(exc.strerror or str(exc)).lower()})") from None


def _check_available(dataset: str, data_dir: str | None) -> None:
    row = dataset_row(dataset)
    root = resolve_data_dir(dataset, data_dir)
    if root is not None and data_dir and row.name != "imagefolder" and not root.is_dir():
        raise DataError("data_dir", f"{root} " + ("is a file, not a folder" if root.exists() else "does not exist"))
    problem = row.missing(root)
    if problem:
        if row.fetchable:
            problem += f"; run `dropout-tui data fetch {row.name} --data-dir {root}` or pass --data-dir"
        raise DataError("data_dir", problem)


def _source_files(dataset: str, root: Path | None) -> list[Path]:
    return dataset_row(dataset).source_files(root)


# Bump when a reader's output changes (order, scaling, layout): cached arrays from older readers are then ignored.
DECODE_VERSION = 3  # 3: image folders skip hidden entries (.DS_Store, ._x.jpg, .ipynb_checkpoints/)


def _cache_key(dataset: str, root: Path | None) -> str:
    h = hashlib.sha1(f"{dataset}:{root}:v{DECODE_VERSION}".encode())
    for path in _source_files(dataset, root):
        st = path.stat()
        h.update(f"{path.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def load_arrays(dataset: str, data_dir: str | None, progress=None, warn=None) -> "ImageArrays":
    """Decode once, then read the cached arrays (a .npz keyed by the source files' sizes and times)."""
    check_available(dataset, data_dir)
    root = resolve_data_dir(dataset, data_dir)
    try:
        cache = cache_root() / "decoded" / f"{dataset}-{_cache_key(dataset, root)}.npz"
    except OSError as exc:  # a source file vanished or cannot be looked at between the check and now
        raise DataError("data_dir", f"{root} cannot be read ({exc.strerror or exc})") from None
    if cache.is_file():
        try:
            from .arrays import ImageArrays

            return ImageArrays.load(cache)
        except Exception:  # a torn cache file (BadZipFile, EOFError, KeyError...) is rebuilt, never trusted
            try:
                cache.unlink(missing_ok=True)
            except OSError:
                pass
    if progress:
        progress(f"decoding {dataset} (once; cached in {cache.parent})")
    arrays = dataset_row(dataset).read(root, progress, warn)
    _save_cache(arrays, cache, warn)
    return arrays


def _save_cache(arrays: "ImageArrays", cache: Path, warn=None) -> None:
    """Keep the decoded arrays for next time; a cache that cannot be written costs a warning, not the run."""
    tmp = cache.with_name(f".{cache.stem}.{os.getpid()}.tmp.npz")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        arrays.save(tmp)
        os.replace(tmp, cache)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if warn:
            warn(f"cannot cache decoded data in {cache.parent} ({exc.strerror or exc}); it is decoded again next time")
