"""Each registered dataset read from small files in its real on-disk format, through the registry's row: the
right shapes and labels, a missing copy named with the command that fetches it, and a LeNet run that trains on
28x28 MNIST (padded to 32x32) and on SVHN."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny_config
from datasets_on_disk import write_cifar100, write_idx, write_svhn
from tui_dropout.data import DataError, check_available, load_arrays
from tui_dropout.data.registry import DATASETS, dataset

pytest.importorskip("torchvision")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # decoded arrays land in this test's folder


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_the_mnists_are_read_by_torchvision_from_idx_files(tmp_path, name, folder):
    wrote = write_idx(tmp_path, folder)
    arrays = load_arrays(name, str(tmp_path))
    assert arrays.train_x.shape == (40, 1, 28, 28) and arrays.test_x.shape == (20, 1, 28, 28)
    assert arrays.train_x.dtype == np.uint8 and arrays.train_y.dtype == np.int64
    assert np.array_equal(arrays.train_x[:, 0], wrote["train"][0]) and np.array_equal(arrays.test_y, wrote["t10k"][1])
    assert len(arrays.classes) == 10 and (name != "fashion_mnist" or arrays.classes[0] == "T-shirt/top")
    assert dataset(name).shape == arrays.train_x.shape[1:]
    padded = arrays.fitted(32)  # LeNet-5's 32x32 input, the digits centred as LeCun et al. placed them
    assert padded.train_x.shape == (40, 1, 32, 32) and np.array_equal(padded.train_x[:, :, 2:30, 2:30], arrays.train_x)
    assert padded.train_x[:, :, :2].max() == 0 and padded.train_x[:, :, :, 30:].max() == 0


def test_cifar100_has_its_hundred_fine_labels_and_names(tmp_path):
    wrote = write_cifar100(tmp_path)
    arrays = load_arrays("cifar100", str(tmp_path))
    assert arrays.train_x.shape == (60, 3, 32, 32) and list(arrays.train_y) == wrote["train"][1]
    assert np.array_equal(arrays.test_x.reshape(30, -1), wrote["test"][0])
    assert len(arrays.classes) == 100 and arrays.classes[7] == "class7"


def test_svhn_is_read_from_its_mat_files_with_ten_as_the_digit_zero(tmp_path):
    wrote = write_svhn(tmp_path)
    arrays = load_arrays("svhn", str(tmp_path))
    x, y = wrote["train"]
    assert arrays.train_x.shape == (40, 3, 32, 32)
    assert np.array_equal(arrays.train_x[5], x[:, :, :, 5].transpose(2, 0, 1))
    expected = y.reshape(-1).astype(np.int64)
    expected[expected == 10] = 0
    assert np.array_equal(arrays.train_y, expected) and arrays.train_y.max() <= 9


@pytest.mark.parametrize("name", [row.name for row in DATASETS.values() if row.fetchable])
def test_a_missing_copy_names_where_it_looked_and_the_fetch_command(tmp_path, name):
    with pytest.raises(DataError) as err:
        check_available(name, str(tmp_path))
    message = str(err.value)
    assert message.startswith("data_dir: ") and "not found in" in message
    assert f"dropout-tui data fetch {name} --data-dir {tmp_path}" in message
    assert "\n" not in message


def test_damaged_files_are_one_data_error_naming_the_file(tmp_path):
    write_idx(tmp_path, "MNIST")
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(DataError, match="MNIST"):
        load_arrays("mnist", str(tmp_path))
    write_svhn(tmp_path)
    (tmp_path / "svhn" / "test_32x32.mat").write_bytes(b"not a mat file")
    with pytest.raises(DataError, match="test_32x32.mat"):
        load_arrays("svhn", str(tmp_path))


@pytest.mark.parametrize("name, write", [("mnist", lambda root: write_idx(root, "MNIST", train=128, test=64)),
                                         ("svhn", lambda root: write_svhn(root, train=128, test=64))])
def test_lenet_trains_on_another_size_and_channel_count(tmp_path, name, write):
    from tui_dropout.store import RunStore
    from tui_dropout.trainer.engine import Trainer

    write(tmp_path / "data")
    run = RunStore(tmp_path / "runs").create(
        tiny_config(dataset=name, data_dir=str(tmp_path / "data"), epochs=2, train_limit=None).to_dict())
    assert Trainer([run]).run() == ["finished"]
    rows = [r for r in run.read_metrics() if "test_acc" in r]
    assert [r["epoch"] for r in rows] == [1, 2] and all(0.0 <= r["test_acc"] <= 1.0 for r in rows)


def test_fetching_mnist_offline_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    from cli_helpers import invoke

    monkeypatch.setattr(tvd.MNIST, "mirrors", ["http://mnist.invalid/"])  # never resolves
    result = invoke("data", "fetch", "mnist", "--data-dir", tmp_path / "d", "--timeout", "3")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("downloading MNIST") and len(lines) == 2, result.stderr
    assert lines[1].startswith("error: network: cannot download MNIST: ") and "MNIST/raw/" in lines[1]
    assert not (tmp_path / "d").exists()
