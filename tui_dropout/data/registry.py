"""The datasets, one row each: name, reader module, image shape, classes, and whether it can be fetched.

Torch-free and numpy-free (config, the CLI and the console read it at start-up). A reader module (named by
`module`, under tui_dropout.data) gives:
  missing(root) -> str | None         what is not there (a sentence), or None when the files are in place
  source_files(root) -> list[Path]    the files read, for the decode cache's key and the report's checksum
  read(root, progress, warn) -> ImageArrays  (uint8 (N, C, H, W) in the row's shape)
  by_hand(root) -> str                how to place the files without the network (the offline message)
  fetch(root, timeout, progress) -> Path   only where `fetchable` is True
A module serving several rows (`shared`) takes a `dataset=` keyword in each. docs/extending.md ("Add a
dataset") walks through adding one."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from .errors import DataError

if TYPE_CHECKING:
    from .arrays import ImageArrays


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    module: str  # tui_dropout.data.<module>
    shape: tuple[int, int, int] | None  # (channels, height, width) of its images; None: whatever a folder holds
    classes: int | None  # None: as many as the folder has
    fetchable: bool  # `dropout-tui data fetch NAME` downloads it
    needs_dir: bool = True  # False: the data ships with a package (no folder to give)
    about: str = ""  # one line for help texts
    shared: bool = False  # the module serves several datasets: each call is told which (dataset=name)

    def reader(self) -> ModuleType:
        return importlib.import_module(f"tui_dropout.data.{self.module}")

    def _call(self, what: str, *args):
        kwargs = {"dataset": self.name} if self.shared else {}
        return getattr(self.reader(), what)(*args, **kwargs)

    def missing(self, root: Path | None) -> str | None:
        return self._call("missing", root)

    def source_files(self, root: Path | None) -> list[Path]:
        return self._call("source_files", root)

    def read(self, root: Path | None, progress=None, warn=None) -> "ImageArrays":
        return self._call("read", root, progress, warn)

    def by_hand(self, root: Path | None) -> str:
        return self._call("by_hand", root)

    def fetch(self, root: Path, timeout: float, progress=None) -> Path:
        return self._call("fetch", root, timeout, progress)


ROWS = (
    Dataset("cifar10", "CIFAR-10", "cifar10", (3, 32, 32), 10, True, about="fetched by `data fetch`"),
    Dataset("cifar100", "CIFAR-100", "cifar100", (3, 32, 32), 100, True, about="fetched by `data fetch`"),
    Dataset("mnist", "MNIST", "mnist", (1, 28, 28), 10, True, about="fetched by `data fetch` (torchvision)",
            shared=True),
    Dataset("fashion_mnist", "Fashion-MNIST", "mnist", (1, 28, 28), 10, True,
            about="fetched by `data fetch` (torchvision)", shared=True),
    Dataset("svhn", "SVHN", "svhn", (3, 32, 32), 10, True, about="fetched by `data fetch`"),
    Dataset("digits", "scikit-learn digits", "digits", (1, 32, 32), 10, False, needs_dir=False,
            about="ships with scikit-learn: nothing to fetch"),
    Dataset("imagefolder", "image folder", "imagefolder", None, None, False,
            about="your own folder of train/<class>/ and test/<class>/ images"),
)
DATASETS: dict[str, Dataset] = {row.name: row for row in ROWS}
NAMES = tuple(DATASETS)


def dataset(name: str) -> Dataset:
    """The row for `name`; DataError naming the choices for any other."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DataError("dataset", f"unknown dataset {name!r} (choose from {', '.join(NAMES)})") from None


def help_text() -> str:
    return ", ".join(f"{row.name} ({row.about})" for row in ROWS)
