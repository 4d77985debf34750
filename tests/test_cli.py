"""The command line as a user meets it: CliRunner for commands, a subprocess for start-up cost."""
import json
import re
import shlex
import signal
import subprocess
import sys

import pytest

from cli_helpers import RUN_IDS, TINY, console_script, hand_made_runs, invoke, no_temp_files, one_error_line, poll
from conftest import make_run_folder, run_paths, wait_for, write_cifar_batches


def test_train_quick_in_the_foreground_prints_the_results(runs_dir):
    result = invoke("train", "--preset", "quick", *TINY, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    assert "finished" in result.output and "quick" in result.output
    (run,) = run_paths(runs_dir)
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("args, field", [
    (["--p", "1.5"], "p"), (["--epochs", "0"], "epochs"), (["--batch-size", "-1"], "batch_size"),
    (["--dataset", "imagenet"], "dataset"), (["--set", "conv_kind=bernoulli2"], "conv_kind"),
    (["--device", "cuda"], "device"), (["--set", "placement=fc", "--set", "fc_kind=dropout2d"], "fc_kind"),
    (["--set", "momentum="], "momentum"), (["--lr", "inf"], "lr"), (["--set", "weight_decay=nan"], "weight_decay"),
    (["--batch-size", "1e12"], "batch_size"), (["--epochs", "3000000000"], "epochs"), (["--seed", "x"], "seed"),
    (["--set", "=3"], "--set"),
])
def test_bad_values_exit_2_with_one_line_and_no_run_folder(runs_dir, args, field):
    result = invoke("train", "--preset", "quick", *args, "--runs-dir", runs_dir)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:")
    assert not run_paths(runs_dir)


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
    run = run_paths(runs_dir)[0]
    assert json.loads((run / "summary.json").read_text())["state"] == "finished"
    assert json.loads((run / "config.json").read_text())["placement"] == "none"


def test_study_runs_presets_and_prints_the_table(runs_dir):
    result = invoke("study", "quick", "quick", *TINY, "--no-fuse", "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    states = [line.split()[1] for line in result.output.splitlines() if line.strip().startswith("quick ") and "@" in line]
    assert states == ["finished", "finished"] and "best test" in result.output
    rows = [line for line in result.output.splitlines() if line.strip().startswith("quick ") and "finished" in line]
    assert len(rows) == 2 and all("@" in row and "2/2" in row for row in rows)  # final and best with its epoch


def test_runs_show_and_export_in_every_format(runs_dir, tmp_path):
    invoke("train", "--preset", "quick", *TINY, "--runs-dir", runs_dir)
    listing = invoke("runs", "--runs-dir", runs_dir)
    assert listing.exit_code == 0 and "finished" in listing.output
    run_id = run_paths(runs_dir)[0].name
    shown = invoke("show", run_id[:15], "--runs-dir", runs_dir)
    assert shown.exit_code == 0 and "best" in shown.output and "epoch: 2" in shown.output
    csv = invoke("export", run_id, "--format", "csv", "--runs-dir", runs_dir)
    header = csv.output.splitlines()[0]
    assert header.startswith("epoch,loss,lr,seconds,train_acc,test_acc,elapsed,") and len(csv.output.splitlines()) == 3
    assert "sparsity.fc1" in header.split(",")  # each hidden layer's figures, recorded at each evaluated epoch
    out = tmp_path / "m.jsonl"
    assert invoke("export", run_id, "--format", "jsonl", "-o", out, "--runs-dir", runs_dir).exit_code == 0
    assert [json.loads(x)["epoch"] for x in out.read_text().splitlines()] == [1, 2]
    md = invoke("export", "1", "--format", "md", "--runs-dir", runs_dir)
    assert "| epoch | loss |" in md.output
    bad = invoke("export", run_id, "--format", "xls", "--runs-dir", runs_dir)
    assert bad.exit_code == 2 and bad.stderr == ("error: format: unknown format 'xls' (choose from csv, jsonl, md, "
                                                 "dir, tensorboard)\n")
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
    run_id = result.stdout.strip()  # stdout holds the id alone; notes go to stderr
    assert (runs_dir / run_id / "config.json").exists()
    assert wait_for(lambda: json.loads((runs_dir / run_id / "status.json").read_text())["state"] == "finished", 60)


def test_help_does_not_import_torch():
    code = ("import sys; from typer.testing import CliRunner; from tui_dropout.cli.main import app; "
            "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
            "assert 'torch' not in sys.modules, 'torch imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_data_fetch_says_when_cifar_is_already_there(tmp_path):
    write_cifar_batches(tmp_path)
    result = invoke("data", "fetch", "cifar10", "--data-dir", tmp_path)
    assert result.exit_code == 0 and "already" in result.output


# ----- values through the real console script --------------------------------------------------------------

@pytest.mark.parametrize("args, field", [
    (["train", "--preset", "quick", "--batch-size", "1e12"], "batch_size"),
    (["train", "--preset", "quick", "--p", "1.5"], "p"),
    (["train", "--preset", "quick", "--lr", "inf"], "lr"),
    (["show", "1", "--lines", "-5"], "lines"),
])
def test_bad_values_through_the_console_script_are_one_line_and_no_folder(tmp_path, args, field):
    runs = tmp_path / "runs"
    if args[0] == "show":
        hand_made_runs(runs)
    result = console_script(*args, "--runs-dir", runs, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    one_error_line(result.stderr, field)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["runs"] if args[0] == "show" else [])
    if args[0] == "show":
        assert [p.name for p in run_paths(runs)] == sorted(RUN_IDS)


def test_train_into_a_runs_dir_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    for runs in (tmp_path / "afile", tmp_path / "afile" / "runs"):
        result = invoke("train", "--preset", "quick", "--epochs", "1", "--runs-dir", runs)
        assert result.exit_code == 2 and "afile" in one_error_line(result.stderr, "runs_dir")
    assert (tmp_path / "afile").read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


# ----- runs, show and export on hand-made run folders -----------------------------------------------------

def test_show_lines_zero_prints_no_log_and_a_count_prints_that_many(runs_dir):
    hand_made_runs(runs_dir)
    none = invoke("show", "quick", "--lines", "0", "--runs-dir", runs_dir)
    assert none.exit_code == 0 and "log line" not in none.output and "error    RuntimeError" in none.output
    three = invoke("show", "quick", "--lines", "3", "--runs-dir", runs_dir)
    assert [line.strip() for line in three.output.splitlines() if "log line" in line] == [
        "log line 27", "log line 28", "log line 29"]
    negative = invoke("show", "quick", "--lines", "-5", "--runs-dir", runs_dir)
    assert negative.exit_code == 2 and negative.stdout == ""
    one_error_line(negative.stderr, "lines")


def test_markdown_export_shows_formatted_numbers(runs_dir):
    hand_made_runs(runs_dir)
    config = json.loads((runs_dir / RUN_IDS[1] / "config.json").read_text())
    (runs_dir / RUN_IDS[1] / "config.json").write_text(json.dumps({**config, "p_conv": 0.1 + 0.2}))
    md = invoke("export", RUN_IDS[1], "--format", "md", "--runs-dir", runs_dir)
    assert md.exit_code == 0
    assert "| 1 | 2.1235 | 1.23e-02 | 1.23 | 12.35% | 9.88% | 9.9 |" in md.output
    assert "p_conv 0.3," in md.output
    assert not re.search(r"\d\.\d{6,}", md.output), md.output  # no raw floats


def test_no_runs_names_the_absolute_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("runs", "--runs-dir", "runs")
    assert result.exit_code == 0 and result.output.strip() == f"no runs in {tmp_path / 'runs'} (no such folder)"
    (tmp_path / "runs").mkdir()
    assert invoke("runs", "--runs-dir", "runs").output.strip() == f"no runs in {tmp_path / 'runs'}"


def test_runs_at_80_columns_never_cuts_a_run_id(runs_dir):
    hand_made_runs(runs_dir)
    result = console_script("runs", "--runs-dir", runs_dir, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), result.stdout
    for run_id in RUN_IDS:
        (row,) = [line for line in lines if run_id in line]  # whole, on one line
        assert re.search(rf"\b{re.escape(run_id)}\s+failed\s+3/10\s+-\s+-\s+\S+ \| Ru", row), row  # label, then the error
    narrow = console_script("runs", "--runs-dir", runs_dir, env={"COLUMNS": "40"})
    assert all(run_id in narrow.stdout for run_id in RUN_IDS)  # too narrow for the columns: longer lines, ids whole


def test_runs_dir_goes_before_or_after_the_command(runs_dir):
    hand_made_runs(runs_dir)
    before = invoke("--runs-dir", runs_dir, "runs")
    after = invoke("runs", "--runs-dir", runs_dir)
    assert before.exit_code == after.exit_code == 0 and before.output == after.output
    assert all(run_id in before.output for run_id in RUN_IDS)
    assert invoke("--runs-dir", runs_dir, "show", "quick").exit_code == 0


def test_export_refuses_bad_outputs_with_one_line_and_leaves_nothing(runs_dir, tmp_path):
    hand_made_runs(runs_dir)
    run_id = RUN_IDS[2]
    out = tmp_path / "out"
    out.mkdir()
    (out / "afile").write_text("keep me")
    (out / "folder").mkdir()
    cases = [
        (["-o", out / "folder"], "is a folder"),
        (["--format", "dir", "-o", out / "afile"], "is a file"),
        (["-o", out / "afile" / "out.csv"], "is a file, not a folder"),
        (["--format", "dir", "-o", out / "afile" / "sub"], "is a file, not a folder"),
        (["-o", out / "afile"], "exists; add --force"),
    ]
    for args, reason in cases:
        result = invoke("export", run_id, *args, "--runs-dir", runs_dir)
        assert result.exit_code == 2 and reason in one_error_line(result.stderr, "output"), (args, result.output)
    assert (out / "afile").read_text() == "keep me" and list((out / "folder").iterdir()) == []
    assert invoke("export", run_id, "-o", out / "afile", "--force", "--runs-dir", runs_dir).exit_code == 0
    assert (out / "afile").read_text().startswith("epoch,loss,")
    assert invoke("export", run_id, "--format", "dir", "-o", out / "ex", "--runs-dir", runs_dir).exit_code == 0
    again = invoke("export", run_id, "--format", "dir", "-o", out / "ex", "--runs-dir", runs_dir)
    assert again.exit_code == 2 and "--force" in one_error_line(again.stderr, "output")
    assert invoke("export", run_id, "--format", "dir", "-o", out / "ex", "--force", "--runs-dir", runs_dir).exit_code == 0
    assert sorted(p.name for p in (out / "ex").iterdir()) == [run_id]
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("args", [["export", "..", "--format", "dir"], ["show", "/etc"], ["show", "."],
                                  ["export", "runs/" + RUN_IDS[0]]])
def test_a_run_reference_names_a_run_folder_inside_the_runs_folder_only(runs_dir, tmp_path, monkeypatch, args):
    hand_made_runs(runs_dir)
    monkeypatch.chdir(tmp_path)
    result = invoke(*args, "--runs-dir", runs_dir)
    assert result.exit_code == 2 and result.stdout == ""
    one_error_line(result.stderr, "run")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


# ----- presets -----------------------------------------------------------------------------------------------

def test_broken_presets_are_listed_as_broken_and_refused_by_train(tmp_path, monkeypatch, runs_dir):
    from test_config import BROKEN_PRESETS, write_broken_presets

    monkeypatch.setenv("TUI_DROPOUT_PRESETS", str(write_broken_presets(tmp_path / "presets")))
    listing = invoke("presets")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    for name in [n.removesuffix(".toml") for n in BROKEN_PRESETS] + ["x"]:
        (line,) = [line for line in lines if line.split()[0] == name]
        assert line.split()[1] == "broken:"
    assert [line.split()[:2] for line in lines if line.split()[0] == "good"] == [["good", "digits"]]
    assert "quick" in listing.output  # the shipped presets are still listed
    for name in [n.removesuffix(".toml") for n in BROKEN_PRESETS] + ["x"]:
        result = invoke("train", "--preset", name, "--runs-dir", runs_dir)
        assert result.exit_code == 2 and result.stdout == "", result.output
        one_error_line(result.stderr, "preset")
    assert not runs_dir.exists()


# ----- Ctrl-C and the resume hint ----------------------------------------------------------------------------

@pytest.mark.slow
def test_ctrl_c_prints_a_resume_command_that_works_when_pasted_elsewhere(tmp_path):
    runs = tmp_path / "my runs"  # not the default folder, given relative, with a space to quote
    proc = subprocess.Popen([sys.executable, "-m", "tui_dropout", "train", "--preset", "quick", "--epochs", "500",
                             "--set", "train_limit=200", "--set", "eval_every=100", "--device", "cpu",
                             "--runs-dir", "my runs"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert poll(lambda: any(p.joinpath("metrics.jsonl").is_file() and p.joinpath("metrics.jsonl").read_text()
                                for p in (runs.iterdir() if runs.is_dir() else [])), timeout=90)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    (hint,) = [line for line in out.splitlines() if "resume with:" in line]
    command = shlex.split(hint.split("resume with:", 1)[1])
    assert command[:2] == ["dropout-tui", "resume"] and "--runs-dir" in command
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    resumed = console_script(*command[1:], "--detach", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    run_id = resumed.stdout.strip()
    assert run_id == command[2] and (runs / run_id).is_dir()
    cancelled = console_script("cancel", run_id, "--runs-dir", runs)
    assert cancelled.returncode == 0, cancelled.stderr
    status = runs / run_id / "status.json"
    assert poll(lambda: json.loads(status.read_text())["state"] in ("cancelled", "finished"), timeout=90)
    assert list(elsewhere.iterdir()) == []


def test_other_odd_inputs_are_one_line_and_create_nothing(tmp_path, runs_dir, monkeypatch):
    hand_made_runs(runs_dir)
    monkeypatch.chdir(tmp_path)
    trailing = invoke("export", RUN_IDS[0], "-o", "newdir/", "--runs-dir", runs_dir)  # a folder meant, not a file
    assert trailing.exit_code == 2 and "is a folder" in one_error_line(trailing.stderr, "output")
    typo = invoke("cancel", "1", "--runs-dir", tmp_path / "typo")
    assert typo.exit_code == 2 and one_error_line(typo.stderr, "run")
    empty_key = invoke("train", "--preset", "quick", "--set", "=3", "--runs-dir", runs_dir)
    assert empty_key.exit_code == 2 and one_error_line(empty_key.stderr, "--set")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]  # no newdir file, no typo folder
    long_name = "x" * 300  # longer than a file name may be: an OSError deep down, one line at the top
    for args in (["runs", "--runs-dir", long_name], ["export", RUN_IDS[0], "-o", long_name, "--runs-dir", runs_dir],
                 ["train", "--preset", "A", "--data-dir", long_name, "--runs-dir", runs_dir]):
        result = console_script(*args, cwd=tmp_path)
        assert result.returncode == 2 and "file name too long" in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    unknown = console_script("runs", "--colour", cwd=tmp_path)
    assert unknown.returncode == 2 and unknown.stderr == "error: --colour: no such option: --colour\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]


def test_results_prints_the_newest_study_with_mean_and_spread_over_seeds(runs_dir):
    for i, (p, seed, acc) in enumerate([(0.1, 0, 0.50), (0.1, 1, 0.54), (0.5, 0, 0.60), (0.5, 1, 0.70)]):
        make_run_folder(runs_dir, f"20260101-00000{i}-D-000{i}",
                        {"state": "finished", "epoch": 4, "final_test_acc": acc, "final_train_acc": acc,
                         "best_test_acc": acc, "best_test_epoch": 4, "final_loss": 1.0},
                        config={"preset": "D", "epochs": 4, "placement": "all", "p_fc": p, "seed": seed,
                                "dataset": "digits", "study": "20260101-000000-s1", "label": f"D p_fc={p} seed={seed}"})
    make_run_folder(runs_dir, "20250101-000000-A-lone", {"state": "finished", "epoch": 1})
    out = invoke("results", "--runs-dir", runs_dir)
    assert out.exit_code == 0, out.output
    assert "study 20260101-000000-s1: 4 runs" in out.output and "lone" not in out.output
    spread = [line.split() for line in out.output.splitlines() if line.strip().startswith("D p_fc=") and "±" in line]
    assert [row[:3] for row in spread] == [["D", "p_fc=0.1", "2/2"], ["D", "p_fc=0.5", "2/2"]]
    assert "52.0±2.8" in out.output and "65.0±7.1" in out.output  # final test: mean ± sample std over 2 seeds
    heads = [line.split() for line in out.output.splitlines() if "best train" in line]
    assert [h[0] for h in heads] == ["run", "group"]  # `network` is a config field: the columns say what they list
    assert invoke("results", "--study", "nomatch", "--runs-dir", runs_dir).exit_code == 2


def test_results_group_figures_count_finished_runs_only_and_list_the_others_with_their_state(runs_dir):
    study = {"preset": "D", "epochs": 40, "placement": "all", "dataset": "digits", "study": "20260102-000000-s2"}
    for i, (seed, state, epoch, acc) in enumerate([(0, "finished", 40, 0.60), (1, "finished", 40, 0.70),
                                                   (2, "cancelled", 5, 0.10)]):
        make_run_folder(runs_dir, f"20260102-00000{i}-D-000{i}",
                        {"state": state, "epoch": epoch, "final_test_acc": acc, "final_train_acc": acc,
                         "best_test_acc": acc, "best_test_epoch": epoch, "final_loss": 1.0},
                        config={**study, "seed": seed, "label": f"D seed={seed}"})
    out = invoke("results", "--runs-dir", runs_dir)
    assert out.exit_code == 0, out.output
    row = next(line for line in out.output.splitlines() if line.strip().startswith("D ") and "±" in line)
    assert "2/3" in row.split() and "65.0±7.1" in row  # the cancelled run's 10% stays out of mean and spread
    assert "D n=2/3, left out: seed=2 cancelled 5/40" in out.output
    assert "sample standard deviation (n-1)" in out.output


def test_grid_ranges_end_at_their_high_value_and_seeds_stay_out_of_the_grid():
    from tui_dropout.config import ConfigError
    from tui_dropout.launch.plan import parse_grid, parse_values

    assert parse_values("epochs", "10..25:10") == [10, 20]
    assert parse_values("p_fc", "0.1..0.6:0.3") == [0.1, 0.4]
    assert parse_values("p_fc", "0.1..0.7:0.2") == [0.1, 0.3, 0.5, 0.7]
    with pytest.raises(ConfigError, match="--seeds"):
        parse_grid(["seed=1,2"])
    result = invoke("study", "quick", "--grid", "seed=1,2", "--seeds", "3", "--runs-dir", "/nonexistent/x")
    assert result.exit_code == 2 and result.output.startswith("error: grid:")
