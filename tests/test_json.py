"""`--json` on runs, show, results, hparams and sweep: one schema (docs/json.md), read back by a script."""
import json

from conftest import cli, make_run_folder

STUDY = "20260304-000000-js"
HOSTILE = "\x1b[2J\u202e[red]x[/]"


def study(runs_dir):
    for i, (p, seed, acc, state) in enumerate([(0.1, 0, 0.50, "finished"), (0.1, 1, 0.54, "finished"),
                                               (0.5, 0, 0.60, "finished"), (0.5, 1, 0.70, "finished"),
                                               (0.5, 2, 0.10, "cancelled")]):
        make_run_folder(runs_dir, f"20260304-00000{i}-D-000{i}",
                        {"state": state, "epoch": 4 if state == "finished" else 1, "final_test_acc": acc,
                         "final_train_acc": acc + 0.3, "best_test_acc": acc, "best_test_epoch": 4, "final_loss": 1.0},
                        config={"preset": "D", "epochs": 4, "placement": "all", "p_fc": p, "seed": seed,
                                "dataset": "digits", "study": STUDY,
                                "label": (HOSTILE if i == 0 else "D") + f" p_fc={p} seed={seed}"})


def read(*args):
    out = cli(*args, "--json")
    assert out.returncode == 0, out.stderr
    assert "\x1b" not in out.stdout and "\u202e" not in out.stdout  # escaped by JSON itself
    doc = json.loads(out.stdout)
    assert doc["schema"] == "dropout-tui/1" and doc["command"] == args[0]
    assert doc["units"]["accuracy"] == "fraction (0-1)"
    return doc


def test_every_command_reads_back_with_the_same_run_records(runs_dir):
    study(runs_dir)
    listed = read("runs", "--runs-dir", runs_dir)
    assert [r["number"] for r in listed["runs"]] == [1, 2, 3, 4, 5]
    by_id = {r["id"]: r for r in listed["runs"]}
    first = by_id["20260304-000000-D-0000"]
    assert first["label"].startswith(HOSTILE) and first["config"]["p_fc"] == 0.1
    assert first["figures"]["final_test_acc"] == 0.5 and first["state"] == "finished" and first["evaluation"] is None
    shown = read("show", "20260304-000000-D-0000", "--runs-dir", runs_dir)
    assert shown["run"] == {**first, "number": None} and shown["log"] == []  # show names no list number
    results = read("results", "--runs-dir", runs_dir)
    assert [r["id"] for r in results["runs"]] == sorted(by_id)  # launch order
    assert {k: v for k, v in results["runs"][0].items() if k != "number"} == \
        {k: v for k, v in first.items() if k != "number"}
    groups = {g["name"].split()[-1]: g for g in results["groups"]}
    assert groups["p_fc=0.5"]["runs"] == 3 and groups["p_fc=0.5"]["finished"] == 2
    assert groups["p_fc=0.5"]["left_out"] == [{"id": "20260304-000004-D-0004", "state": "cancelled", "epoch": 1}]
    assert abs(groups["p_fc=0.5"]["figures"]["final_test_acc"]["mean"] - 0.65) < 1e-9
    (diff,) = results["differences"]
    assert diff["test"] == "paired t-test (2 seeds)" and diff["ci_low"] < diff["difference"] < diff["ci_high"]
    table = read("hparams", "--runs-dir", runs_dir)
    assert table["fields"] == ["p_fc", "seed"] and {r["hparams"]["p_fc"] for r in table["runs"]} == {0.1, 0.5}
    swept = read("sweep", "--runs-dir", runs_dir)
    assert swept["axes"] == ["p_fc"] and [p["finished"] for p in swept["points"]] == [2, 2]


def test_an_empty_runs_folder_is_an_empty_list(runs_dir):
    assert read("runs", "--runs-dir", runs_dir)["runs"] == []
    assert read("hparams", "--runs-dir", runs_dir)["runs"] == []
