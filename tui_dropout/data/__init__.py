"""Datasets as decoded uint8 arrays: where they live, how they are read, and the decode cache."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import DataError
from .locate import cache_root, check_available, load_arrays, resolve_data_dir

if TYPE_CHECKING:
    from .arrays import ImageArrays


def __getattr__(name: str):
    if name == "ImageArrays":  # numpy comes in only with the arrays themselves
        from .arrays import ImageArrays

        return ImageArrays
    raise AttributeError(name)

__all__ = ["DataError", "ImageArrays", "cache_root", "check_available", "load_arrays", "resolve_data_dir"]
