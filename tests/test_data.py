"""Dataset readers on files in the real on-disk formats, and on the real CIFAR-10 copy when present."""
import dataclasses
import functools
import http.server
import pickle
import shutil
import socket
import struct
import tarfile
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, write_cifar_batches, write_image_folder
from tui_dropout.data import DataError, check_available, load_arrays
from tui_dropout.data import cifar10, digits, imagefolder


def test_cifar10_pickles_read_in_chw_order(tmp_path):
    write_cifar_batches(tmp_path, per_batch=20)
    told = []
    arrays = cifar10.read(tmp_path, warn=told.append)
    assert arrays.train_x.shape == (100, 3, 32, 32) and arrays.test_x.shape == (20, 3, 32, 32)
    assert arrays.train_x.dtype == np.uint8 and arrays.train_y.dtype == np.int64
    assert arrays.classes[0] == "airplane"
    import pickle

    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="latin1")
    assert np.array_equal(arrays.train_x[0, 1].ravel(), raw["data"][0, 1024:2048])  # green plane
    # the generated files are not torchvision's: one line naming the six files, not a refusal
    assert len(told) == 1 and "data_batch_1" in told[0] and "test_batch" in told[0] and "\n" not in told[0]


def test_truncated_cifar_file_is_a_clear_error(tmp_path):
    write_cifar_batches(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match="data_batch_3 is truncated or corrupt"):
        cifar10.read(tmp_path)


def test_missing_cifar_says_how_to_fetch(tmp_path):
    with pytest.raises(DataError, match="dropout-tui data fetch cifar10"):
        check_available("cifar10", str(tmp_path))


def test_decoded_arrays_are_cached_and_rebuilt_when_files_change(tmp_path):
    write_cifar_batches(tmp_path, per_batch=10)
    first = load_arrays("cifar10", str(tmp_path))
    write_cifar_batches(tmp_path, per_batch=12, seed=5)
    second = load_arrays("cifar10", str(tmp_path))
    assert len(first.train_y) == 50 and len(second.train_y) == 60


def test_digits_ship_offline_at_lenet_size():
    arrays = digits.read()
    assert arrays.train_x.shape[1:] == (1, 32, 32)
    assert len(arrays.train_y) + len(arrays.test_y) == 1797
    assert arrays.train_x.max() == 255 and set(np.unique(arrays.train_y)) == set(range(10))


def test_image_folder_reads_and_resizes(tmp_path):
    write_image_folder(tmp_path / "imgs", per_class=4, size=40)
    arrays = imagefolder.read(tmp_path / "imgs")
    assert arrays.train_x.shape == (12, 3, 32, 32) and arrays.classes == ["cat", "dog", "ship"]
    assert sorted(arrays.train_y) == [0] * 4 + [1] * 4 + [2] * 4
    assert len(set(arrays.train_y[:4])) > 1  # shuffled once, so a train_limit subset spans the classes


def test_image_folder_without_test_split_is_refused(tmp_path):
    write_image_folder(tmp_path / "imgs")
    shutil.rmtree(tmp_path / "imgs" / "test")
    with pytest.raises(DataError, match="test"):
        check_available("imagefolder", str(tmp_path / "imgs"))


@pytest.mark.skipif(not SHARED_DATA.exists(), reason="the real CIFAR-10 JPEG copy is not on this machine")
def test_real_cifar10_jpegs_read_through_imagefolder(tmp_path):
    with tarfile.open(SHARED_DATA) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.split("/")[-1] < "0020.jpg"]
        tar.extractall(tmp_path, members=members, filter="data")
    root = next(p.parent for p in tmp_path.rglob("train"))
    arrays = imagefolder.read(root)
    assert arrays.classes == ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                              "truck"]
    assert arrays.train_x.shape[1:] == (3, 32, 32) and len(arrays.train_y) >= 100
    assert 60 < arrays.train_x.mean() < 200  # real photographs, not blank decodes


def test_a_new_reader_version_ignores_arrays_cached_by_an_older_one(tmp_path, monkeypatch):
    from tui_dropout.data import locate

    write_image_folder(tmp_path / "imgs", per_class=2)
    first = load_arrays("imagefolder", str(tmp_path / "imgs"))
    monkeypatch.setattr(locate, "DECODE_VERSION", locate.DECODE_VERSION + 1)
    monkeypatch.setattr(imagefolder, "read", lambda root, progress=None, warn=None: first.limited(1))
    assert len(load_arrays("imagefolder", str(tmp_path / "imgs")).train_y) == 1


# ----- fetching CIFAR-10, offline and from a local server (never the real network) -------------------------

SIX = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]


def _assert_says_how_to_place_by_hand(message: str, where) -> None:
    assert "\n" not in message
    assert f"{where}/cifar-10-batches-py/" in message and all(name in message for name in SIX)
    assert "--data-dir" in message and "$TUI_DROPOUT_DATA" in message
    from tui_dropout.data import cache_root

    assert str(cache_root() / "data") in message


