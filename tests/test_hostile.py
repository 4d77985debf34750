"""A run folder written by a hostile neighbour: escape, bidi and markup payloads in every string, links for files."""
from __future__ import annotations

import json
import os
import re

import pytest
from typer.testing import CliRunner

from conftest import settle
from tui_dropout.cli.main import app
from tui_dropout.safetext import safe, safe_lines
from tui_dropout.store import RunDir, RunStore
from tui_dropout.store.notes import NotesError, check_name, check_note, update_notes

PAYLOAD = "x\x1b]0;pwned\x07\x1b[2J\x1b[H\x9b31m\u202eevil\u2066[red]x[/][/]\x7fy"
SECRET = "outside-secret-line"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def test_safe_shows_every_control_as_a_visible_escape():
    out = safe(PAYLOAD)
    assert not RAW.search(out) and "\n" not in out
    assert "\\x1b]0;pwned\\x07" in out and "\\x9b" in out and "\\u202e" in out and "\\u2066" in out
    assert "[red]x[/][/]" in out and safe(out) == out
    assert safe_lines("a\nb\tc\x1b") == "a\nb\tc\\x1b"
    assert safe("плато 学习 é") == "плато 学习 é"  # printable text of any script is kept


def test_names_tags_and_notes_refuse_bidi_controls(tmp_path):
    for bad in ("a\u202eb", "a\u2066b", "a\u200fb"):
        with pytest.raises(NotesError, match="bidi"):
            check_name(bad)
        with pytest.raises(NotesError, match="bidi"):
            check_note(bad)
    with pytest.raises(NotesError):
        update_notes(tmp_path, tags=["a\u202eb"])


def hostile_run(root):
    run = RunStore(root).create({"preset": "A", "epochs": 2, "label": PAYLOAD, "study": PAYLOAD, "note": PAYLOAD})
    run.update_status(state="failed", error=PAYLOAD, epoch=1, pid=None, ended=1.0)
    run.append_metric({"epoch": 1, "loss": 1.0, "lr": 0.01, "seconds": 1.0, "test_acc": 0.5})
    with open(run.file("train.log"), "w") as f:
        f.write(f"epoch 1 {PAYLOAD}\n")
    (run.file("notes.json")).write_text(json.dumps({"name": PAYLOAD, "tags": [PAYLOAD], "note": PAYLOAD}))
    return run


@pytest.mark.parametrize("args", [["runs"], ["show", "1"], ["results", "1"], ["hparams"], ["label", "1"],
                                  ["queue"], ["export", "1", "--format", "md", "-o", "-"]])
def test_no_cli_command_prints_a_raw_escape_or_bidi_character(tmp_path, args):
    hostile_run(tmp_path / "runs")
    result = CliRunner().invoke(app, [*args, "--runs-dir", str(tmp_path / "runs")])
    out = result.output
    assert not RAW.search(out), (args, out)
    assert "Traceback" not in out


def test_links_in_a_run_folder_make_it_corrupt_and_nothing_outside_is_touched(tmp_path):
    outside = tmp_path / "outside"
    for name in ("metrics.jsonl", "train.log", "status.json", "config.json", "summary.json", "notes.json",
                 "evaluation.json", ".status.lock", ".notes.lock", "checkpoint.pt", "worker.out", "evaluate.out"):
        root = tmp_path / f"runs-{name}"
        run = RunStore(root).create({"preset": "A", "epochs": 2})
        run.update_status(state="finished", pid=None, ended=1.0)
        target = outside / f"{name}.target"  # dangling: nothing may create it
        run.file(name).unlink(missing_ok=True)
        os.symlink(target, run.file(name))
        info = RunDir(run.path).info()
        assert info.state == "corrupt" and name in info.problem, (name, info.problem)
        runner = CliRunner()
        for args in (["runs"], ["show", "1"], ["label", "1", "--name", "n"], ["archive", "1"], ["evaluate", "1"],
                     ["evaluate", "1", "--detach"], ["resume", "1", "--detach"], ["queue"],
                     ["export", "1", "--format", "md", "-o", "-"], ["hparams"], ["results", "1"],
                     ["export", "1", "--format", "dir", "-o", str(tmp_path / f"out-{name}")]):
            result = runner.invoke(app, [*args, "--runs-dir", str(root)])
            assert "Traceback" not in result.output, (name, args, result.output)
        assert not outside.exists(), name
        assert not (tmp_path / f"out-{name}").exists() or not any(
            p.is_symlink() or p.name == name and name != "config.json" for p in (tmp_path / f"out-{name}").rglob("*"))


