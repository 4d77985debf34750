"""From runs to conclusions: differences between groups with their interval (stats.py), the sweep of a study
(sweep.py, `dropout-tui sweep`), the differences in `results`, and `show --reliability` from a stored evaluation."""
import json

import pytest
from scipy import stats as scipy_stats
from typer.testing import CliRunner

from conftest import cli, make_run_folder, tiny_config
from tui_dropout import stats
from tui_dropout.cli.main import app
from tui_dropout.store import RunStore

STUDY = "20260301-000000-s9"


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def study_run(runs_dir, i, state="finished", epoch=4, acc=0.5, train=0.9, seed=0, study=STUDY, **config):
    base = {"preset": "D", "epochs": 4, "placement": "all", "p_fc": 0.5, "p_conv": 0.5, "lr": 0.01,
            "dataset": "digits", "study": study, "seed": seed}
    base.update(config)
    words = [base["preset"]] + [f"{k}={v}" for k, v in config.items()] + [f"seed={seed}"]
    return make_run_folder(runs_dir, f"20260301-{i:06d}-{base['preset']}-{i:04d}",
                           {"state": state, "epoch": epoch, "final_test_acc": acc, "final_train_acc": train,
                            "best_test_acc": acc + 0.01, "best_test_epoch": epoch, "final_loss": 1.0},
                           config={**base, "label": " ".join(words)})


# ----- how sure ---------------------------------------------------------------------------------------------
def test_same_seeds_are_paired_and_the_interval_is_scipys():
    a = {0: 0.50, 1: 0.53, 2: 0.51}
    b = {0: 0.55, 1: 0.57, 2: 0.58}
    d = stats.difference(a, b, "final_test_acc", ("A", "B"))
    ref = scipy_stats.ttest_rel([0.55, 0.57, 0.58], [0.50, 0.53, 0.51])
    assert d.test == "paired t-test (3 seeds)"
    assert d.diff == pytest.approx(0.16 / 3)
    assert (d.low, d.high) == pytest.approx(tuple(ref.confidence_interval(0.95)))
    assert d.p == pytest.approx(ref.pvalue) and d.low > 0  # B is better, and the interval says so
    assert d.text().startswith("+5.3 [")


def test_different_seeds_use_welch_and_too_few_runs_say_so():
    d = stats.difference({0: 0.50, 1: 0.52}, {5: 0.60, 6: 0.61, 7: 0.65})
    ref = scipy_stats.ttest_ind([0.60, 0.61, 0.65], [0.50, 0.52], equal_var=False)
    assert d.test == "Welch t-test" and d.p == pytest.approx(ref.pvalue)
    assert (d.low, d.high) == pytest.approx(tuple(ref.confidence_interval(0.95)))
    small = stats.difference({0: 0.5}, {1: 0.6, 2: 0.7})
    assert small.diff == pytest.approx(0.15) and not small.known and small.p is None
    assert "too few runs to tell" in small.note
    flat = stats.difference({0: 0.5, 1: 0.6}, {0: 0.6, 1: 0.7})  # the same gain on every seed
    assert flat.diff == pytest.approx(0.1) and not flat.known and "no spread" in flat.note
    assert "no finished runs" in stats.difference({}, {0: 0.5}).note


# ----- results ----------------------------------------------------------------------------------------------
def test_results_prints_each_groups_difference_from_the_first_with_its_interval(runs_dir):
    accs = {0.1: [0.50, 0.53, 0.51], 0.5: [0.55, 0.57, 0.58]}
    i = 0
    for p, values in accs.items():
        for seed, acc in enumerate(values):
            study_run(runs_dir, i, acc=acc, seed=seed, p_fc=p)
            i += 1
    out = invoke("results", "--runs-dir", runs_dir)
    assert out.exit_code == 0, out.output
    row = next(line for line in out.output.splitlines() if "paired t-test" in line)
    ref = scipy_stats.ttest_rel(accs[0.5], accs[0.1])
    low, high = (x * 100 for x in ref.confidence_interval(0.95))
    assert row.split()[:5] == ["D", "p_fc=0.5", "3", "vs", "3"]
    assert f"+5.3 [{low:+.1f}, {high:+.1f}]" in row and f"{ref.pvalue:.3f}" in row
    assert "against D p_fc=0.1" in out.output and "95% interval" in out.output


