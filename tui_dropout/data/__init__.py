"""Datasets as decoded uint8 arrays: where they live, how they are read, and the decode cache."""
from __future__ import annotations

from .arrays import DataError, ImageArrays
from .locate import cache_root, check_available, load_arrays, resolve_data_dir

__all__ = ["DataError", "ImageArrays", "cache_root", "check_available", "load_arrays", "resolve_data_dir"]