@contextmanager
def _silent_server():
    """A TCP port that accepts connections and never answers: every read times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("kind", ["name", "refused", "timeout"])
def test_fetch_offline_says_why_and_how_to_place_the_files_by_hand(tmp_path, monkeypatch, kind):
    dest = tmp_path / "new" / "data"
    with _silent_server() as port:
        url = {"name": "http://cifar.invalid/cifar-10-python.tar.gz",  # .invalid never resolves (RFC 6761)
               "refused": "http://127.0.0.1:9/cifar-10-python.tar.gz",  # nothing listens on the discard port
               "timeout": f"http://127.0.0.1:{port}/cifar-10-python.tar.gz"}[kind]
        monkeypatch.setattr(cifar10, "CIFAR10", dataclasses.replace(cifar10.CIFAR10, url=url))
        start = time.monotonic()
        with pytest.raises(DataError) as err:
            cifar10.fetch(dest, timeout=0.5)
    assert time.monotonic() - start < 10
    message = str(err.value)
    assert message.startswith("network: cannot download CIFAR-10: the network is unreachable: ")
    reason = {"name": "name resolution failed for cifar.invalid", "refused": "connection to 127.0.0.1:9 refused",
              "timeout": f"127.0.0.1:{port} did not answer within 0.5s (timed out)"}[kind]
    assert reason in message
    assert "within" not in message or kind == "timeout"  # a refusal or a failed lookup is not a timeout
    _assert_says_how_to_place_by_hand(message, dest)
    assert list(tmp_path.iterdir()) == []  # the folders it made are gone again, and no partial archive is left


@pytest.mark.parametrize("timeout", [-1, 0, float("nan"), float("inf")])
def test_fetch_refuses_a_timeout_that_is_not_a_positive_number_of_seconds(tmp_path, timeout):
    with pytest.raises(DataError, match="^timeout: must be a number of seconds"):
        cifar10.fetch(tmp_path, timeout)


def _cifar_archive(tmp_path: Path) -> Path:
    write_cifar_batches(tmp_path / "src", per_batch=4)
    archive = tmp_path / "serve" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return archive


@contextmanager
def _http_server(folder: Path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_downloads_checks_and_unpacks_in_place(tmp_path, monkeypatch):
    archive = _cifar_archive(tmp_path)
    with _http_server(archive.parent) as base:
        monkeypatch.setattr(cifar10, "CIFAR10", dataclasses.replace(cifar10.CIFAR10, url=f"{base}/{archive.name}",
                                                                    archive_md5=cifar10._md5(archive)))
        dest = tmp_path / "data"
        (dest / "cifar-10-batches-py").mkdir(parents=True)  # an incomplete earlier copy is replaced whole
        (dest / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"half")
        path = cifar10.fetch(dest, timeout=5)
        assert path == dest / "cifar-10-batches-py" and cifar10.missing_files(dest) == []
        assert cifar10.read(dest).train_x.shape == (20, 3, 32, 32)
        assert sorted(p.name for p in dest.iterdir()) == ["cifar-10-batches-py"]  # no archive, no temp folders

        monkeypatch.setattr(cifar10, "CIFAR10", dataclasses.replace(cifar10.CIFAR10, archive_md5="0" * 32))  # a damaged download is refused, and leaves nothing
        with pytest.raises(DataError, match="damaged"):
            cifar10.fetch(tmp_path / "other", timeout=5)
        assert not (tmp_path / "other").exists()


# ----- damaged files ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, reason", [
    (pickle.dumps(["not", "a", "dict"]), "not a CIFAR-10 batch"),
    (pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 12]}), "labels run from 0 to 12"),
    (b"\x80\x04garbage", "truncated or corrupt"),
])
def test_damaged_cifar_batches_are_one_clear_data_error(tmp_path, content, reason):
    write_cifar_batches(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(content)
    with pytest.raises(DataError, match=reason) as err:
        cifar10.read(tmp_path)
    assert "test_batch" in str(err.value) and "\n" not in str(err.value)


def write_bomb_png(path: Path, side: int = 20000) -> Path:
    """A valid 1-bit PNG of side x side pixels: a few tens of KB on disk, far over PIL's decompression limit."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_a_decompression_bomb_in_an_image_folder_is_a_data_error_naming_the_file(tmp_path):
    write_image_folder(tmp_path / "imgs", per_class=2)
    bomb = write_bomb_png(tmp_path / "imgs" / "train" / "dog" / "bomb.png")
    assert bomb.stat().st_size < 200_000
    with pytest.raises(DataError) as err:
        imagefolder.read(tmp_path / "imgs")
    assert str(bomb) in str(err.value) and "too large" in str(err.value)


def test_image_folder_skips_hidden_files_and_names_an_undecodable_one(tmp_path):
    write_image_folder(tmp_path / "imgs", per_class=2)
    (tmp_path / "imgs" / "train" / "cat" / "._0000.png").write_bytes(b"AppleDouble junk")  # macOS copies leave these
    (tmp_path / "imgs" / "train" / ".ipynb_checkpoints").mkdir()  # not a class
    arrays = imagefolder.read(tmp_path / "imgs")
    assert arrays.classes == ["cat", "dog", "ship"] and len(arrays.train_y) == 6
    (tmp_path / "imgs" / "test" / "ship" / "0001.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="0001.png cannot be decoded"):
        imagefolder.read(tmp_path / "imgs")


def test_a_cache_folder_that_cannot_be_written_costs_a_warning_not_the_data(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("TUI_DROPOUT_CACHE", str(tmp_path / "cache"))
    write_image_folder(tmp_path / "imgs", per_class=2)
    told = []
    arrays = load_arrays("imagefolder", str(tmp_path / "imgs"), warn=told.append)
    assert len(arrays.train_y) == 6
    assert len(told) == 1 and "cannot cache decoded data" in told[0]


def test_a_torn_cache_file_is_decoded_again(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_DROPOUT_CACHE", str(tmp_path / "cache"))
    write_image_folder(tmp_path / "imgs", per_class=2)
    first = load_arrays("imagefolder", str(tmp_path / "imgs"))
    (cached,) = (tmp_path / "cache" / "decoded").glob("imagefolder-*.npz")
    cached.write_bytes(cached.read_bytes()[:100])  # a zip cut short: BadZipFile, not OSError or ValueError
    again = load_arrays("imagefolder", str(tmp_path / "imgs"))
    assert np.array_equal(again.train_x, first.train_x)
    with np.load(cached) as z:
        assert np.array_equal(z["train_x"], first.train_x)  # written again, whole
