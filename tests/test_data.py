"""Dataset readers on files in the real on-disk formats, and on the real CIFAR-10 copy when present."""
import shutil
import tarfile

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
    monkeypatch.setattr(imagefolder, "read", lambda root, progress=None: first.limited(1))
    assert len(load_arrays("imagefolder", str(tmp_path / "imgs")).train_y) == 1
