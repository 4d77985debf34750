"""`export --format tensorboard`: event files read back with TensorBoard's own reader match metrics.jsonl; the
folder rules (default name, --force, one-line errors); without the extra, one line naming the install command."""
import json
import math
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from conftest import make_run_folder
from tui_dropout.cli.main import app

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

RUN = "20260101-000001-B-tbtb"
CONFIG = {"preset": "B", "epochs": 5, "placement": "fc", "p_fc": 0.3, "p_conv": 0.0, "dataset": "digits",
          "lr": 0.05, "seed": 2, "label": "B p_fc=0.3 seed=2", "milestones": [2, 4], "description": "x"}
ROWS = [
    {"epoch": 1, "loss": 2.25, "lr": 0.05, "seconds": 0.5, "elapsed": 0.6, "train_acc": 0.25, "test_acc": 0.2},
    {"epoch": 2, "loss": 1.5, "lr": 0.05, "seconds": 0.25, "elapsed": 1.0},  # no accuracy measured this epoch
    {"epoch": 3, "loss": None, "lr": 0.005, "seconds": 0.75, "elapsed": 2.0, "train_acc": 0.75, "test_acc": 0.5},
    {"epoch": 4, "loss": 0.5, "lr": 0.005, "seconds": 0.5, "elapsed": 2.5, "train_acc": 0.875, "test_acc": None},
]
TAGS = {"loss": "loss", "train_acc": "train_acc", "test_acc": "test_acc", "lr": "lr", "epoch_seconds": "seconds"}
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def run_folder(runs_dir):
    return make_run_folder(runs_dir, RUN, {"state": "finished", "epoch": 4, "started": 1_700_000_000.0},
                           config=CONFIG, metrics="".join(json.dumps(r) + "\n" for r in ROWS))


