"""A stepper owns the model(s) and optimiser of K runs trained together; this one is a plain solo run (K=1)."""
from __future__ import annotations

from typing import Any, Protocol

import torch
import torch.nn as nn

from ..config import RunConfig
from .dropconnect import raw_weight
from .networks import build


def lr_at(cfg: RunConfig, epoch: int) -> float:
    """StepLR stepped once per epoch: the rate in force during 1-based `epoch`."""
    return cfg.lr * cfg.lr_gamma ** ((epoch - 1) // cfg.lr_step)


def scheduler_state(cfg: RunConfig, epoch: int) -> dict[str, Any]:
    return {"kind": "StepLR", "step_size": cfg.lr_step, "gamma": cfg.lr_gamma, "last_epoch": epoch,
            "base_lr": cfg.lr, "next_lr": lr_at(cfg, epoch + 1)}


@torch.no_grad()
def apply_max_norm(model: nn.Module, c: float) -> None:
    """Each hidden unit's incoming weight vector (a row of a Linear, a filter of a Conv) rescaled to L2 norm at
    most c; the output layer (the last Linear) is left free, as in Srivastava et al. 2014."""
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for layer in layers[:-1]:
        w = raw_weight(layer)  # under DropConnect, the stored weight (not this step's masked one)
        w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=c))


class Stepper(Protocol):
    members: int

    def set_epoch(self, epoch: int) -> list[float]: ...
    def train(self) -> None: ...
    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...  # detached losses, shape (K,)
    def eval_logits(self, x: torch.Tensor) -> torch.Tensor: ...  # (K, B, classes), module in eval()
    def member_state(self, k: int) -> dict[str, Any]: ...
    def member_model(self, k: int) -> nn.Module: ...  # member k as its solo network (trainer/inside.py looks in)
    def load_member_state(self, k: int, state: dict[str, Any]) -> None: ...


class SoloStepper:
    """One network (LeNet-5 unless the config names another) with torch's SGD: the seed's loop, on
    device-resident batches."""

    members = 1

    def __init__(self, cfg: RunConfig, in_channels: int, num_classes: int, device: torch.device):
        self.cfg = cfg
        self.model = build(cfg, in_channels, num_classes).to(device)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.train_forward = torch.compile(self.model) if cfg.compile else self.model
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                         weight_decay=cfg.weight_decay)
        self.criterion = nn.CrossEntropyLoss()

    def set_epoch(self, epoch: int) -> list[float]:
        lr = lr_at(self.cfg, epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return [lr]

    def train(self) -> None:
        self.model.train()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.criterion(self.train_forward(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.cfg.max_norm is not None:
            apply_max_norm(self.model, self.cfg.max_norm)
        return loss.detach().view(1)

    def eval_logits(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        return self.model(x).unsqueeze(0)

    def member_state(self, k: int) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def member_model(self, k: int) -> nn.Module:
        return self.model

    def load_member_state(self, k: int, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
