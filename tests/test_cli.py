"""The command line as a user meets it: CliRunner for commands, a subprocess for start-up cost."""
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import make_run_folder, write_cifar_batches
from tui_dropout.cli.main import app

runner = CliRunner()
TINY = ["--epochs", "2", "--set", "train_limit=200", "--set", "eval_every=1", "--device", "cpu"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_train_quick_in_the_foreground_prints_the_results(runs_dir):
    result = invoke("train", "--preset", "quick", *TINY, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    assert "finished" in result.output and "quick" in result.output
    (run,) = list(runs_dir.iterdir())
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("args, field", [
    (["--p", "1.5"], "p"), (["--epochs", "0"], "epochs"), (["--batch-size", "-1"], "batch_size"),
    (["--dataset", "mnist"], "dataset"), (["--set", "conv_kind=gaussian"], "conv_kind"),
    (["--device", "cuda"], "device"), (["--set", "placement=fc", "--set", "fc_kind=dropout2d"], "fc_kind"),
])
def test_bad_values_exit_2_with_one_line_and_no_run_folder(runs_dir, args, field):
    result = invoke("train", "--preset", "quick", *args, "--runs-dir", runs_dir)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:")
    assert not runs_dir.exists() or not list(runs_dir.iterdir())


def test_unknown_preset_and_missing_data_folder_exit_2(runs_dir, tmp_path):
    result = invoke("train", "--preset", "Z", "--runs-dir", runs_dir)
    assert result.exit_code == 2 and "error: preset: unknown preset 'Z'" in result.output
    result = invoke("train", "--preset", "A", "--data-dir", tmp_path / "nowhere", "--runs-dir", runs_dir)
    assert result.exit_code == 2 and result.output.startswith("error: data_dir:")
    assert not runs_dir.exists()


def test_train_a_on_a_cifar_folder(runs_dir, tmp_path):
    write_cifar_batches(tmp_path / "data", per_batch=40)
    result = invoke("train", "--preset", "A", "--data-dir", tmp_path / "data", "--epochs", "2", "--device", "cpu",
                    "--set", "eval_every=1", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    run = next(runs_dir.iterdir())
    assert json.loads((run / "summary.json").read_text())["state"] == "finished"
    assert json.loads((run / "config.json").read_text())["placement"] == "none"


def test_study_runs_presets_and_prints_the_table(runs_dir):
    result = invoke("study", "quick", "quick", *TINY, "--no-fuse", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    assert result.output.count("finished") == 2 and "best test" in result.output
    rows = [line for line in result.output.splitlines() if line.strip().startswith("quick ")]
    assert len(rows) == 2 and all("@" in row and "2/2" in row for row in rows)  # final and best with its epoch


def test_runs_show_and_export_in_every_format(runs_dir, tmp_path):
    invoke("train", "--preset", "quick", *TINY, "--runs-dir", runs_dir)
    listing = invoke("runs", "--runs-dir", runs_dir)
    assert listing.exit_code == 0 and "finished" in listing.output
    run_id = next(runs_dir.iterdir()).name
    shown = invoke("show", run_id[:15], "--runs-dir", runs_dir)
    assert shown.exit_code == 0 and "best" in shown.output and "epoch: 2" in shown.output
    csv = invoke("export", run_id, "--format", "csv", "--runs-dir", runs_dir)
    assert csv.output.splitlines()[0] == "epoch,loss,lr,seconds,train_acc,test_acc,elapsed" and len(csv.output.splitlines()) == 3
    out = tmp_path / "m.jsonl"
    assert invoke("export", run_id, "--format", "jsonl", "-o", out, "--runs-dir", runs_dir).exit_code == 0
    assert [json.loads(x)["epoch"] for x in out.read_text().splitlines()] == [1, 2]
    md = invoke("export", "1", "--format", "md", "--runs-dir", runs_dir)
    assert "| epoch | loss |" in md.output
    bad = invoke("export", run_id, "--format", "xml", "--runs-dir", runs_dir)
    assert bad.exit_code == 2 and "format" in bad.output
    folder = invoke("export", run_id, "--format", "dir", "-o", tmp_path / "ex", "--runs-dir", runs_dir)
    assert folder.exit_code == 0
    assert {"metrics.csv", "metrics.jsonl", "train.log", "config.json", "summary.json"} <= {
        p.name for p in (tmp_path / "ex" / run_id).iterdir()}


def test_unknown_run_and_cancel_of_a_finished_run_exit_2(runs_dir):
    make_run_folder(runs_dir, "20260101-000000-A-aaaa", {"state": "finished"})
    assert invoke("show", "nothing", "--runs-dir", runs_dir).exit_code == 2
    result = invoke("cancel", "aaaa", "--runs-dir", runs_dir)
    assert result.exit_code == 2 and "already finished" in result.output


def test_detach_prints_the_run_id_and_trains_in_the_background(runs_dir):
    result = invoke("train", "--preset", "quick", *TINY, "--detach", "--runs-dir", runs_dir)
    assert result.exit_code == 0
    run_id = result.output.strip()
    assert (runs_dir / run_id / "config.json").exists()
    import time

    end = time.time() + 60
    while time.time() < end and json.loads((runs_dir / run_id / "status.json").read_text())["state"] != "finished":
        time.sleep(0.2)
    assert json.loads((runs_dir / run_id / "status.json").read_text())["state"] == "finished"


def test_help_does_not_import_torch():
    code = ("import sys; from typer.testing import CliRunner; from tui_dropout.cli.main import app; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_data_fetch_fails_fast_with_one_line_when_the_download_cannot_happen(tmp_path, monkeypatch):
    from tui_dropout.data import cifar10

    monkeypatch.setattr(cifar10, "URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")  # nothing listens there
    import time

    start = time.time()
    result = invoke("data", "fetch", "cifar10", "--data-dir", tmp_path, "--timeout", "5")
    assert result.exit_code == 1 and "could not download CIFAR-10" in result.output
    assert time.time() - start < 10


def test_data_fetch_says_when_cifar_is_already_there(tmp_path):
    write_cifar_batches(tmp_path)
    result = invoke("data", "fetch", "cifar10", "--data-dir", tmp_path)
    assert result.exit_code == 0 and "already" in result.output
