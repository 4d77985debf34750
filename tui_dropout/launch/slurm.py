"""The Slurm launcher (optional extra `slurm`: submitit): each group of runs is one task of a job array.

Settings come from a TOML file ($XDG_CONFIG_HOME/dropout-tui/slurm.toml or --slurm-config), then the command
line. The runs folder must be visible from the nodes: a local filesystem with nodes other than this host is
refused with one line."""
from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..states import State
from ..store import RunStore
from .base import Group, LaunchRefused, Started

LOCAL_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "f2fs", "vfat", "exfat", "ramfs",
                     "zfs", "squashfs"}


@dataclass
class SlurmSettings:
    partition: str | None = None  # Slurm partition (None: the cluster's default)
    time: int = 240  # minutes a job may run; one that reaches it checkpoints and is requeued to resume
    gpus_per_job: int = 0  # GPUs per job (one group of fused runs a job)
    cpus_per_job: int | None = None  # CPUs per job (None: Slurm's default)
    array_parallelism: int = 32  # jobs of one array running at once
    mem_gb: float | None = None  # memory per job in GB (None: Slurm's default)
    account: str | None = None
    qos: str | None = None
    signal_delay_s: int = 90  # seconds before the time limit at which the job is told to checkpoint
    sbatch: dict[str, Any] = field(default_factory=dict)  # any other sbatch option, e.g. {constraint = "a100"}

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> "SlurmSettings":
        """Defaults, then the TOML file (given, or the user's config file when it exists), then `overrides`."""
        import tomllib

        values: dict[str, Any] = {}
        default = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "dropout-tui" / "slurm.toml"
        source = path or (default if default.is_file() else None)
        if source is not None:
            try:
                values = tomllib.loads(Path(source).read_text())
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError("slurm_config", f"{source} cannot be read ({exc})") from None
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError("slurm_config", f"{source} is not valid TOML: {exc}") from None
        known = {f.name: f for f in fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError("slurm_config", f"{source}: unknown setting {key!r} (known: {', '.join(known)})")
        delay_given = "signal_delay_s" in values
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check(delay_given, source or default)
        return settings

    def check(self, delay_given: bool = True, source: Path | None = None) -> None:
        """Every setting, before sbatch sees any: sbatch would take some (a negative CPU count) and refuse others
        in its own words."""
        for name in ("time", "array_parallelism", "signal_delay_s"):
            value = getattr(self, name)
            if not _whole(value) or value <= 0:
                raise ConfigError(name, f"must be a positive whole number, got {value!r}")
        if not _whole(self.gpus_per_job) or self.gpus_per_job < 0:
            raise ConfigError("gpus_per_job", f"must be a whole number >= 0, got {self.gpus_per_job!r}")
        if self.cpus_per_job is not None and (not _whole(self.cpus_per_job) or self.cpus_per_job <= 0):
            raise ConfigError("cpus_per_job", f"must be a positive whole number, got {self.cpus_per_job!r}")
        if self.mem_gb is not None and (isinstance(self.mem_gb, bool) or not isinstance(self.mem_gb, (int, float))
                                        or not math.isfinite(self.mem_gb) or self.mem_gb <= 0):
            raise ConfigError("mem_gb", f"must be a positive number of GB, got {self.mem_gb!r}")
        for name in ("partition", "account", "qos"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not SLURM_NAME.match(value)):
                raise ConfigError(name, f"must be a Slurm name (letters, digits, - _ . ,), got {value!r}")
        if not isinstance(self.sbatch, dict):
            raise ConfigError("sbatch", f"must be a table of sbatch options, got {self.sbatch!r}")
        for key, value in self.sbatch.items():
            if not isinstance(key, str) or not SBATCH_KEY.match(key):
                raise ConfigError("sbatch", f"{key!r} is not an sbatch option name (like constraint or mail-type)")
            if not isinstance(value, (str, int, float, bool)) or (isinstance(value, str) and (
                    not value or any(ord(c) < 32 or ord(c) == 127 for c in value))):
                raise ConfigError("sbatch", f"{key}: must be a word, number or true, got {value!r}")
            if value is False:
                raise ConfigError("sbatch", f"{key}: false is no sbatch option; leave the key out")
        if self.signal_delay_s >= self.time * 60:
            if delay_given:
                raise ConfigError("signal_delay_s", f"{self.signal_delay_s}s is not inside the {self.time}-minute "
                                  f"limit: set a smaller signal_delay_s in {source}, or a longer time")
            self.signal_delay_s = max(1, self.time * 60 // 4)  # the default shrinks to fit a short limit


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


SLURM_NAME = re.compile(r"^[A-Za-z0-9_.,-]+$")
SBATCH_KEY = re.compile(r"^[a-z][a-z0-9_-]*$")


def sbatch_reason(exc: BaseException) -> str:
    """sbatch's own reason for a refusal, in one line: its `sbatch:` lines (not the `Try "sbatch --help"` that
    follows an unknown option), prefixes dropped."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    said = [line.removeprefix("sbatch:").strip().removeprefix("error:").strip() for line in lines
            if line.startswith("sbatch:")]
    reason = "; ".join(dict.fromkeys(x for x in said if x)) or next(
        (line for line in lines if not line.startswith("Try ")), type(exc).__name__)
    return reason[:300]


def filesystem_type(path: Path) -> str:
    """The type of the filesystem `path` lives on, from the longest matching mount point."""
    path = Path(path).resolve()
    best, kind = "", "unknown"
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mount = parts[1].replace("\\040", " ")
                if (str(path) == mount or str(path).startswith(mount.rstrip("/") + "/")) and len(mount) >= len(best):
                    best, kind = mount, parts[2]
    except OSError:
        pass
    return kind


def partition_nodes(partition: str | None) -> set[str]:
    cmd = ["sinfo", "-h", "-N", "-o", "%N"] + (["-p", partition] if partition else [])
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError("partition", f"sinfo did not answer ({exc})") from None
    if out.returncode != 0:
        raise ConfigError("partition", f"sinfo failed: {out.stderr.strip() or out.returncode}")
    nodes = {n.strip() for n in out.stdout.split() if n.strip()}
    if not nodes:
        raise ConfigError("partition", f"no partition {partition} on this cluster (sinfo lists no nodes in it)"
                          if partition else "the cluster has no default partition (sinfo lists no nodes)")
    return nodes


def check_shared(root: Path, partition: str | None) -> None:
    """Refuse a runs folder the nodes cannot see: a local filesystem while the partition has other hosts."""
    here = {socket.gethostname(), socket.gethostname().split(".")[0]}
    others = partition_nodes(partition) - here
    kind = filesystem_type(root)
    if others and kind in LOCAL_FILESYSTEMS:
        raise ConfigError("runs_dir", f"{root.resolve()} is on a local {kind} filesystem of {socket.gethostname()}; "
                          f"nodes {', '.join(sorted(others)[:4])} cannot see it: put the runs folder on a "
                          "filesystem they share (NFS, Lustre, GPFS, BeeGFS, CephFS) and pass --runs-dir")


def batch_exec_executor():
    import submitit
    from submitit.core.utils import JobPaths
    from submitit.slurm.slurm import SlurmJob

    class BatchExecExecutor(submitit.SlurmExecutor):
        """submitit's executor, with the batch shell replaced by srun (`exec srun`): a signal sent to the batch
        step (`scancel --batch --signal=USR2`) then reaches srun, which passes it on to the trainer, instead of
        killing a shell that has no handler for it."""

        def _make_submission_file_text(self, command: str, uid: str) -> str:
            text = super()._make_submission_file_text(command, uid)
            return text.replace("\nsrun ", "\nexec srun ", 1)

        def _internal_process_submissions(self, delayed_submissions):
            """submitit's own array submission, with one change: its array script is written by this class (submitit
            writes it through a plain SlurmExecutor, whose script would not exec srun)."""
            if len(delayed_submissions) == 1:
                return super()._internal_process_submissions(delayed_submissions)
            folder = JobPaths.get_first_id_independent_folder(self.folder)
            folder.mkdir(parents=True, exist_ok=True)
            pickle_paths = []
            for delayed in delayed_submissions:
                pickle_path = folder / f"{uuid.uuid4().hex}.pkl"
                delayed.set_timeout(self.parameters.get("time", 5), self.max_num_timeout)
                delayed.dump(pickle_path)
                pickle_paths.append(pickle_path)
            array = BatchExecExecutor(self.folder, self.max_num_timeout)
            array.update_parameters(**self.parameters)
            array.parameters["map_count"] = len(delayed_submissions)
            self._throttle()
            first = array._submit_command(self._submitit_command_str)
            jobs = [SlurmJob(folder=self.folder, job_id=f"{first.job_id}_{a}", tasks=list(range(first.num_tasks)))
                    for a in range(len(delayed_submissions))]
            for job, pickle_path in zip(jobs, pickle_paths):
                job.paths.move_temporary_file(pickle_path, "submitted_pickle")
            return jobs

    return BatchExecExecutor


class SlurmLauncher:
    name = "slurm"
    groups_runs = True

    def __init__(self, settings: SlurmSettings):
        self.settings = settings

    @classmethod
    def from_options(cls, config: Path | None = None, **overrides: Any) -> "SlurmLauncher":
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise ConfigError("backend", "slurm needs the slurm extra: pip install 'dropout-tui[slurm]' "
                              "(or pip install -e '.[slurm]' in a checkout)") from None
        if not shutil.which("sbatch") or not shutil.which("sinfo"):
            raise ConfigError("backend", "slurm: sbatch/sinfo not found; run this on a Slurm login node")
        return cls(SlurmSettings.load(config, **overrides))

    def start(self, store: RunStore, groups: list[Group], resume: bool = False) -> Started:
        """One job array for the whole launch: refused whole (LaunchRefused) when sbatch says no."""
        from .slurm_job import SlurmTrainer

        s = self.settings
        try:
            check_shared(store.root, s.partition)
        except ConfigError as exc:  # before any job: the launch is refused whole
            raise LaunchRefused(exc.field, exc.reason) from None
        # submitit's files for this launch in a folder of its own: a refused launch removes it whole, and never
        # what a launch beside it is writing
        launch_folder = store.root / ".slurm" / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        launch_folder.mkdir(parents=True)
        executor = batch_exec_executor()(folder=launch_folder.resolve() / "%j", max_num_timeout=1000)
        params: dict[str, Any] = {"time": s.time, "array_parallelism": s.array_parallelism,
                                  "signal_delay_s": s.signal_delay_s, "job_name": "dropout-tui"}
        optional = {"partition": s.partition, "gpus_per_node": s.gpus_per_job or None,
                    "cpus_per_task": s.cpus_per_job, "mem": f"{s.mem_gb}GB" if s.mem_gb else None,
                    "account": s.account, "qos": s.qos}
        params.update({k: v for k, v in optional.items() if v is not None})
        if s.sbatch:
            params["additional_parameters"] = dict(s.sbatch)
        executor.update_parameters(**params)
        fns = [SlurmTrainer([str(r.path.resolve()) for r in g.runs], g.claim, resume=resume) for g in groups]
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit echoes sbatch's whole stderr there
                jobs = executor.submit_array(fns)
        except Exception as exc:  # sbatch's refusal, in one line, and nothing of the launch left behind
            shutil.rmtree(launch_folder, ignore_errors=True)
            raise LaunchRefused("backend", f"sbatch refused the jobs: {sbatch_reason(exc)}") from None
        for group, job in zip(groups, jobs):
            for run in group.runs:
                # Hand the run to Slurm unless its job has started already (a fast node writes `running` and its
                # own pid first): then only the job id is added, and the trainer's state stands.
                if not run.update_status_if(lambda s: s.get("state") == State.QUEUED and s.get("claim") == group.claim
                                            and s.get("pid") == os.getpid(),
                                            backend="slurm", job_id=str(job.job_id), pid=None, pid_start=None,
                                            host=None):
                    run.update_status_if(lambda s: not s.get("job_id"), job_id=str(job.job_id), backend="slurm")
        where = f"partition {s.partition}" if s.partition else "the default partition"
        return Started(f"{len(jobs)} Slurm job(s) on {where}, array {jobs[0].job_id.split('_')[0] if jobs else '-'}")
