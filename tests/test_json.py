"""`--json` on runs, show, results, hparams, sweep and queue: one schema (docs/json.md), read back by a script."""
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


def queued_runs(runs_dir):
    """A queue holder (a stand-in with the holder's command line and lock), a run training on its slot with a
    long label, and two runs waiting in order."""
    import os
    import socket

    from conftest import stand_in_holder
    from tui_dropout.store import process_start_time
    from tui_dropout.store.queue import QueueFolder

    long_label = "D " + " ".join(f"field_{k}=0.{k}" for k in range(12))  # wider than any terminal
    make_run_folder(runs_dir, "20260304-000001-D-busy",
                    {"state": "running", "epoch": 2, "epochs": 4, "backend": "queue", "slot": "cpu#0",
                     "pid": os.getpid(), "pid_start": process_start_time(os.getpid()), "host": socket.gethostname()},
                    config={"preset": "D", "epochs": 4, "dataset": "digits", "label": long_label})
    queue = QueueFolder(runs_dir)
    for i in (2, 3):
        make_run_folder(runs_dir, f"20260304-00000{i}-D-wait", {"state": "queued", "backend": "queue"},
                        config={"preset": "D", "epochs": 4, "dataset": "digits", "label": f"D seed={i}"})
        queue.add(f"20260304-00000{i}-D-wait")
    return stand_in_holder(runs_dir), long_label


def test_queue_json_names_the_holder_its_slots_runs_and_the_waiting_runs_in_order(runs_dir):
    holder, long_label = queued_runs(runs_dir)
    try:
        doc = read("queue", "--runs-dir", runs_dir)
        assert doc["holder"]["alive"] and doc["holder"]["pid"] == holder.pid
        assert doc["holder"]["gpus"] == ["cpu"] and doc["holder"]["per_gpu"] == 1 and doc["holder"]["problem"] is None
        (slot,) = doc["slots"]
        assert slot["slot"] == "cpu#0" and [r["label"] for r in slot["runs"]] == [long_label]
        assert slot["runs"][0]["epoch"] == 2 and slot["runs"][0]["state"] == "running"
        assert [(w["place"], w["id"]) for w in doc["waiting"]] == [(1, "20260304-000002-D-wait"),
                                                                   (2, "20260304-000003-D-wait")]
        piped = cli("queue", "--runs-dir", runs_dir, env={"COLUMNS": ""})  # stdout is a pipe here
        assert f"pid {holder.pid}" in piped.stdout and long_label in piped.stdout  # whole, not cut to a width
    finally:
        holder.kill()
        holder.wait()


def test_a_queue_that_drained_says_its_holder_left_and_a_killed_one_is_told_apart(runs_dir):
    import time

    from tui_dropout.store.queue import QueueFolder

    queue = QueueFolder(runs_dir)
    # what a holder writes as it leaves a drained queue (launch/holder.py)
    queue.write_holder({"pid": None, "pid_start": None, "host": "h", "gpus": ["cpu"], "per_gpu": 1, "max_fused": 1,
                        "left": time.time()})
    out = cli("queue", "--runs-dir", runs_dir).stdout
    assert out.startswith("held by nobody (the last holder left at ") and "killed" not in out, out
    assert "it served 1 slot(s) on the CPU" in out and "0 waiting" in out
    doc = read("queue", "--runs-dir", runs_dir)
    assert doc["holder"]["alive"] is False and doc["holder"]["pid"] is None and doc["holder"]["left"] > 0
    assert doc["slots"] == [{"slot": "cpu#0", "runs": []}] and doc["waiting"] == []
    queue.write_holder({"pid": 999999999, "pid_start": 1, "host": "h", "gpus": ["cpu"]})  # gone without leaving
    out = cli("queue", "--runs-dir", runs_dir).stdout
    assert "nobody (pid 999999999 on h holds no queue lock: it was killed" in out, out
    (runs_dir / ".queue" / "holder.json").unlink()
    assert read("queue", "--runs-dir", runs_dir)["holder"] is None