# ----- sweep ------------------------------------------------------------------------------------------------
def test_sweep_plots_each_p_with_its_spread_over_finished_seeds(runs_dir):
    grid = {0.1: [(0.50, 0.95), (0.54, 0.97)], 0.3: [(0.60, 0.80), (0.62, 0.82)], 0.5: [(0.58, 0.70), (0.60, 0.72)]}
    i = 0
    for p, runs in grid.items():
        for seed, (acc, train) in enumerate(runs):
            study_run(runs_dir, i, acc=acc, train=train, seed=seed, p_fc=p)
            i += 1
    study_run(runs_dir, i, state="cancelled", epoch=1, acc=0.10, train=0.10, seed=2, p_fc=0.3)  # no sample
    out = invoke("sweep", "--runs-dir", runs_dir, "--json")
    assert out.exit_code == 0, out.output
    found = json.loads(out.stdout)
    assert found["axes"] == ["p_fc"]
    points = {p["values"]["p_fc"]: p for p in found["points"]}
    assert sorted(points) == [0.1, 0.3, 0.5]
    assert points[0.3]["finished"] == 2 and points[0.3]["runs"] == 3
    assert points[0.3]["figures"]["final_test_acc"]["mean"] == pytest.approx(0.61)
    assert points[0.3]["figures"]["final_test_acc"]["std"] == pytest.approx(0.01414, abs=1e-4)
    assert points[0.1]["figures"]["gap"]["mean"] == pytest.approx(0.44)
    table = invoke("sweep", "--runs-dir", runs_dir)
    assert table.exit_code == 0, table.output
    rows = [line.split() for line in table.output.splitlines() if line.strip().startswith(("0.1 ", "0.3 ", "0.5 "))]
    assert [r[:3] for r in rows] == [["0.1", "2/2", "52.0±2.8"], ["0.3", "2/3", "61.0±1.4"],
                                     ["0.5", "2/2", "59.0±1.4"]]
    assert "final test % against p_fc" in table.output  # the plot under the table
    assert invoke("sweep", "--runs-dir", runs_dir, "--figure", "nope").exit_code == 2


def test_two_swept_fields_make_a_table_of_cells_and_presets_sweep_as_one_field(runs_dir):
    i = 0
    for p in (0.1, 0.5):
        for lr in (0.01, 0.1):
            for seed in (0, 1):
                study_run(runs_dir, i, acc=0.5 + p / 10 + lr + seed / 100, seed=seed, p_fc=p, lr=lr)
                i += 1
    out = invoke("sweep", "--runs-dir", runs_dir, "--no-plot")
    assert out.exit_code == 0, out.output
    cells = next(line for line in out.output.splitlines() if line.strip().startswith("0.5 ") and "(2)" in line)
    assert cells.split() == ["0.5", "56.5±0.7", "(2)", "65.5±0.7", "(2)"]
    other = "20260302-000000-s8"  # the seed's study: presets differ in placement and p, one axis
    for j, (preset, placement) in enumerate([("A", "none"), ("B", "fc"), ("C", "conv"), ("D", "all")]):
        study_run(runs_dir, 100 + j, study=other, preset=preset, placement=placement, acc=0.5 + j / 100)
    found = json.loads(invoke("sweep", "--study", "s8", "--runs-dir", runs_dir, "--json").stdout)
    assert found["axes"] == ["preset"] and [p["values"]["preset"] for p in found["points"]] == list("ABCD")


def test_sweep_of_runs_that_differ_only_in_seed_is_one_line(runs_dir):
    for seed in (0, 1):
        study_run(runs_dir, seed, seed=seed)
    out = cli("sweep", "--runs-dir", runs_dir)
    assert out.returncode == 2 and out.stderr.strip().splitlines()[-1].startswith("error: sweep: these runs differ")
    assert len(out.stderr.strip().splitlines()) == 2  # the study line, then the reason


