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
        return {name: member_slice(p.detach(), k, self.k).clone(memory_format=torch.contiguous_format)
                for name, p in zip(PARAM_NAMES, self.ordered_params())}


def _member_shape(p: torch.Tensor, k: int) -> tuple[int, ...]:
    if p.shape[0] == k:  # fc tensors are stacked on a new leading axis
        return tuple(p.shape[1:])
    return (p.shape[0] // k, *p.shape[1:])  # conv tensors are concatenated member-major


def member_slice(p: torch.Tensor, k: int, members: int) -> torch.Tensor:
    """Member k's part of a stacked tensor, as a view in the tensor's own memory layout (channels_last
    weights cannot be viewed flat)."""
    if p.shape[0] == members:
        return p[k]
    rows = p.shape[0] // members
    return p[k * rows:(k + 1) * rows]


def per_member(values: torch.Tensor, p: torch.Tensor, members: int) -> torch.Tensor:
    """A (K,) per-member value shaped to broadcast over a stacked tensor like `p`: row r gets its member's."""
    rows = values if p.shape[0] == members else values.repeat_interleave(p.shape[0] // members)
    return rows.view(-1, *([1] * (p.dim() - 1)))


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
        if cfgs[0].channels_last:  # the images come NHWC (DeviceData): the conv weights must match, as solo
            self.model = self.model.to(memory_format=torch.channels_last)
        self.params = self.model.ordered_params()
        self.train_forward = torch.compile(self.model) if cfgs[0].compile else self.model
        k = len(cfgs)
        momentum = torch.tensor([c.momentum for c in cfgs], device=device)
        decay = torch.tensor([c.weight_decay for c in cfgs], device=device)
        self.momentum = [per_member(momentum, p, k) for p in self.params]
        self.weight_decay = [per_member(decay, p, k) for p in self.params]
        self.lr = torch.tensor([c.lr for c in cfgs], device=device)
        self.lrs = [per_member(self.lr, p, k) for p in self.params]
        self.buffers: list[torch.Tensor] | None = None  # momentum buffers, shaped and laid out as the params
        self.any_decay = any(c.weight_decay for c in cfgs)

    def set_epoch(self, epoch: int) -> list[float]:
        lrs = [lr_at(c, epoch) for c in self.cfgs]
        self.lr.copy_(torch.tensor(lrs))
        self.lrs = [per_member(self.lr, p, self.members) for p in self.params]
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
        """torch.optim.SGD's update (momentum, no dampening), with lr, momentum and decay per member, as a few
        foreach kernels over all parameters rather than a Python loop over them."""
        grads = [p.grad for p in self.params]
        if self.any_decay:
            grads = torch._foreach_add(grads, torch._foreach_mul(self.params, self.weight_decay))
        if self.buffers is None:
            self.buffers = [g.clone() for g in grads]
        else:
            torch._foreach_mul_(self.buffers, self.momentum)
            torch._foreach_add_(self.buffers, grads)
        torch._foreach_sub_(self.params, torch._foreach_mul(self.buffers, self.lrs))

    def eval_logits(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        return self.model(x)

    def member_state(self, k: int) -> dict[str, Any]:
        """Member k's state in a solo run's format: a LeNet5 state_dict and a torch SGD state_dict."""
        model = self.model.member_params(k)
        cfg = self.cfgs[k]
        state = {}
        for i, buf in enumerate(self.buffers or []):
            state[i] = {"momentum_buffer": member_slice(buf, k, self.members).clone(
                memory_format=torch.contiguous_format)}
        group = {"lr": float(self.lr[k]), "momentum": cfg.momentum, "dampening": 0,
                 "weight_decay": cfg.weight_decay, "nesterov": False, "maximize": False, "foreach": None,
                 "differentiable": False, "fused": None, "params": list(range(len(self.params)))}
        return {"model": model, "optimizer": {"state": state, "param_groups": [group]}}

    def member_model(self, k: int) -> torch.nn.Module:
        """Member k as a solo LeNet5 holding a copy of its weights (trainer/inside.py looks into it). Built on the
        meta device and then given storage: no initialisation, so no random number is drawn."""
        with torch.device("meta"):
            net = LeNet5.from_config(self.cfgs[k], self.model.conv1_weight.shape[1], self.model.fc2_weight.shape[1])
        net = net.to_empty(device=self.model.conv1_weight.device)
        net.load_state_dict(self.model.member_params(k))
        return net

    @torch.no_grad()
    def load_member_state(self, k: int, state: dict[str, Any]) -> None:
        n = self.members
        for i, (name, p) in enumerate(zip(PARAM_NAMES, self.params)):
            member_slice(p, k, n).copy_(state["model"][name].reshape(_member_shape(p, n)))
            buf = state["optimizer"]["state"].get(i, state["optimizer"]["state"].get(str(i)))
            if buf is not None:
                if self.buffers is None:
                    self.buffers = [torch.zeros_like(q) for q in self.params]
                member_slice(self.buffers[i], k, n).copy_(buf["momentum_buffer"].reshape(_member_shape(p, n)))
