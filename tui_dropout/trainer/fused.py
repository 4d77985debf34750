"""K LeNet-5 networks in one pass over each batch: grouped convolutions, per-member dropout masks and SGD.

The members' parameters are stacked member-major (member k owns rows k*n..(k+1)*n of every tensor),
so one conv with K*6 filters, two grouped convs and two batched matmuls run all networks at once.
Each member keeps its own dropout placement and p (p=0 where it has none), its own momentum
buffers, learning rate and schedule; gradients never mix because the loss is a sum of per-member
losses over disjoint parameters.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..config import RunConfig
from .models import LeNet5
from .steppers import lr_at

PARAM_NAMES = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight", "conv3.bias",
               "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


class FusedLeNet5(torch.nn.Module):
    def __init__(self, members: list[LeNet5], cfgs: list[RunConfig]):
        super().__init__()
        self.k = len(members)
        states = [m.state_dict() for m in members]
        for name in PARAM_NAMES:
            stacked = torch.cat([s[name] for s in states]) if name.startswith("conv") else torch.stack(
                [s[name] for s in states])
            self.register_parameter(name.replace(".", "_"), torch.nn.Parameter(stacked.clone()))
        conv_p = [c.p_conv if c.uses_conv_dropout else 0.0 for c in cfgs]
        fc_p = [c.p_fc if c.uses_fc_dropout else 0.0 for c in cfgs]
        self.channel_conv = any(c.conv_kind == "dropout2d" for c in cfgs if c.uses_conv_dropout)
        self.register_buffer("keep_conv", 1.0 - torch.tensor(conv_p))
        self.register_buffer("keep_fc", 1.0 - torch.tensor(fc_p))
        self.any_conv = any(p > 0 for p in conv_p)
        self.any_fc = any(p > 0 for p in fc_p)

    def _drop_conv(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.any_conv):
            return x
        b, c, h, w = x.shape
        keep = self.keep_conv.repeat_interleave(c // self.k).view(1, c, 1, 1)
        shape = (b, c, 1, 1) if self.channel_conv else (b, c, h, w)
        mask = torch.rand(shape, device=x.device) < keep
        return x * mask / keep

    def _drop_fc(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, K, 84)
        if not (self.training and self.any_fc):
            return x
        keep = self.keep_fc.view(1, self.k, 1)
        return x * (torch.rand(x.shape, device=x.device) < keep) / keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, 32, 32) shared, or (B, K*C, 32, 32) one batch per member -> logits (K, B, classes)."""
        k = self.k
        # x is one batch shared by every member, or each member's own batch stacked on channels (B, K*C, H, W)
        groups = k if x.shape[1] != self.conv1_weight.shape[1] else 1
        x = self.pool(self._drop_conv(F.relu(F.conv2d(x, self.conv1_weight, self.conv1_bias, groups=groups),
                                             inplace=True)))
        x = self.pool(self._drop_conv(F.relu(F.conv2d(x, self.conv2_weight, self.conv2_bias, groups=k),
                                             inplace=True)))
        x = self._drop_conv(F.relu(F.conv2d(x, self.conv3_weight, self.conv3_bias, groups=k), inplace=True))
        x = x.view(x.shape[0], k, -1)  # (B, K, 120)
        x = torch.einsum("bki,koi->bko", x, self.fc1_weight) + self.fc1_bias
        x = self._drop_fc(F.relu(x, inplace=True))
        x = torch.einsum("bki,koi->bko", x, self.fc2_weight) + self.fc2_bias
        return x.transpose(0, 1)

    @staticmethod
    def pool(x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 2, 2)

    def ordered_params(self) -> list[torch.nn.Parameter]:
        return [getattr(self, n.replace(".", "_")) for n in PARAM_NAMES]

    def member_params(self, k: int) -> dict[str, torch.Tensor]:
        return {name: p.detach().view(self.k, *_member_shape(p, self.k))[k].clone()
                for name, p in zip(PARAM_NAMES, self.ordered_params())}