# ----- show --reliability -----------------------------------------------------------------------------------
def test_show_reliability_prints_the_stored_table_without_evaluating_again(runs_dir):
    from tui_dropout.trainer.engine import Trainer

    run = RunStore(runs_dir).create(tiny_config(placement="fc", p_fc=0.5, epochs=2).to_dict())
    assert Trainer([run]).run() == ["finished"]
    bare = cli("show", run.run_id, "--reliability", "--runs-dir", runs_dir)
    assert bare.returncode == 2 and bare.stderr.startswith(f"error: reliability: run {run.run_id} has no evaluation")
    assert cli("evaluate", run.run_id, "--mc", "3", "--runs-dir", runs_dir).returncode == 0
    data = json.loads((run.path / "evaluation.json").read_text())
    before = (run.path / "evaluation.json").stat().st_mtime_ns
    out = cli("show", run.run_id, "--reliability", "--lines", "0", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()[:1].isdigit() and "-" in line]
    table = data["deterministic"]["reliability"]
    assert len(rows) == len(table) == 15
    assert [int(r[1]) for r in rows] == [b["count"] for b in table]
    assert [int(r[4]) for r in rows] == [b["count"] for b in data["mc"]["reliability"]]
    assert (run.path / "evaluation.json").stat().st_mtime_ns == before  # read, not measured again


def test_results_piped_keeps_each_label_on_one_line_and_says_what_a_train_limit_measured(runs_dir):
    long = "D " + "p_fc=0.1234567 " * 8
    for seed in (0, 1):
        path = study_run(runs_dir, seed, seed=seed, train_limit=512)
        config = json.loads((path / "config.json").read_text())
        config["label"] = long + f"seed={seed}"
        (path / "config.json").write_text(json.dumps(config))
    out = cli("results", "--runs-dir", runs_dir, env={"COLUMNS": ""})  # a pipe: no terminal width
    assert out.returncode == 0, out.stderr
    assert sum(long.strip() in line for line in out.stdout.splitlines()) >= 2  # never wrapped at 80 columns
    assert "train on its first 512 images, test on the full set" in out.stdout


def test_help_shows_no_type_beside_a_flag():
    out = cli("export", "--help", env={"COLUMNS": "100"})
    assert out.returncode == 0 and "<bool>" not in out.stdout and "--force" in out.stdout
    assert "TensorBoard" in out.stdout


def test_two_lone_runs_of_one_preset_are_two_groups_by_name_with_their_own_figures(runs_dir, tmp_path):
    from tui_dropout.groups import seed_groups
    from tui_dropout.store import RunDir

    paths = []
    for i, (placement, acc, ece) in enumerate((("all", 0.97, 0.105), ("none", 0.98, 0.018))):
        path = make_run_folder(runs_dir, f"20260301-00000{i}-mnist-mlp-{i}aaa",
                               {"state": "finished", "epoch": 4, "final_test_acc": acc, "final_train_acc": acc,
                                "best_test_acc": acc, "best_test_epoch": 4, "final_loss": 0.1},
                               config={"preset": "mnist-mlp", "epochs": 4, "placement": placement, "p_fc": 0.5,
                                       "dataset": "digits", "seed": 0})
        figures = {"accuracy": acc, "entropy": 0.1, "nll": 0.1, "ece": ece, "confidence": acc}
        (path / "evaluation.json").write_text(json.dumps({
            "state": "finished", "mc_passes": 5, "checkpoint_epoch": 4, "test_size": 50, "dropout": True,
            "deterministic": figures, "mc": {**figures, "passes": 5, "same_as_deterministic": False}}))
        paths.append(path)
    groups = seed_groups([RunDir(p).info() for p in paths])
    assert [g.name for g in groups] == ["mnist-mlp placement=all", "mnist-mlp placement=none"]
    (paths[0] / "notes.json").write_text(json.dumps({"name": "with dropout"}))
    (paths[1] / "notes.json").write_text(json.dumps({"name": "without"}))
    assert [g.name for g in seed_groups([RunDir(p).info() for p in paths])] == ["with dropout", "without"]
    out = tmp_path / "rep"
    done = cli("report", "0aaa", "1aaa", "-o", out, "--runs-dir", runs_dir)  # no study: the runs by name
    assert done.returncode == 0, done.stderr
    rows = [line for line in (out / "report.md").read_text().splitlines() if line.startswith("| with")]
    assert any("with dropout" in r and r.endswith("| 10.5 |") for r in rows), rows  # each group its own ECE
    assert any("without" in r and r.endswith("| 1.8 |") for r in rows), rows