@pytest.mark.parametrize("name", ["train.log", "metrics.jsonl", "notes.json", "evaluation.json", "summary.json"])
def test_a_link_to_a_readable_outside_file_is_never_read_or_written(tmp_path, name):
    outside = tmp_path / "outside.txt"
    outside.write_text(f'{{"epoch": 1, "loss": 1.0, "note": "{SECRET}"}}\n{SECRET}\n')
    before = outside.read_text()
    root = tmp_path / "runs"
    run = RunStore(root).create({"preset": "A", "epochs": 2})
    run.update_status(state="finished", pid=None, ended=1.0)
    run.file(name).unlink(missing_ok=True)
    os.symlink(outside, run.file(name))
    runner = CliRunner()
    for args in (["runs"], ["show", "1"], ["show", "1", "--reliability"], ["label", "1", "--note", "n"],
                 ["evaluate", "1"], ["export", "1", "--format", "md", "-o", "-"],
                 ["export", "1", "--format", "csv", "-o", "-"], ["export", "1", "--format", "jsonl", "-o", "-"],
                 ["export", "1", "--format", "dir", "-o", str(tmp_path / "out")], ["hparams"], ["results", "1"]):
        result = runner.invoke(app, [*args, "--runs-dir", str(root)])
        assert "Traceback" not in result.output and SECRET not in result.output, (args, result.output)
    assert outside.read_text() == before
    assert not any(SECRET in p.read_text(errors="replace") for p in (tmp_path / "out").rglob("*") if p.is_file())


def test_a_log_line_written_through_a_train_log_link_is_refused(tmp_path):
    run = RunStore(tmp_path / "runs").create({"preset": "A", "epochs": 2})
    elsewhere = tmp_path / "elsewhere.log"
    elsewhere.write_text("")
    os.symlink(elsewhere, run.file("train.log"))
    with pytest.raises(OSError):
        run.log("appended through a link")
    assert elsewhere.read_text() == ""
    assert run.log_tail(5) == []  # nor read through it



def test_a_run_folder_that_is_itself_a_link_is_corrupt_and_nothing_goes_through_it(tmp_path):
    root = tmp_path / "runs"
    real = RunStore(tmp_path / "elsewhere").create({"preset": "A", "epochs": 2})
    real.update_status(state="finished", pid=None, ended=1.0)
    with open(real.file("train.log"), "w") as f:
        f.write(f"{SECRET}\n")
    root.mkdir()
    os.symlink(real.path, root / real.run_id)
    before = {p.name: p.stat().st_mtime_ns for p in real.path.iterdir()}
    info = RunDir(root / real.run_id).info()
    assert info.state == "corrupt" and "run folder is a link" in info.problem
    runner = CliRunner()
    for args in (["runs"], ["show", "1"], ["label", "1", "--name", "n"], ["archive", "1"], ["rm", "1", "--yes"],
                 ["evaluate", "1"], ["resume", "1"], ["export", "1", "--format", "csv", "-o", "-"],
                 ["export", "1", "--format", "dir", "-o", str(tmp_path / "out")], ["hparams"], ["results", "1"]):
        result = runner.invoke(app, [*args, "--runs-dir", str(root)])
        assert "Traceback" not in result.output and SECRET not in result.output, (args, result.output)
    assert {p.name: p.stat().st_mtime_ns for p in real.path.iterdir()} == before  # nothing written or made there
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("train.log"))
    with pytest.raises(OSError, match="link"):
        RunDir(root / real.run_id).update_status(state="failed")


