"""Launching runs: plan (presets x grid x seeds, fused groups), one `launch` path, and the launchers behind it
(local detached processes, the local GPU queue, Slurm). No torch."""
from __future__ import annotations

from .base import Group, Launched, Launcher, launch, prepare
from .control import cancel, claim_group, resume_group
from .local import LocalLauncher
from .process import TrainerProcess

__all__ = ["Group", "Launched", "Launcher", "LocalLauncher", "TrainerProcess", "cancel", "claim_group", "launch",
           "prepare", "resume_group"]
