"""CIFAR-10 in torchvision's python-pickle layout (cifar-10-batches-py/), read directly, and its fetch."""
from __future__ import annotations

import errno
import hashlib
import os
import pickle
import shutil
import socket
import ssl
import tarfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import numpy as np

from .arrays import DataError, ImageArrays
from .places import cache_root

FOLDER = "cifar-10-batches-py"
URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
TRAIN_FILES = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
}
TEST_FILES = {"test_batch": "40351d587109b95175f43aff81a1287e"}
META = "batches.meta"
NUM_CLASSES = 10
MAX_TIMEOUT = 3600.0  # seconds; a network timeout beyond an hour is a typo


@dataclass(frozen=True)
class Source:
    """Where a dataset in torchvision's python-pickle layout is downloaded from, and what its archive holds."""
    name: str
    title: str
    url: str
    archive: str
    archive_md5: str
    folder: str
    files: dict[str, str] = field(default_factory=dict)  # file in `folder` -> torchvision's md5 of it

    def missing(self, data_dir: Path) -> list[str]:
        return [name for name in self.files if not (Path(data_dir) / self.folder / name).is_file()]


CIFAR10 = Source("cifar10", "CIFAR-10", URL, ARCHIVE, ARCHIVE_MD5, FOLDER, {**TRAIN_FILES, **TEST_FILES})


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER


def missing_files(data_dir: Path) -> list[str]:
    root = folder(data_dir)
    return [name for name in [*TRAIN_FILES, *TEST_FILES] if not (root / name).is_file()]


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_batch(path: Path, classes: int = NUM_CLASSES, name: str = "cifar10") -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch of torchvision's python layout (CIFAR-10's `labels`, CIFAR-100's `fine_labels`)."""
    data_dir = path.parent.parent
    title = "CIFAR-10" if name == "cifar10" else "CIFAR-100"
    try:
        with open(path, "rb") as f:
            entry = pickle.load(f, encoding="latin1")
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # a damaged pickle raises nearly anything (EOFError, UnpicklingError, ImportError, ...)
        raise DataError(f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}); delete it and run "
                        f"`dropout-tui data fetch {name} --data-dir {data_dir}`") from None
    try:
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise DataError(f"{path} is not a {title} batch ({type(exc).__name__}: {exc}); delete it and run "
                        f"`dropout-tui data fetch {name} --data-dir {data_dir}`") from None
    if data.ndim != 2 or data.shape[1] != 3072 or labels.ndim != 1 or len(labels) != len(data):
        raise DataError(f"{path} is malformed: data {data.shape}, {labels.size} labels (want (N, 3072) and N labels)")
    if len(labels) and (labels.min() < 0 or labels.max() >= classes):
        raise DataError(f"{path} is malformed: labels run from {labels.min()} to {labels.max()} "
                        f"(want 0..{classes - 1})")
    return data.reshape(-1, 3, 32, 32), labels


def missing(data_dir: Path) -> str | None:
    gone = missing_files(data_dir)
    return f"CIFAR-10 not found in {folder(data_dir)} (missing {', '.join(gone)})" if gone else None


def source_files(data_dir: Path) -> list[Path]:
    return [folder(data_dir) / n for n in [*TRAIN_FILES, *TEST_FILES]]


def read(data_dir: Path, progress=None, warn: Callable[[str], None] | None = None) -> ImageArrays:
    """The five train batches and the test batch; files whose md5 is not torchvision's are read, and `warn` told once."""
    root = folder(data_dir)
    missing = missing_files(data_dir)
    if missing:
        raise DataError(f"CIFAR-10 not found in {root} (missing {', '.join(missing)}); run "
                        f"`dropout-tui data fetch cifar10 --data-dir {data_dir}` or pass --data-dir")
    train = [_read_batch(root / name) for name in TRAIN_FILES]
    test_x, test_y = _read_batch(root / "test_batch")
    differ = [name for name, md5 in {**TRAIN_FILES, **TEST_FILES}.items() if _md5(root / name) != md5]
    if differ and warn:
        warn(f"CIFAR-10 in {root}: md5 of {', '.join(differ)} differs from torchvision's; reading them anyway")
    classes = [str(i) for i in range(NUM_CLASSES)]
    if (root / META).is_file():
        try:
            with open(root / META, "rb") as f:
                names = [str(n) for n in pickle.load(f, encoding="latin1")["label_names"]]
            if len(names) == NUM_CLASSES:
                classes = names
        except Exception:  # the meta file only names classes; a bad one costs nothing but the names
            pass
    return ImageArrays(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
                       test_x, test_y, classes)


# ----- fetching -------------------------------------------------------------------------------

