"""`dropout-tui evaluate`: a real trained run's checkpoint measured with dropout off and as Monte-Carlo dropout.

Two tiny runs are trained once (digits, 3 epochs, CPU): one with dropout on the fc layer, one without. Each test
copies the runs it needs into its own runs folder, so evaluations never meet."""
import json
import math
import os
import shutil
import time

import pytest

from conftest import SHARED_DATA, cli, make_run_folder, tiny_config, until, wait_for
from tui_dropout import evaluation
from tui_dropout.store import RunDir, RunStore, process_start_time

TEST_IMAGES = 449  # the digits test set: 1797 images, a quarter held out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """{"drop": path, "plain": path}: finished runs with checkpoints, trained in this process."""
    from tui_dropout.trainer.engine import Trainer

    store = RunStore(tmp_path_factory.mktemp("trained") / "runs")
    runs = {"drop": store.create(tiny_config(placement="fc", p_fc=0.5).to_dict()),
            "plain": store.create(tiny_config(placement="none").to_dict())}
    for run in runs.values():
        assert Trainer([run]).run() == ["finished"]
    return {name: run.path for name, run in runs.items()}


def copy_runs(trained, runs_dir, *names):
    """The trained runs named, copied into this test's runs folder; their RunDirs in the order asked."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    return [RunDir(shutil.copytree(trained[name], runs_dir / trained[name].name)) for name in names]


def evaluation_json(run: RunDir) -> dict:
    return json.loads(run.file("evaluation.json").read_text())


def one_error_line(result, starts: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {starts}"), result.stderr
    assert result.stdout == ""


def check_figures(figures: dict) -> None:
    assert 0.0 <= figures["accuracy"] <= 1.0 and 0.0 <= figures["ece"] <= 1.0
    assert 0.0 <= figures["entropy"] <= math.log(10) + 1e-6 and figures["nll"] > 0
    table = figures["reliability"]
    assert len(table) == 15 and sum(row["count"] for row in table) == TEST_IMAGES
    ece = 0.0
    for b, row in enumerate(table):
        assert row["bin"] == pytest.approx([b / 15, (b + 1) / 15], abs=1e-5)
        if row["count"]:
            assert row["bin"][0] - 1e-9 <= row["confidence"] <= row["bin"][1] + 1e-9
            ece += row["count"] / TEST_IMAGES * abs(row["accuracy"] - row["confidence"])
        else:
            assert row["confidence"] is None and row["accuracy"] is None
    assert ece == pytest.approx(figures["ece"])
    correct = sum(row["count"] * row["accuracy"] for row in table if row["count"])
    assert correct / TEST_IMAGES == pytest.approx(figures["accuracy"])


# ----- through the command line ------------------------------------------------------------------------------
@pytest.mark.slow
def test_evaluate_a_dropout_run_writes_every_field_and_is_reproducible(trained, runs_dir):
    (run,) = copy_runs(trained, runs_dir, "drop")
    before = time.time()
    result = cli("evaluate", run.run_id, "--mc", "6", "--bins", "--runs-dir", runs_dir)
    assert result.returncode == 0, result.stderr
    data = evaluation_json(run)
    assert data["state"] == "finished" and data["mc_passes"] == 6 and data["progress"] == [6, 6]
    assert data["checkpoint_epoch"] == 3 and data["device"] == "cpu" and data["dropout"] is True
    assert before <= data["started"] <= data["ended"] and data["seconds"] > 0 and "error" not in data
    assert data["test_size"] == TEST_IMAGES
    det, mc = data["deterministic"], data["mc"]
    check_figures(det)
    check_figures(mc)
    assert mc["passes"] == 6 and mc["same_as_deterministic"] is False
    assert mc["nll"] != det["nll"] and mc["entropy"] != det["entropy"]  # masks were drawn
    # dropout off agrees with the trainer's own test accuracy at the same checkpoint
    assert det["accuracy"] == pytest.approx(run.read_status()["final_test_acc"])
    # the table and the reliability bins are printed; progress went to stderr
    assert "dropout off" in result.stdout and "MC x6" in result.stdout and "ECE %" in result.stdout
    assert "0.933-1.000" in result.stdout and "MC pass 6/6" in result.stderr
    assert "evaluated checkpoint of epoch 3" in run.log_tail(1)[0]
    # the same seed draws the same masks: a second evaluation gives the same figures
    again = cli("evaluate", run.run_id, "--mc", "6", "--runs-dir", runs_dir)
    assert again.returncode == 0, again.stderr
    assert evaluation_json(run)["mc"] == mc
    assert evaluation_json(run)["numerics"]["deterministic"] is False
    # the evaluation runs with the run's own numerics, not torch's defaults, and records them
    config = json.loads(run.file("config.json").read_text())
    run.file("config.json").write_text(json.dumps({**config, "deterministic": True, "tf32": True}))
    strict = cli("evaluate", run.run_id, "--mc", "2", "--runs-dir", runs_dir)
    assert strict.returncode == 0, strict.stderr
    numerics = evaluation_json(run)["numerics"]
    assert numerics["deterministic"] is True and numerics["tf32"] == {"matmul": True, "cudnn": True}
    assert numerics["torch"] and numerics["device_name"]


@pytest.mark.slow
def test_a_run_without_dropout_has_mc_equal_to_dropout_off(trained, runs_dir):
    (run,) = copy_runs(trained, runs_dir, "plain")
    result = cli("evaluate", run.run_id, "--mc", "3", "--runs-dir", runs_dir)
    assert result.returncode == 0, result.stderr
    data = evaluation_json(run)
    assert data["state"] == "finished" and data["dropout"] is False
    det, mc = data["deterministic"], data["mc"]
    check_figures(det)
    for key in ("accuracy", "entropy", "nll", "ece", "reliability"):
        assert mc[key] == det[key]
    assert mc["same_as_deterministic"] is True and mc["mutual_info"] == 0.0
    assert "no dropout" in result.stdout
    assert evaluation.describe(evaluation.read(run.path))[0].startswith("eval  no dropout:")


@pytest.mark.slow
def test_a_fused_members_checkpoint_evaluates_as_its_own_network(runs_dir):
    from tui_dropout.trainer.engine import Trainer

    store = RunStore(runs_dir)
    runs = [store.create(tiny_config(placement="fc", seed=seed).to_dict()) for seed in (0, 1)]
    assert Trainer(runs).run() == ["finished", "finished"]
    assert runs[1].read_status()["group"] == [r.run_id for r in runs]  # trained fused, in one pass
    result = cli("evaluate", runs[1].run_id, "--mc", "2", "--runs-dir", runs_dir)
    assert result.returncode == 0, result.stderr
    data = evaluation.read(runs[1].path)
    assert data["state"] == "finished" and data["dropout"] is True
    # its solo-format weights give the test accuracy the fused trainer measured (a near tie may flip one image)
    assert data["deterministic"]["accuracy"] == pytest.approx(runs[1].read_status()["final_test_acc"],
                                                              abs=1.5 / TEST_IMAGES)


def test_refusals_are_one_line_and_exit_2(runs_dir):
    me = {"state": "running", "pid": os.getpid(), "pid_start": process_start_time(os.getpid()),
          "host": os.uname().nodename}
    running = make_run_folder(runs_dir, "20260101-000001-A-live", me)
    (running / "checkpoint.pt").write_bytes(b"not looked at")
    make_run_folder(runs_dir, "20260101-000002-A-none", {"state": "finished", "epoch": 10})
    make_run_folder(runs_dir, "20260101-000003-A-ckpt", {"state": "cancelled", "epoch": 2})
    (runs_dir / "20260101-000003-A-ckpt" / "checkpoint.pt").write_bytes(b"x")
    one_error_line(cli("evaluate", "live", "--runs-dir", runs_dir), "run: 20260101-000001-A-live is running")
    one_error_line(cli("evaluate", "none", "--runs-dir", runs_dir), "run: 20260101-000002-A-none has no checkpoint")
    one_error_line(cli("evaluate", "nosuchrun", "--runs-dir", runs_dir), "run: no run matches")
    one_error_line(cli("evaluate", "ckpt", "live", "--runs-dir", runs_dir), "run: 20260101-000001-A-live")
    one_error_line(cli("evaluate", "ckpt", "--mc", "0", "--runs-dir", runs_dir), "mc:")
    one_error_line(cli("evaluate", "ckpt", "--mc", "many", "--runs-dir", runs_dir), "mc:")
    one_error_line(cli("evaluate", "ckpt", "--device", "tpu", "--runs-dir", runs_dir), "device:")
    for path in runs_dir.iterdir():  # nothing was started, so nothing was written
        assert not (path / "evaluation.json").exists()
    # the module refuses the same way, and never starts a process
    with pytest.raises(evaluation.Refused, match="is running"):
        evaluation.start(running, 5)
    with pytest.raises(evaluation.Refused, match="has no checkpoint"):
        evaluation.start(runs_dir / "20260101-000002-A-none", 5)


def test_a_second_evaluation_of_a_run_is_refused_while_one_holds_it(runs_dir):
    path = make_run_folder(runs_dir, "20260101-000003-A-ckpt", {"state": "cancelled", "epoch": 2})
    (path / "checkpoint.pt").write_bytes(b"x")
    fd = evaluation.lock(RunDir(path))  # as an evaluating process holds it
    try:
        one_error_line(cli("evaluate", "ckpt", "--runs-dir", runs_dir), "run: 20260101-000003-A-ckpt is being "
                                                                        "evaluated already")
        with pytest.raises(evaluation.Refused, match="being evaluated already"):
            evaluation.start(path, 5)
    finally:
        os.close(fd)


def test_a_damaged_checkpoint_fails_the_evaluation_with_the_reason(runs_dir):
    path = make_run_folder(runs_dir, "20260101-000003-A-ckpt", {"state": "cancelled", "epoch": 2})
    (path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    result = cli("evaluate", "ckpt", "--mc", "2", "--runs-dir", runs_dir)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: 20260101-000003-A-ckpt: evaluation failed: ")
    data = evaluation.read(path)
    assert data["state"] == "failed" and "cannot be loaded safely" in data["error"]
    assert data["ended"] >= data["started"]
    assert evaluation.describe(data)[0].startswith("eval  failed: ")
    assert "evaluation failed" in RunDir(path).log_tail(1)[0]
    # with a good evaluation already there, a failed one leaves it standing and says it failed
    good = {"state": "finished", "dropout": True, "mc_passes": 20,
            "deterministic": {"accuracy": 0.6, "ece": 0.05, "entropy": 0.9, "nll": 1.1},
            "mc": {"accuracy": 0.62, "ece": 0.03, "entropy": 1.0, "nll": 1.0, "passes": 20}}
    (path / "evaluation.json").write_text(json.dumps(good))
    result = cli("evaluate", "ckpt", "--mc", "2", "--runs-dir", runs_dir)
    assert result.returncode == 1 and "cannot be loaded safely" in result.stderr
    data = evaluation.read(path)
    assert data["state"] == "finished" and data["mc"]["accuracy"] == 0.62
    assert "cannot be loaded safely" in data["last_error"]


@pytest.mark.slow
def test_background_evaluations_and_the_results_table(trained, runs_dir):
    drop, plain = copy_runs(trained, runs_dir, "drop", "plain")
    proc = evaluation.start(drop, 4)  # detached: the lock goes with the process
    with pytest.raises(evaluation.Refused, match="being evaluated already"):
        evaluation.start(drop, 4)
    detached = cli("evaluate", plain.run_id, "--mc", "2", "--detach", "--runs-dir", runs_dir)
    assert detached.returncode == 0 and "evaluating in the background" in detached.stdout
    for run in (drop, plain):
        assert wait_for(lambda: (evaluation.read(run.path) or {}).get("state") == "finished", timeout=120)
    assert proc.wait(30) == 0
    assert (drop.file("evaluate.out")).exists()
    data = evaluation.read(drop.path)
    assert data["progress"] == [4, 4] and data["mc_passes"] == 4
    cols = evaluation.columns(data)
    assert set(cols) == {"det_acc", "mc_acc", "det_ece", "mc_ece", "mc_entropy"}
    assert cols["det_acc"] == data["deterministic"]["accuracy"] and cols["mc_ece"] == data["mc"]["ece"]
    lines = evaluation.describe(data)
    assert "dropout off" in lines[0] and "MC×4" in lines[0] and "ECE" in lines[1] and "→" in lines[1]
    result = cli("results", drop.run_id, plain.run_id, "--runs-dir", runs_dir)
    assert result.returncode == 0, result.stderr
    assert "dropout off vs MC dropout" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines() if line.strip().startswith("quick ")]
    evaluated = [r for r in rows if r[1] in ("x4", "none")]
    assert sorted(r[1] for r in evaluated) == ["none", "x4"]
    x4 = next(r for r in evaluated if r[1] == "x4")
    assert x4[2] == f"{data['deterministic']['accuracy'] * 100:.1f}" and x4[3] == f"{data['mc']['accuracy'] * 100:.1f}"


def test_results_give_mean_and_spread_over_seeds_of_evaluations(runs_dir):
    for seed in (1, 2):
        cfg = {**tiny_config(seed=seed).to_dict(), "label": f"quick seed={seed}"}
        path = make_run_folder(runs_dir, f"20260101-00000{seed}-quick-s{seed}", {"state": "finished", "epoch": 3},
                               config=cfg)
        record = {"state": "finished", "mc_passes": 5, "dropout": True, "progress": [5, 5],
                  "deterministic": {"accuracy": 0.5 + seed / 10, "ece": 0.1, "entropy": 1.0, "nll": 1.0},
                  "mc": {"accuracy": 0.6 + seed / 10, "ece": 0.05, "entropy": 1.2, "nll": 0.9, "passes": 5}}
        (path / "evaluation.json").write_text(json.dumps(record))
    result = cli("results", "s1", "s2", "--runs-dir", runs_dir)
    assert result.returncode == 0, result.stderr
    spread = [line.split() for line in result.stdout.splitlines() if line.strip().startswith("quick ") and "±" in line]
    assert ["quick", "2", "65.0±7.1", "75.0±7.1", "10.0±0.0", "5.0±0.0"] in spread


# ----- the console key -----------------------------------------------------------------------------------------
@pytest.mark.slow
async def test_the_console_key_evaluates_the_selected_run_and_refuses_an_active_one(trained, runs_dir):
    from console_helpers import RecordingConsole as Console

    (run,) = copy_runs(trained, runs_dir, "drop")
    me = {"state": "running", "pid": os.getpid(), "pid_start": process_start_time(os.getpid()),
          "host": os.uname().nodename, "created": time.time() + 3600}  # the newest: first in the list
    live = make_run_folder(runs_dir, "20990101-000000-A-live", me)
    (live / "checkpoint.pt").write_bytes(b"x")
    app = Console(runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: run.run_id in app.watcher.runs, timeout=60, what="the runs listed")
        await pilot.press("up")  # a fresh console opens on the run with data; the live one is above it
        await until(pilot, lambda: app.screen.selected == live.name, timeout=60, what="the live run selected")
        await pilot.press("v")
        await until(pilot, lambda: any("cannot evaluate" in m and "is running" in m for m in app.told),
                    what="the refusal")
        assert not (live / "evaluation.json").exists()
        await pilot.press("down")
        await until(pilot, lambda: app.screen.selected == run.run_id, timeout=60, what="the trained run selected")
        await pilot.press("v")
        await until(pilot, lambda: any(m.startswith(f"evaluating {run.run_id}") for m in app.told),
                    what="the start notice")
        await pilot.press("v")  # again while it evaluates: refused, the first one goes on
        await until(pilot, lambda: any("being evaluated already" in m for m in app.told), timeout=60,
                    what="the second refusal")
    assert wait_for(lambda: (evaluation.read(run.path) or {}).get("state") == "finished", timeout=120)
    assert evaluation.read(run.path)["mc_passes"] == evaluation.DEFAULT_PASSES


@pytest.mark.slow
def test_re_evaluations_killed_twice_in_a_row_leave_the_last_good_one_standing(trained, runs_dir):
    import signal
    import subprocess
    import sys

    (run,) = copy_runs(trained, runs_dir, "drop")
    assert cli("evaluate", run.run_id, "--mc", "4", "--runs-dir", runs_dir).returncode == 0
    good = evaluation_json(run)
    for _ in range(2):  # kill -9 in the middle of `evaluate --mc 2000`, twice
        proc = subprocess.Popen([sys.executable, "-m", "tui_dropout", "evaluate", run.run_id, "--mc", "2000",
                                 "--runs-dir", str(runs_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # mid-way: a live evaluating process has written passes (read() says `lost` once its pid is gone)
        assert wait_for(lambda: (lambda d: d.get("state") == "running" and d["progress"][0] >= 1)(
            evaluation.read(run.path)), 120)
        os.kill(evaluation_json(run)["pid"], signal.SIGKILL)  # the evaluating process, then the command
        proc.kill()
        proc.wait()
        assert wait_for(lambda: evaluation.read(run.path).get("state") != "running", 30)  # the kill has landed
        data = evaluation.read(run.path)  # the file stays whole JSON, and what it shows is the good one
        assert data["state"] == "finished" and data["mc_passes"] == 4
        assert data["mc"]["accuracy"] == good["mc"]["accuracy"] and "ended before it finished" in data["last_error"]
        shown = cli("show", run.run_id, "--runs-dir", runs_dir)
        assert shown.returncode == 0 and "MC×4" in shown.stdout and "later evaluation failed" in shown.stdout, \
            shown.stdout + shown.stderr
    third = cli("evaluate", run.run_id, "--mc", "3", "--runs-dir", runs_dir)
    assert third.returncode == 0, third.stderr
    data = evaluation_json(run)
    assert data["state"] == "finished" and data["mc_passes"] == 3 and "previous" not in data


def test_a_re_evaluation_that_fails_leaves_the_last_good_one_standing(tmp_path):
    good = {"state": "finished", "dropout": True, "mc_passes": 20,
            "deterministic": {"accuracy": 0.6, "ece": 0.05, "entropy": 0.9, "nll": 1.1},
            "mc": {"accuracy": 0.62, "ece": 0.03, "entropy": 1.0, "nll": 1.0, "passes": 20}}
    (tmp_path / "evaluation.json").write_text(json.dumps(
        {"state": "failed", "error": "BrokenPipeError: gone", "mc_passes": 5, "previous": good}))
    data = evaluation.read(tmp_path)
    assert data["state"] == "finished" and data["mc"]["accuracy"] == 0.62
    assert "a later evaluation failed: BrokenPipeError" in " ".join(evaluation.describe(data))
    assert evaluation.columns(data)["mc_acc"] == 0.62
    # a damaged "previous" is no reason to hide the failure
    (tmp_path / "evaluation.json").write_text(json.dumps({"state": "failed", "error": "x", "previous": {"a": 1}}))
    assert evaluation.read(tmp_path)["state"] == "failed"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_DATA.exists(), reason="the real CIFAR-10 JPEG copy is not on this machine")
def test_a_run_on_real_cifar10_images_is_evaluated_end_to_end(tmp_path, runs_dir):
    """Network B (dropout on the fc layer) trained briefly on real CIFAR-10 photographs (a slice of the JPEG copy),
    then evaluated through the CLI as a user would: every figure in range, one reliability row per bin."""
    import tarfile

    with tarfile.open(SHARED_DATA) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.split("/")[-1] < "0030.jpg"]
        tar.extractall(tmp_path, members=members, filter="data")
    root = next(p.parent for p in tmp_path.rglob("train"))
    trained = cli("train", "--preset", "B", "--dataset", "imagefolder", "--data-dir", root, "--epochs", "2",
                  "--device", "cpu", "--set", "eval_every=1", "--runs-dir", runs_dir, timeout=600)
    assert trained.returncode == 0, trained.stderr
    result = cli("evaluate", "1", "--mc", "5", "--reliability", "--runs-dir", runs_dir, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "dropout off" in result.stdout and "MC" in result.stdout
    (run,) = [RunDir(p) for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    data = evaluation.read(run.path)
    assert data["state"] == "finished" and data["dropout"] is True and data["test_size"] == 300
    det, mc = data["deterministic"], data["mc"]
    assert det["accuracy"] == pytest.approx(run.info().final_test_acc)
    for figures in (det, mc):
        assert 0.0 <= figures["accuracy"] <= 1.0 and 0.0 <= figures["ece"] <= 1.0
        assert 0.0 <= figures["entropy"] <= math.log(10) + 1e-6
        assert sum(row["count"] for row in figures["reliability"]) == 300
    assert mc["entropy"] != det["entropy"]  # the masks were on
