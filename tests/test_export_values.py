"""What exports write: the figure the run measured (float32 read back, not its float64 expansion), and the
Markdown head carries what the user wrote of the run and its train_limit."""
import json
import struct

from conftest import cli, make_run_folder
from tui_dropout.export import float32_text


def f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def test_float32_figures_are_written_short_and_read_back_the_same():
    for value in (0.1005, 0.6045, 2.302585, 1 / 3, 0.123456789, 1e-7, 0.0, 1.0):
        stored = f32(value)  # what a float32 accuracy or loss becomes in metrics.jsonl
        text = float32_text(stored)
        assert f32(float(text)) == stored and len(text.lstrip("-0.").replace(".", "")) <= 9, (value, text)
    assert float32_text(f32(0.1005)) == "0.1005"


def test_csv_and_markdown_say_what_the_run_means(runs_dir):
    rows = "".join(json.dumps({"epoch": e, "loss": f32(2.302585 - e / 10), "lr": 0.01, "seconds": 1.25,
                               "train_acc": f32(0.1005 * e), "test_acc": f32(0.6045), "elapsed": 1.25 * e}) + "\n"
                   for e in (1, 2))
    path = make_run_folder(runs_dir, "20260305-000000-D-0001", {"state": "cancelled", "epoch": 2, "epochs": 10},
                           config={"preset": "D", "epochs": 10, "placement": "all", "p_fc": 0.5, "p_conv": 0.5,
                                   "dataset": "digits", "train_limit": 512}, metrics=rows)
    (path / "notes.json").write_text(json.dumps({"name": "", "tags": ["baseline"], "note": "first try"}))
    out = cli("export", path.name, "--format", "csv", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[1].split(",")[4:6] == ["0.1005", "0.6045"] and lines[2].split(",")[4] == "0.201"
    md = cli("export", path.name, "--format", "md", "--runs-dir", runs_dir)
    assert md.returncode == 0, md.stderr
    assert "tags #baseline" in md.stdout and "note: first try" in md.stdout and "train_limit 512" in md.stdout
    assert "state cancelled at epoch 2/10" in md.stdout
