"""Launching runs: the plan (presets x grid x seeds, launch options), one `start(plan, launcher)` path, and the
launchers behind it, built from options by one table (here in the foreground, local detached processes, the
local GPU queue, Slurm). No torch."""
from __future__ import annotations

from .base import Group, Launched, Launcher, Started, prepare, start, start_groups
from .control import cancel, claim_group, resume_group
from .launchers import LAUNCHERS, launcher_for
from .local import LocalLauncher
from .plan import LaunchOptions, Plan
from .process import Children, TrainerProcess

__all__ = ["Children", "Group", "LAUNCHERS", "LaunchOptions", "Launched", "Launcher", "LocalLauncher", "Plan",
           "Started", "TrainerProcess", "cancel", "claim_group", "launcher_for", "prepare", "resume_group", "start",
           "start_groups"]
