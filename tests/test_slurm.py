"""Slurm for real: a single-node cluster (Debian's slurm-wlm + munge; .ci/slurm-up.sh starts it). Skips, saying
why, where no cluster answers. Runs are submitted with submitit as job arrays from the CLI."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import cli, metric_epochs, read_status, wait_for

pytestmark = pytest.mark.slow


def _slurm_problem() -> str | None:
    if not shutil.which("sinfo") or not shutil.which("sbatch"):
        return "Slurm is not installed here (.ci/slurm-up.sh installs and starts a single-node cluster)"
    try:
        import submitit  # noqa: F401
    except ImportError:
        return "submitit (the slurm extra) is not installed"
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    if out.returncode != 0 or not any(s.strip() in ("idle", "mixed", "allocated") for s in out.stdout.split()):
        return f"no Slurm node takes jobs (sinfo: {out.stdout.strip() or out.stderr.strip()}); run .ci/slurm-up.sh"
    return None


PROBLEM = _slurm_problem()
REQUIRED = os.environ.get("DROPOUT_TUI_REQUIRE_SLURM") == "1"  # .ci/run under CI=true: a missing Slurm fails
pytestmark = [pytest.mark.slow, pytest.mark.skipif(PROBLEM is not None and not REQUIRED, reason=str(PROBLEM))]


@pytest.fixture(autouse=True)
def _slurm_required():
    if PROBLEM is not None:
        pytest.fail(f"Slurm is required here (DROPOUT_TUI_REQUIRE_SLURM=1): {PROBLEM}")
SHORT = ["--epochs", "2", "--set", "train_limit=200", "--set", "eval_every=1", "--device", "cpu"]
LONG = ["--epochs", "300", "--set", "train_limit=300", "--batch-size", "32", "--device", "cpu"]
EACH_EPOCH = ["--set", "checkpoint_every=1"]


def job_state(job: str) -> str:
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True)
    return out.stdout.strip()


def squeue_ids() -> set[str]:
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True)
    return set(out.stdout.split())


def test_a_grid_with_seeds_runs_as_a_job_array_and_the_table_reads_mean_and_spread(runs_dir):
    out = cli("study", "quick", *SHORT, "--grid", "p_fc=0.2,0.6", "--seeds", "2", "--max-fused", "2",
              "--backend", "slurm", "--time", "10", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    ids = out.stdout.split()
    assert len(ids) == 4 and "Slurm job(s)" in out.stderr
    assert wait_for(lambda: all(read_status(runs_dir / i).get("state") == "finished" for i in ids), 300)
    statuses = [read_status(runs_dir / i) for i in ids]
    assert all(s["backend"] == "slurm" and s["job_id"] and s["host"] for s in statuses)
    assert len({s["job_id"] for s in statuses}) == 2  # two fused groups, two array tasks
    labels = {json.loads((runs_dir / i / "config.json").read_text())["label"] for i in ids}
    assert labels == {"quick p_fc=0.2 seed=0", "quick p_fc=0.2 seed=1", "quick p_fc=0.6 seed=0",
                      "quick p_fc=0.6 seed=1"}


def test_a_preempted_job_checkpoints_is_requeued_and_resumes_then_cancel_ends_it(runs_dir):
    out = cli("train", "--preset", "quick", *LONG, "--backend", "slurm", "--time", "10", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    path = runs_dir / run_id
    assert wait_for(lambda: len(metric_epochs(path)) >= 2, 180)
    job = read_status(path)["job_id"]
    subprocess.run(["scancel", "--signal=USR2", job], check=True)  # what Slurm sends before a time limit
    assert wait_for(lambda: read_status(path).get("requeued"), 60)
    assert read_status(path)["state"] == "queued"
    assert "requeued to resume" in (path / "train.log").read_text()
    come_back_then_cancel(runs_dir, run_id, job)


def resumes(path) -> list[int]:
    """The epoch after which each start of the run in train.log began."""
    return [int(m) for m in re.findall(r"resumed after epoch (\d+)", (path / "train.log").read_text())]


def come_back(runs_dir, run_id: str, job: str) -> None:
    """A run whose job was requeued: it reads `queued (requeued)` while it waits, and starts after its checkpoint
    (the epoch and the figures it had, no row of metrics.jsonl twice) when Slurm runs it again."""
    path = runs_dir / run_id
    assert wait_for(lambda: job_state(job) == "PENDING", 90), job_state(job)
    assert wait_for(lambda: "queued (requeued)" in cli("runs", "--runs-dir", runs_dir).stdout, 30)
    before = read_status(path)
    assert before["epoch"] >= 1 and before["best_test_acc"] > 0, before
    # slurmd refuses a job credential issued in the same second as the one the requeue revoked ("Job credential
    # revoked": the job then fails and never runs); Slurm's own requeue delay avoids that, and so does this wait
    assert wait_for(lambda: time.time() > before["requeued"] + 2, 10)
    subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], check=True)  # skip Slurm's requeue delay
    earlier = resumes(path)
    assert wait_for(lambda: len(resumes(path)) > len(earlier), 180), (path / "train.log").read_text()
    assert resumes(path)[-1] == before["epoch"], (path / "train.log").read_text()
    assert wait_for(lambda: read_status(path).get("epoch", 0) > before["epoch"], 120)  # an epoch of this start
    after = read_status(path)
    assert after["elapsed"] >= before["elapsed"] and after["best_test_acc"] >= before["best_test_acc"], (before, after)
    assert metric_epochs(path) == list(range(1, len(metric_epochs(path)) + 1))


def cancel_and_check(runs_dir, run_id: str, job: str) -> None:
    """`cancel` ends the run and its job, with every epoch in metrics.jsonl once."""
    path = runs_dir / run_id
    cancelled = cli("cancel", run_id, "--runs-dir", runs_dir)
    assert cancelled.returncode == 0
    assert wait_for(lambda: read_status(path).get("state") == "cancelled", 60)
    assert wait_for(lambda: job not in squeue_ids(), 60)
    epochs = metric_epochs(path)
    assert epochs == list(range(1, len(epochs) + 1))


def come_back_then_cancel(runs_dir, run_id: str, job: str) -> None:
    come_back(runs_dir, run_id, job)
    cancel_and_check(runs_dir, run_id, job)


def start_long_runs(runs_dir, *args: str) -> list[tuple[str, str]]:
    out = cli("study", "quick", *LONG, *EACH_EPOCH, *args, "--backend", "slurm", "--time", "10",
              "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    ids = out.stdout.split()
    assert wait_for(lambda: all(len(metric_epochs(runs_dir / i)) >= 2 for i in ids), 180)
    return [(i, read_status(runs_dir / i)["job_id"]) for i in ids]


def test_scontrol_requeue_sigterm_checkpoints_and_the_job_resumes_after_its_checkpoint_each_time(runs_dir):
    ((run_id, job),) = start_long_runs(runs_dir)
    path = runs_dir / run_id
    for _ in range(2):  # requeued again after it came back: again after its newest checkpoint
        requeued = read_status(path).get("requeued")
        subprocess.run(["scontrol", "requeue", job], check=True)  # SIGTERM, as a preemption or a drain sends it
        assert wait_for(lambda: read_status(path).get("requeued") != requeued, 60), read_status(path)
        assert read_status(path)["state"] == "queued"
        assert "requeued to resume" in (path / "train.log").read_text()
        come_back(runs_dir, run_id, job)
    assert len(resumes(path)) == 2
    cancel_and_check(runs_dir, run_id, job)


def test_a_signal_to_the_batch_step_of_an_array_task_reaches_its_trainer_alone(runs_dir):
    (signalled, job), (other, other_job) = start_long_runs(runs_dir, "--grid", "p_fc=0.2,0.6", "--no-fuse")
    assert job.split("_")[0] == other_job.split("_")[0] != job  # two tasks of one array
    # its batch shell is srun itself, so the signal reaches the trainer as sent (were it a shell, the shell would
    # die of it, and the trainer would checkpoint on the SIGTERM Slurm then sends, within KillWait)
    (script,) = (runs_dir / ".slurm").rglob(f"{job.split('_')[0]}_submission.sh")
    assert "\nexec srun " in script.read_text()
    subprocess.run(["scancel", "--signal=USR2", "--batch", job], check=True)
    assert wait_for(lambda: read_status(runs_dir / signalled).get("requeued"), 60), read_status(runs_dir / signalled)
    come_back(runs_dir, signalled, job)
    assert read_status(runs_dir / other)["state"] == "running" and not read_status(runs_dir / other).get("requeued")
    assert "resumed" not in (runs_dir / other / "train.log").read_text()
    cancel_and_check(runs_dir, signalled, job)
    cancel_and_check(runs_dir, other, other_job)


def test_a_plain_scancel_cancels_the_run_with_a_checkpoint_and_slurm_does_not_run_it_again(runs_dir):
    ((run_id, job),) = start_long_runs(runs_dir)
    path = runs_dir / run_id
    subprocess.run(["scancel", job], check=True)  # SIGTERM too, but the job is ending: no requeue
    assert wait_for(lambda: read_status(path).get("state") == "cancelled", 60), read_status(path)
    assert wait_for(lambda: job not in squeue_ids(), 60), job_state(job)  # a requeued job would wait, PENDING
    assert "Slurm ended the job (scancel)" in (path / "train.log").read_text()
    assert not read_status(path).get("requeued") and (path / "checkpoint.pt").is_file()
    assert "cancelled" in cli("runs", "--runs-dir", runs_dir).stdout
    stopped = read_status(path)["epoch"]
    out = cli("resume", run_id, "--backend", "slurm", "--time", "10", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    assert wait_for(lambda: resumes(path) == [stopped], 180), (path / "train.log").read_text()
    assert wait_for(lambda: read_status(path).get("epoch", 0) > stopped, 120)
    cancel_and_check(runs_dir, run_id, read_status(path)["job_id"])


def test_a_launch_sbatch_refuses_leaves_no_run_folder_and_says_why_in_one_line(runs_dir, tmp_path):
    cases = {"mem_gb = 100000\n": "Memory specification can not be satisfied",
             "[sbatch]\nfrobnicate = 'yes'\n": "unrecognized option '--frobnicate=yes'",
             "partition = 'nope'\n": "no partition nope on this cluster"}
    for text, reason in cases.items():
        config = tmp_path / "slurm.toml"
        config.write_text("time = 10\n" + text)
        out = cli("train", "--preset", "quick", *SHORT, "--backend", "slurm", "--slurm-config", config,
                  "--runs-dir", runs_dir)
        assert out.returncode == 2 and reason in out.stderr, (text, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1 and "sbatch --help" not in out.stderr, out.stderr
        assert not [p for p in runs_dir.glob("*") if not p.name.startswith(".")], (text, list(runs_dir.iterdir()))
        assert not list(runs_dir.glob(".slurm/*")), list(runs_dir.glob(".slurm/*"))  # nor submitit's job files


def test_settings_sbatch_would_take_are_refused_first_and_a_short_limit_fits_the_signal_delay(runs_dir, tmp_path):
    config = tmp_path / "slurm.toml"
    for text, field in (("mem_gb = 'lots'", "mem_gb"), ("cpus_per_job = -2", "cpus_per_job"),
                        ("[sbatch]\n'bad key' = 1", "sbatch"), ("partition = 'a b'", "partition"),
                        ("signal_delay_s = 90", "signal_delay_s")):
        config.write_text(text + "\n")
        out = cli("train", "--preset", "quick", *SHORT, "--backend", "slurm", "--slurm-config", config,
                  "--time", "1", "--runs-dir", runs_dir)
        assert out.returncode == 2 and out.stderr.startswith(f"error: {field}:"), (text, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1
    assert str(config) in out.stderr  # the delay has no flag: the message names the file to set it in
    config.write_text("[sbatch]\nhold = true\n")  # the default delay shrinks to fit one minute
    out = cli("train", "--preset", "quick", *SHORT, "--backend", "slurm", "--slurm-config", config, "--time", "1",
              "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    script = next((runs_dir / ".slurm").rglob("*submission.sh")).read_text()
    assert "--signal=USR2@15" in script and "exec srun" in script
    assert cli("cancel", run_id, "--runs-dir", runs_dir).returncode == 0


def test_cancelling_a_run_still_pending_in_slurm_removes_its_job(runs_dir, tmp_path):
    config = tmp_path / "slurm.toml"
    config.write_text("time = 10\n[sbatch]\nhold = true\n")  # submitted held: pending until released
    out = cli("train", "--preset", "quick", *SHORT, "--backend", "slurm", "--slurm-config", config,
              "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip()
    job = read_status(runs_dir / run_id)["job_id"]
    assert job in squeue_ids()
    listing = cli("runs", "--runs-dir", runs_dir)
    assert "queued" in listing.stdout  # pending in Slurm reads as queued, not lost
    assert cli("cancel", run_id, "--runs-dir", runs_dir).stdout.strip().endswith("cancelled")
    assert read_status(runs_dir / run_id)["state"] == "cancelled"
    assert wait_for(lambda: job not in squeue_ids(), 30)


def test_a_run_whose_job_slurm_no_longer_has_reads_as_lost(runs_dir):
    from conftest import make_run_folder
    from tui_dropout.store import RunStore

    make_run_folder(runs_dir, "20260101-000000-A-gone", {"state": "queued", "backend": "slurm", "job_id": "999999"})
    (info,) = RunStore(runs_dir).list()
    assert info.state == "lost"


def test_bad_slurm_settings_are_one_line(runs_dir, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'red'\n")
    for args, field in ((["--time", "0"], "time"), (["--slurm-config", bad], "slurm_config"),
                        (["--partition", "nope"], "partition")):
        out = cli("train", "--preset", "quick", *SHORT, "--backend", "slurm", *args, "--runs-dir", runs_dir)
        assert out.returncode == 2 and out.stderr.strip().startswith(f"error: {field}:"), (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) == 1
