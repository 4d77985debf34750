"""The CLI and data: `data fetch` online, offline and refused, and data problems met while training."""
import dataclasses
import time

import pytest

from cli_helpers import console_script, invoke, one_error_line
from conftest import run_paths, write_cifar_batches, write_image_folder


# ----- data fetch ------------------------------------------------------------------------------------------

def test_data_fetch_offline_says_the_network_is_unreachable_and_how_to_place_the_files(tmp_path, monkeypatch):
    from tui_dropout.data import cache_root, cifar10

    monkeypatch.setattr(cifar10, "CIFAR10", dataclasses.replace(cifar10.CIFAR10, url="http://cifar.invalid/cifar-10-python.tar.gz"))  # never resolves
    start = time.monotonic()
    result = invoke("data", "fetch", "cifar10", "--data-dir", tmp_path / "d", "--timeout", "5")
    assert time.monotonic() - start < 10
    assert result.exit_code == 1
    line = one_error_line(result.stderr.split("\n", 1)[1], "network")  # after the "downloading..." line
    assert "the network is unreachable: name resolution failed for cifar.invalid" in line and "within" not in line
    assert f"{tmp_path / 'd'}/cifar-10-batches-py/" in line and "--data-dir" in line and "$TUI_DROPOUT_DATA" in line
    assert all(f in line for f in ("data_batch_1", "data_batch_5", "test_batch")) and str(cache_root() / "data") in line
    assert not (tmp_path / "d").exists()


def test_data_fetch_of_an_unknown_dataset_lists_the_datasets():
    result = invoke("data", "fetch", "imagenet")
    line = one_error_line(result.stderr, "dataset")
    assert result.exit_code == 2 and "unknown dataset 'imagenet'" in line and "ships with the package" not in line
    assert "cifar10 (fetched" in line and "fashion_mnist (fetched" in line and "digits (ships with scikit-learn" in line and "imagefolder (your own" in line
    digits = invoke("data", "fetch", "digits")
    assert digits.exit_code == 0 and "ships with scikit-learn: nothing to fetch" in digits.output


@pytest.mark.parametrize("timeout", ["-1", "nan", "0", "inf", "soon"])
def test_data_fetch_refuses_a_bad_timeout_with_one_line(tmp_path, timeout):
    if timeout in ("-1", "nan", "0"):  # through the real console script
        result = console_script("data", "fetch", "cifar10", "--data-dir", tmp_path / "d", "--timeout", timeout)
        code, stdout, stderr = result.returncode, result.stdout, result.stderr
    else:
        result = invoke("data", "fetch", "cifar10", "--data-dir", tmp_path / "d", "--timeout", timeout)
        code, stdout, stderr = result.exit_code, result.stdout, result.stderr
    assert code == 2 and stdout == ""
    one_error_line(stderr, "timeout")
    assert not (tmp_path / "d").exists()


# ----- data problems met while training --------------------------------------------------------------------

def test_a_checksum_mismatch_is_one_warning_line_on_screen_and_in_the_log(runs_dir, tmp_path):
    write_cifar_batches(tmp_path / "data", per_batch=20)
    result = invoke("train", "--preset", "A", "--data-dir", tmp_path / "data", "--epochs", "1", "--batch-size", "50",
                    "--device", "cpu", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    shown = [line for line in result.output.splitlines() if "md5" in line or "torchvision" in line]
    assert len(shown) == 1 and shown[0].startswith("warning: CIFAR-10 in ") and \
        shown[0].endswith("differs from torchvision's; reading them anyway"), result.output
    assert "Warning" not in result.output  # no raw Python warnings
    logged = [line for line in (run_paths(runs_dir)[0] / "train.log").read_text().splitlines() if "md5" in line]
    assert len(logged) == 1 and logged[0].endswith("] " + shown[0])


def test_a_truncated_cifar_batch_fails_the_run_and_says_why(runs_dir, tmp_path):
    write_cifar_batches(tmp_path / "data", per_batch=20)
    batch = tmp_path / "data" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    result = invoke("train", "--preset", "A", "--data-dir", tmp_path / "data", "--epochs", "1", "--device", "cpu",
                    "--runs-dir", runs_dir)
    assert result.exit_code == 1
    reasons = [line.strip() for line in result.output.splitlines() if "data_batch_3" in line]
    assert len(reasons) == 1 and reasons[0].startswith("error: ") and "is truncated or corrupt" in reasons[0]
    assert "dropout-tui data fetch cifar10 --data-dir" in reasons[0]


def test_a_decompression_bomb_fails_the_run_with_one_line_naming_the_file(runs_dir, tmp_path):
    from test_data import write_bomb_png

    write_image_folder(tmp_path / "imgs", per_class=2)
    bomb = write_bomb_png(tmp_path / "imgs" / "test" / "cat" / "bomb.png")
    result = invoke("train", "--preset", "quick", "--dataset", "imagefolder", "--data-dir", tmp_path / "imgs",
                    "--epochs", "1", "--device", "cpu", "--runs-dir", runs_dir)
    assert result.exit_code == 1
    named = [line.strip() for line in result.output.splitlines() if "bomb.png" in line]
    assert len(named) == 1 and named[0].startswith("error: ") and str(bomb) in named[0] and "too large" in named[0]
    assert "Traceback" not in result.output and "DecompressionBombError" not in result.output.replace(str(bomb), "")


def test_a_batch_larger_than_the_data_trains_on_the_whole_set_and_says_so_once(runs_dir):
    result = invoke("train", "--preset", "quick", "--batch-size", "5000", "--epochs", "1", "--set", "train_limit=200",
                    "--device", "cpu", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if "batch_size 5000" in line or "whole set" in line]
    assert said == ["warning: batch_size 5000 is larger than the training set (200 images): each step uses the "
                    "whole set"], result.output
    assert "finished" in result.output