def read_events(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_the_event_files_hold_every_scalar_of_metrics_jsonl_per_epoch(runs_dir, run_folder, tmp_path):
    out = tmp_path / "tb"
    result = invoke("export", RUN, "--format", "tensorboard", "-o", out, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert [p.name.startswith("events.out.tfevents.") for p in out.iterdir()] == [True]
    events = read_events(out)
    assert set(events.Tags()["scalars"]) == {*TAGS, "gap"}
    rows = [json.loads(line) for line in (run_folder / "metrics.jsonl").read_text().splitlines()]
    for tag, key in TAGS.items():
        want = [(r["epoch"], r[key]) for r in rows if key in r]
        got = [(e.step, e.value) for e in events.Scalars(tag)]
        assert [s for s, _ in got] == [s for s, _ in want], tag
        for (_, value), (_, expected) in zip(got, want):
            if expected is None:  # a non-finite value (a diverged loss) stays one, not a made-up number
                assert math.isnan(value), tag
            else:
                assert value == pytest.approx(expected, rel=1e-6), tag  # float32 in the event file
    gap = [(e.step, e.value) for e in events.Scalars("gap")]
    assert gap == [(1, pytest.approx(5.0)), (3, pytest.approx(25.0))]  # percentage points, both accuracies known
    # the wall time is the run's start plus its elapsed seconds
    assert [e.wall_time for e in events.Scalars("loss")] == pytest.approx([1_700_000_000.0 + r["elapsed"]
                                                                           for r in ROWS])
    # the config as text and as hparams
    assert "config" in events.Tags()["tensors"]
    text = events.Tensors("config")[0].tensor_proto.string_val[0].decode()
    assert '"p_fc": 0.3' in text and '"label": "B p_fc=0.3 seed=2"' in text and "description" not in text
    from tensorboard.plugins.hparams import plugin_data_pb2

    (start,) = events.Tensors("_hparams_/session_start_info")
    data = plugin_data_pb2.HParamsPluginData.FromString(
        events.summary_metadata["_hparams_/session_start_info"].plugin_data.content)
    hparams = data.session_start_info.hparams
    assert hparams["p_fc"].number_value == pytest.approx(0.3) and hparams["preset"].string_value == "B"
    assert hparams["seed"].number_value == 2 and hparams["milestones"].string_value == "[2, 4]"
    assert start.step == 0


def test_the_default_folder_is_named_after_the_run_and_force_replaces_it(runs_dir, run_folder, tmp_path,
                                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("export", RUN, "--format", "tensorboard", "--runs-dir", runs_dir).exit_code == 0
    folder = tmp_path / f"{RUN}-tensorboard"
    first = sorted(p.name for p in folder.iterdir())
    assert len(first) == 1
    again = invoke("export", RUN, "--format", "tensorboard", "--runs-dir", runs_dir)
    assert again.exit_code == 2 and "add --force" in again.output and len(again.output.strip().splitlines()) == 1
    forced = invoke("export", RUN, "--format", "tensorboard", "--force", "--runs-dir", runs_dir)
    assert forced.exit_code == 0, forced.output
    files = list(folder.iterdir())
    assert len(files) == 1  # replaced, not a second event file beside the first (TensorBoard would read both)
    assert [e.step for e in read_events(folder).Scalars("loss")] == [1, 2, 3, 4]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_bad_outputs_are_one_line_and_exit_2(runs_dir, run_folder, tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    for args, says in ((["-o", a_file], "not a folder"), (["-o", "-"], "writes a folder"),
                       (["-o", other, "--force"], "holds other files"), (["-o", a_file / "sub"], "is a file")):
        result = invoke("export", RUN, "--format", "tensorboard", *args, "--runs-dir", runs_dir)
        assert result.exit_code == 2, (args, result.output)
        assert says in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert (other / "notes.txt").read_text() == "keep me" and a_file.read_text() == "x"
    empty = tmp_path / "empty"
    empty.mkdir()  # an empty folder is used as it is
    assert invoke("export", RUN, "--format", "tensorboard", "-o", empty, "--runs-dir", runs_dir).exit_code == 0


def test_without_the_extra_it_says_how_to_install_it_and_never_imports_torch(runs_dir, run_folder, tmp_path):
    # a stand-in `tensorboard` that cannot be imported, ahead of the real one on the path
    code = ("import sys; from typer.testing import CliRunner; from tui_dropout.cli.main import app; "
            "r = CliRunner().invoke(app, sys.argv[1:]); print(r.exit_code); print(r.output, end=''); "
            "print('torch' in sys.modules)")
    args = ["export", RUN, "--format", "tensorboard", "-o", str(tmp_path / "tb"), "--runs-dir", str(runs_dir)]
    ok = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    lines = ok.stdout.splitlines()
    assert lines[0] == "0" and lines[-1] == "False", ok.stdout + ok.stderr  # the export itself is torch-free
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['tensorboard'] = None\n")
    missing = subprocess.run([sys.executable, "-m", "tui_dropout", *args[:-2], "--force", "--runs-dir",
                              str(runs_dir)], capture_output=True, text=True, timeout=120,
                             env={**__import__("os").environ, "PYTHONPATH": str(blocker)})
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.strip().splitlines() == [
        "error: format: tensorboard is not installed: pip install 'dropout-tui[tensorboard]'"]


def test_a_finished_evaluation_goes_in_as_eval_scalars_at_its_checkpoint_epoch(runs_dir, run_folder, tmp_path):
    evaluated = {"state": "finished", "dropout": True, "mc_passes": 20, "checkpoint_epoch": 3, "ended": 1_700_000_100.0,
                 "deterministic": {"accuracy": 0.6, "ece": 0.05, "entropy": 0.9, "nll": 1.1},
                 "mc": {"accuracy": 0.62, "ece": 0.03, "entropy": 1.0, "nll": 1.0, "passes": 20}}
    (run_folder / "evaluation.json").write_text(json.dumps(evaluated))
    out = tmp_path / "tb"
    assert invoke("export", RUN, "--format", "tensorboard", "-o", out, "--runs-dir", runs_dir).exit_code == 0
    events = read_events(out)
    got = {tag: [(e.step, round(e.value, 6)) for e in events.Scalars(tag)]
           for tag in events.Tags()["scalars"] if tag.startswith("eval/")}
    assert got == {"eval/off_acc": [(3, 0.6)], "eval/mc_acc": [(3, 0.62)], "eval/off_ece": [(3, 0.05)],
                   "eval/mc_ece": [(3, 0.03)], "eval/mc_entropy": [(3, 1.0)]}