def test_export_onto_a_link_is_refused_without_force(tmp_path):
    run = RunStore(tmp_path / "runs").create({"preset": "A", "epochs": 2})
    run.update_status(state="finished", pid=None, ended=1.0)
    run.append_metric({"epoch": 1, "loss": 1.0, "lr": 0.01, "seconds": 1.0, "test_acc": 0.5})
    dangling = tmp_path / "out_link.csv"
    target = tmp_path / "missing" / "folders" / "target.csv"
    os.symlink(target, dangling)
    runner = CliRunner()
    result = runner.invoke(app, ["export", "1", "-o", str(dangling), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "is a link; add --force" in result.output, result.output
    assert not target.parent.exists()  # no folders made on the way
    forced = runner.invoke(app, ["export", "1", "-o", str(dangling), "--force", "--runs-dir", str(tmp_path / "runs")])
    assert forced.exit_code == 2 and "not a folder" in forced.output  # and none made for a link's target either
    target.parent.mkdir(parents=True)
    forced = runner.invoke(app, ["export", "1", "-o", str(dangling), "--force", "--runs-dir", str(tmp_path / "runs")])
    assert forced.exit_code == 0, forced.output
    assert dangling.is_symlink() and target.read_text().startswith("epoch")


def test_a_checkpoint_link_is_never_loaded(tmp_path):
    torch = pytest.importorskip("torch")
    from tui_dropout.trainer import checkpoints

    outside = tmp_path / "outside.pt"
    torch.save({"epoch": 1, "member": {}, "rng": {}}, outside)
    run = RunStore(tmp_path / "runs").create({"preset": "A", "epochs": 2})
    os.symlink(outside, run.checkpoint_path)
    assert not run.has_checkpoint()
    with pytest.raises(checkpoints.CheckpointError, match="cannot be read"):
        checkpoints.load(run.checkpoint_path, torch.device("cpu"))


def index_serves(root, run) -> bool:
    """Whether the listing index would give this run without reading its files."""
    from tui_dropout.store import index

    return index.load(root).info(run.run_id, run.path, index.stamp(run.path)) is not None


def test_a_file_swapped_for_a_link_to_itself_is_not_served_from_the_index(tmp_path):
    root = tmp_path / "runs"
    run = RunStore(root).create({"preset": "A", "epochs": 2})
    run.update_status(state="finished", pid=None, ended=1.0)
    settle(run.path)
    assert RunStore(root).list()[0].state == "finished"  # indexed now
    assert RunStore(root).list()[0].status.get("ended") == 1.0 and index_serves(root, run)
    moved = tmp_path / "status.json"
    os.rename(run.file("status.json"), moved)  # the same inode, size and mtime, reached through a link
    os.symlink(moved, run.file("status.json"))
    (info,) = RunStore(root).list()
    assert info.state == "corrupt" and "status.json" in info.problem


def test_a_run_folder_swapped_for_a_link_after_it_was_indexed_is_not_served_from_the_index(tmp_path):
    root = tmp_path / "runs"
    run = RunStore(root).create({"preset": "A", "epochs": 2})
    run.update_status(state="finished", pid=None, ended=1.0)
    settle(run.path)
    assert RunStore(root).list()[0].state == "finished"  # indexed now
    assert RunStore(root).list()[0].status.get("ended") == 1.0 and index_serves(root, run)
    moved = tmp_path / run.run_id
    os.rename(run.path, moved)  # every file keeps its inode, size and mtime
    os.symlink(moved, run.path)
    (info,) = RunStore(root).list()
    assert info.state == "corrupt" and "run folder is a link" in info.problem
