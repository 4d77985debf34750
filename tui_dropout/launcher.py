"""Kept for imports that predate the launch package; see tui_dropout/launch/."""
from .launch.control import cancel, claim_group, resume_group  # noqa: F401
from .launch.process import TrainerProcess  # noqa: F401
