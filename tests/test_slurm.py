"""Slurm for real: a single-node cluster (Debian's slurm-wlm + munge; .ci/slurm-up.sh starts it). Skips, saying
why, where no cluster answers. Runs are submitted with submitit as job arrays from the CLI."""
import json
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
pytestmark = [pytest.mark.slow, pytest.mark.skipif(PROBLEM is not None, reason=str(PROBLEM))]
SHORT = ["--epochs", "2", "--set", "train_limit=200", "--set", "eval_every=1", "--device", "cpu"]
LONG = ["--epochs", "300", "--set", "train_limit=300", "--batch-size", "32", "--device", "cpu"]


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
    assert wait_for(lambda: job_state(job) == "PENDING", 60)
    # slurmd refuses a job credential issued in the same second as the one the requeue revoked ("Job credential
    # revoked": the job then fails and never runs); Slurm's own requeue delay avoids that, and so does this wait
    requeued = read_status(path)["requeued"]
    assert wait_for(lambda: time.time() > requeued + 2, 10)
    subprocess.run(["scontrol", "update", f"jobid={job}", "StartTime=now"], check=True)  # skip Slurm's requeue delay
    assert wait_for(lambda: "resumed after epoch" in (path / "train.log").read_text(), 180)
    done = len(metric_epochs(path))
    assert wait_for(lambda: len(metric_epochs(path)) >= done + 1, 120)
    cancelled = cli("cancel", run_id, "--runs-dir", runs_dir)
    assert cancelled.returncode == 0
    assert wait_for(lambda: read_status(path).get("state") == "cancelled", 60)
    assert wait_for(lambda: job not in squeue_ids(), 60)
    epochs = metric_epochs(path)
    assert epochs == list(range(1, len(epochs) + 1))


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
