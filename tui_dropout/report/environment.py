"""What produced a report's runs: the project and library versions, the hosts and devices the runs' status
files name, each dataset with its folder and a checksum of its files, and a command that repeats each group."""
from __future__ import annotations

import hashlib
import os
import platform
import stat
import sys
from pathlib import Path
from typing import Any, Callable

from ..config import load_preset
from ..groups import SeedGroup
from ..store import RunInfo

CHECKSUM_LIMIT = 4 << 30  # bytes: a dataset folder larger than this is named, not read
NOT_IN_COMMAND = {"preset", "description", "extra", "study", "label", "seed"}


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"dropout-tui": _version("dropout-tui"), "python": platform.python_version()}
    for name in ("matplotlib", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _version(dist: str) -> str:
    from importlib import metadata

    from .. import __version__

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return __version__


def _distinct(infos: list[RunInfo], key: str) -> list[str]:
    return sorted({str(i.status.get(key)) for i in infos if i.status.get(key) not in (None, "")})


def data_files(root: Path, dataset: str = "imagefolder") -> tuple[Path, list[Path]]:
    """The files a dataset is read from (its registry row's list; a folder of images: all of it, walked without
    following links), in a stable order, and the folder their names are taken relative to."""
    from ..data.registry import DATASETS

    row = DATASETS.get(dataset)
    if row is not None and row.name != "imagefolder":
        files = [f for f in row.source_files(root) if f.exists()]
        return (files[0].parent if files else root), files
    out: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(Path(folder) / f for f in sorted(names) if not f.startswith("."))
    return root, out


def checksum(root: Path, progress: Callable[[str], None] | None = None, dataset: str = "imagefolder") -> str:
    """sha256 over the dataset's files (relative names and contents), or why there is none."""
    if not root.is_dir():
        return "not at hand on this machine"
    base, found = data_files(root, dataset)
    files = [f for f in found if stat.S_ISREG(os.lstat(f).st_mode)]
    total = sum(os.lstat(f).st_size for f in files)
    if total > CHECKSUM_LIMIT:
        return f"not computed ({total / 2**30:.1f} GiB in {len(files)} files)"
    h = hashlib.sha256()
    for n, path in enumerate(files):
        h.update(str(path.relative_to(base)).encode() + b"\0")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if progress and n and n % 10000 == 0:
            progress(f"checksum: {n}/{len(files)} files")
    return f"sha256 {h.hexdigest()} ({len(files)} files, {total / 2**20:.1f} MiB)"


def datasets(infos: list[RunInfo], progress: Callable[[str], None] | None = None) -> list[dict[str, str]]:
    from ..data import DataError, resolve_data_dir

    seen: dict[tuple, dict[str, str]] = {}
    for info in infos:
        name, given = info.config.get("dataset"), info.config.get("data_dir")
        if not isinstance(name, str) or (given is not None and not isinstance(given, str)) or (name, given) in seen:
            continue
        if name == "digits":
            seen[(name, given)] = {"dataset": name, "folder": "scikit-learn's bundled copy",
                                   "checksum": "sklearn " + _sklearn_version()}
            continue
        try:
            root = resolve_data_dir(name, given)
        except DataError:  # a name no reader has (a config from a newer or older version)
            seen[(name, given)] = {"dataset": name, "folder": "?", "checksum": "unknown dataset"}
            continue
        seen[(name, given)] = {"dataset": name, "folder": str(root), "checksum": checksum(root, progress, name)}
    return list(seen.values())


def _sklearn_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("scikit-learn")
    except metadata.PackageNotFoundError:
        return "?"


def repeat_command(group: SeedGroup) -> str:
    """`dropout-tui study` with the preset and every field this group sets differently (unset ones left to the
    preset), over its seeds."""
    cfg = group.runs[0].config
    preset = cfg.get("preset")
    try:
        base = load_preset(preset).to_dict() if isinstance(preset, str) else {}
    except Exception:  # a preset this install lacks: every field then goes on the line
        base = {}
    words = ["dropout-tui", "study", str(preset)]
    for key, value in cfg.items():
        if key in NOT_IN_COMMAND or value is None or (key in base and base[key] == value):
            continue
        words += ["--set", f"{key}={value}"]
    seeds = sorted({i.config.get("seed") for i in group.runs if isinstance(i.config.get("seed"), int)})
    if seeds:
        words += ["--seeds", ",".join(map(str, seeds))]
    return " ".join(words)


def environment(infos: list[RunInfo], progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    return {"versions": _versions(), "report_host": platform.node(), "report_python": sys.executable,
            "hosts": _distinct(infos, "host"), "devices": _distinct(infos, "device_name") or _distinct(infos, "device"),
            "torch": _distinct(infos, "torch"), "cuda": _distinct(infos, "cuda"), "cudnn": _distinct(infos, "cudnn"),
            "datasets": datasets(infos, progress)}