def by_hand(data_dir: Path | None = None, source: Source | None = None) -> str:
    """How to place the files without this command, in one sentence."""
    source = source or CIFAR10
    names = ", ".join(source.files)
    where = f"{data_dir}/" if data_dir else "DIR/"
    return (f"to place it by hand, unpack {source.archive} (from {source.url}) so that {where}{source.folder}/ "
            f"holds {names}; the data folder is --data-dir DIR, else $TUI_DROPOUT_DATA, else {cache_root() / 'data'}")


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _resolve(host: str, port: int, timeout: float) -> None:
    """Name resolution with a deadline (getaddrinfo itself ignores socket timeouts and may wait on a dead DNS)."""
    outcome: list[BaseException | None] = []

    def look_up() -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            outcome.append(None)
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=look_up, daemon=True, name="cifar10-resolve")
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TimeoutError(f"name resolution for {host} did not answer")
    if outcome[0] is not None:
        raise outcome[0]


def _reason(exc: BaseException, host: str, port: int, timeout: float) -> str:
    """The network failure told apart: name resolution, refused, timed out, unreachable, HTTP, TLS."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"{host} answered HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    elif isinstance(exc, urllib.error.URLError):
        return f"cannot reach {host} ({exc.reason})"
    if isinstance(exc, socket.gaierror):
        return (f"the network is unreachable: name resolution failed for {host} "
                f"({exc.strerror or exc}; offline, or no DNS)")
    if isinstance(exc, (TimeoutError, socket.timeout)):
        what = str(exc) if "name resolution" in str(exc) else f"{host}:{port} did not answer"
        return f"the network is unreachable: {what} within {timeout:g}s (timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return f"the network is unreachable: connection to {host}:{port} refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {host} failed ({exc.reason or exc})"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return f"the connection to {host} dropped mid-download ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN):
        return f"the network is unreachable: no route to {host} ({exc.strerror})"
    if isinstance(exc, OSError):
        return f"cannot reach {host} ({exc.strerror or exc})"
    return f"cannot download from {host} ({type(exc).__name__}: {exc})"


def _download(url: str, dest: Path, timeout: float, progress: Callable[[int, int | None], None] | None) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "dropout-tui"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        total = response.length
        done = 0
        while chunk := response.read(1 << 16):
            out.write(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
        if total is not None and done < total:
            raise ConnectionAbortedError(errno.ECONNABORTED, f"got {done} of {total} bytes")


def remove_made(made: list[Path]) -> None:
    """Folders a failed fetch created (deepest first), removed again where empty: nothing half-made stays."""
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            break


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def fetch(data_dir: Path, timeout: float = 60.0,
          progress: Callable[[int, int | None], None] | None = None, source: Source | None = None) -> Path:
    """Download, check and unpack `source` (CIFAR-10 unless told) into data_dir/<its folder>/; every socket wait
    is bounded by `timeout` seconds. Any failure is one DataError line, and nothing half-written is left behind."""
    if not (isinstance(timeout, (int, float)) and 0 < timeout <= MAX_TIMEOUT):  # NaN fails this too
        raise DataError("timeout", f"must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {timeout!r}")
    data_dir, source = Path(data_dir), source or CIFAR10
    host, port = _host_port(source.url)
    try:
        _resolve(host, port, timeout)
    except Exception as exc:
        raise DataError("network", f"cannot download {source.title}: {_reason(exc, host, port, timeout)}; "
                        f"{by_hand(data_dir, source)}") from None
    made = [p for p in [data_dir, *data_dir.parents] if not p.exists()]
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError("data_dir", f"cannot create {data_dir} ({exc.strerror or exc})") from None
    tag = f"{os.getpid()}.tmp"
    archive, unpacked = data_dir / f".{source.archive}.{tag}", data_dir / f".{source.folder}.{tag}"
    old = data_dir / f".{source.folder}.old.{tag}"
    done = False
    try:
        try:
            _download(source.url, archive, timeout, progress)
        except Exception as exc:  # urllib and http.client raise a zoo of types; the user needs one line
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
                raise DataError("data_dir", f"cannot write {archive.name} in {data_dir} ({exc.strerror})") from None
            raise DataError("network", f"cannot download {source.title}: {_reason(exc, host, port, timeout)}; "
                            f"{by_hand(data_dir, source)}") from None
        if _md5(archive) != source.archive_md5:
            raise DataError("network", f"the download from {source.url} is damaged (md5 differs); run the fetch again, "
                            f"or {by_hand(data_dir, source)}")
        unpacked.mkdir()
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked, filter="data")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataError("data_dir", f"cannot unpack {source.archive} into {data_dir} ({exc})") from None
        if source.missing(unpacked):
            raise DataError("network", f"{source.archive} lacks {', '.join(source.missing(unpacked))}")
        target = data_dir / source.folder
        if target.exists() or target.is_symlink():  # an incomplete earlier copy: swapped out, removed below
            os.replace(target, old)
        try:
            os.replace(unpacked / source.folder, target)
        except OSError:
            if old.exists() and not target.exists():
                os.replace(old, target)
            raise
        done = True
        return target
    except OSError as exc:
        raise DataError("data_dir", f"cannot write into {data_dir} ({exc.strerror or exc})") from None
    finally:
        for tmp in (archive, unpacked, old):
            _remove(tmp)
        if not done:
            for d in made:  # folders this fetch created, empty again
                try:
                    d.rmdir()
                except OSError:
                    break
