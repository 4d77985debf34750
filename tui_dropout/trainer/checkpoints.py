"""checkpoint.pt: written atomically, read with torch's weights-only unpickler (a checkpoint never runs code)."""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch

from ..errors import DropoutTuiError
from ..store.files import NOFOLLOW, open_regular


class CheckpointError(DropoutTuiError, RuntimeError):
    """A checkpoint that cannot be used; the message names the file and why."""


def save(path: Path, checkpoint: dict[str, Any]) -> None:
    tmp = path.with_name(f".checkpoint.{os.getpid()}.tmp")
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)  # serialised in memory: a full disk then surfaces as OSError(ENOSPC)
    try:
        tmp.unlink(missing_ok=True)  # a leftover (or a planted link) of that name goes; O_EXCL makes it ours
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o644), "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # a full disk keeps the last good checkpoint and leaves no litter
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load(path: Path, device: torch.device) -> dict[str, Any]:
    """Tensors, numbers, strings and containers only: run folders travel between people, so no pickled code."""
    try:
        with open_regular(path) as f:  # never through a link, never a FIFO
            ckpt = torch.load(f, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing") from None
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # the weights-only unpickler refuses anything but plain data
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} cannot be loaded safely ({first[:300]})") from None
    if not isinstance(ckpt, dict) or not {"epoch", "member", "rng"} <= set(ckpt):
        raise CheckpointError(f"{path} is not a dropout-tui checkpoint")
    return ckpt