def _member_shape(p: torch.Tensor, k: int) -> tuple[int, ...]:
    if p.shape[0] == k:  # fc tensors are stacked on a new leading axis
        return tuple(p.shape[1:])
    return (p.shape[0] // k, *p.shape[1:])  # conv tensors are concatenated member-major


class FusedStepper:
    """The Stepper for K fused members: one forward/backward, then an SGD step with per-member lr."""

    def __init__(self, cfgs: list[RunConfig], in_channels: int, num_classes: int, device: torch.device):
        members = []
        for cfg in cfgs:  # each member starts from exactly the weights its solo run would have
            torch.manual_seed(cfg.seed)
            members.append(LeNet5.from_config(cfg, in_channels, num_classes))
        self.cfgs = cfgs
        self.members = len(cfgs)
        self.model = FusedLeNet5(members, cfgs).to(device)
        self.params = self.model.ordered_params()
        self.train_forward = torch.compile(self.model) if cfgs[0].compile else self.model
        self.momentum = torch.tensor([c.momentum for c in cfgs], device=device).view(-1, 1)
        self.weight_decay = torch.tensor([c.weight_decay for c in cfgs], device=device).view(-1, 1)
        self.lr = torch.tensor([c.lr for c in cfgs], device=device).view(-1, 1)
        self.buffers: list[torch.Tensor | None] = [None] * len(self.params)
        self.any_decay = any(c.weight_decay for c in cfgs)

    def set_epoch(self, epoch: int) -> list[float]:
        lrs = [lr_at(c, epoch) for c in self.cfgs]
        self.lr.copy_(torch.tensor(lrs).view(-1, 1))
        return lrs

    def train(self) -> None:
        self.model.train()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = self.train_forward(x)  # (K, B, classes)
        k, b, c = logits.shape
        target = y.reshape(-1) if y.dim() == 2 else y.repeat(k)  # (K, B) per-member labels, or shared (B,)
        losses = F.cross_entropy(logits.reshape(k * b, c), target, reduction="none").view(k, b).mean(1)
        for p in self.params:
            p.grad = None
        losses.sum().backward()
        self._sgd()
        return losses.detach()

    @torch.no_grad()
    def _sgd(self) -> None:
        """torch.optim.SGD's update (momentum, no dampening), with lr, momentum and decay per member."""
        k = self.members
        for i, p in enumerate(self.params):
            grad = p.grad.view(k, -1)
            flat = p.view(k, -1)
            if self.any_decay:
                grad = grad + self.weight_decay * flat
            buf = self.buffers[i]
            if buf is None:
                buf = self.buffers[i] = grad.clone()
            else:
                buf.mul_(self.momentum).add_(grad)
            flat.sub_(self.lr * buf)

    def eval_logits(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        return self.model(x)

    def member_state(self, k: int) -> dict[str, Any]:
        """Member k's state in a solo run's format: a LeNet5 state_dict and a torch SGD state_dict."""
        model = self.model.member_params(k)
        cfg = self.cfgs[k]
        state = {}
        for i, p in enumerate(self.params):
            if self.buffers[i] is not None:
                state[i] = {"momentum_buffer": self.buffers[i][k].view(_member_shape(p, self.members)).clone()}
        group = {"lr": float(self.lr[k]), "momentum": cfg.momentum, "dampening": 0,
                 "weight_decay": cfg.weight_decay, "nesterov": False, "maximize": False, "foreach": None,
                 "differentiable": False, "fused": None, "params": list(range(len(self.params)))}
        return {"model": model, "optimizer": {"state": state, "param_groups": [group]}}

    @torch.no_grad()
    def load_member_state(self, k: int, state: dict[str, Any]) -> None:
        n = self.members
        for i, (name, p) in enumerate(zip(PARAM_NAMES, self.params)):
            p.view(n, *_member_shape(p, n))[k].copy_(state["model"][name])
            buf = state["optimizer"]["state"].get(i, state["optimizer"]["state"].get(str(i)))
            if buf is not None:
                if self.buffers[i] is None:
                    self.buffers[i] = torch.zeros_like(p).view(n, -1)
                self.buffers[i][k].copy_(buf["momentum_buffer"].reshape(-1))
