"""K runs of any network in one pass over each batch, through torch's own model ensembling: the members' parameters
and buffers stacked (torch.func.stack_module_state), one copy of the module on the meta device called with them
(functional_call) under vmap(grad_and_value(loss), randomness="different"), so every member draws its own masks.

Each member keeps its own dropout rates (trainer/rates.py hands them in as tensors), BatchNorm running statistics
(stacked buffers, updated in place under vmap), max-norm bound, learning rate, momentum and schedule; gradients
never mix. Its checkpoint is a solo run's (the network's state_dict and a torch SGD state_dict), so a fused member
resumes alone and back. LeNet-5 keeps its hand-written grouped pass where that applies (faster: docs/benchmarks.md);
this one serves every network (fusion.fused_pass says which)."""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from ..config import RunConfig
from .networks import build
from .rates import rate_sites, with_rate_sites
from .steppers import lr_at


def _per_member(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A (K,) value shaped to broadcast over a stacked (K, ...) tensor."""
    return values.view(-1, *([1] * (like.dim() - 1)))


class FuncStepper:
    """The Stepper for K members of one network (same placement and kinds) trained in one vmapped pass."""

    def __init__(self, cfgs: list[RunConfig], in_channels: int, num_classes: int, device: torch.device):
        models = []
        for cfg in cfgs:  # each member starts from exactly the weights its solo run would have
            torch.manual_seed(cfg.seed)
            models.append(build(cfg, in_channels, num_classes).to(device))
        self.cfgs, self.members, self.in_channels, self.num_classes = cfgs, len(cfgs), in_channels, num_classes
        first = models[0]
        self.state_keys = list(first.state_dict())  # a solo checkpoint's keys, in its order
        self.param_names = [name for name, _ in first.named_parameters()]  # a solo SGD's parameter order
        params, buffers = stack_module_state(models)
        self.params = {name: params[name].detach() for name in self.param_names}
        self.buffers = {name: t for name, t in buffers.items()}
        rates = [{name: float(m.p) for name, m in rate_sites(model).items()} for model in models]
        with torch.device("meta"):  # the module the members are copies of: structure only, no storage
            self.base = build(cfgs[0], in_channels, num_classes)
        for name in with_rate_sites(self.base):
            site = name[:-len(".p")]
            self.buffers[name] = torch.tensor([r[site] for r in rates], device=device)
        del models
        self.bounded = self._max_norm_weights()
        bounds = [c.max_norm if c.max_norm is not None else float("inf") for c in cfgs]
        self.max_norm = torch.tensor(bounds, device=device) if self.bounded else None
        self.momentum = torch.tensor([c.momentum for c in cfgs], device=device)
        self.decay = torch.tensor([c.weight_decay for c in cfgs], device=device)
        self.any_decay = any(c.weight_decay for c in cfgs)
        self.lr = torch.tensor([c.lr for c in cfgs], device=device)
        plist = list(self.params.values())
        self.momenta = [_per_member(self.momentum, p) for p in plist]
        self.decays = [_per_member(self.decay, p) for p in plist]
        self.moments: list[torch.Tensor] | None = None  # momentum buffers, stacked as the parameters
        self._steps: dict[tuple[int | None, int | None], Callable] = {}
        self._eval = vmap(self._logits, in_dims=(0, 0, None), randomness="different")

    # ----- the functional model ------------------------------------------------------------------------------
    def _logits(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor],
                x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, (params, buffers), (x,))

    def _loss(self, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], x: torch.Tensor,
              y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self._logits(params, buffers, x), y)

    def _step_fn(self, x_dim: int | None, y_dim: int | None) -> Callable:
        key = (x_dim, y_dim)
        if key not in self._steps:
            self._steps[key] = vmap(grad_and_value(self._loss), in_dims=(0, 0, x_dim, y_dim), randomness="different")
        return self._steps[key]

    def _max_norm_weights(self) -> list[str]:
        """The stacked weights max-norm bounds: every Linear and Conv2d but the last (steppers.apply_max_norm)."""
        if all(c.max_norm is None for c in self.cfgs):
            return []
        layers = [name for name, m in self.base.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        names = []
        for layer in layers[:-1]:
            under = f"{layer}.parametrizations.weight.original"  # a weight under DropConnect
            names.append(under if under in self.params else f"{layer}.weight")
        return names

    # ----- the Stepper protocol ------------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> list[float]:
        lrs = [lr_at(c, epoch) for c in self.cfgs]
        self.lr.copy_(torch.tensor(lrs))
        return lrs

    def train(self) -> None:
        self.base.train()

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.dim() == 2:  # each member's own batch, stacked on channels (B, K*C, H, W) by DeviceData: (K, B, C, H, W)
            b = x.shape[0]
            x = x.view(b, self.members, self.in_channels, *x.shape[2:]).transpose(0, 1)
            grads, losses = self._step_fn(0, 0)(self.params, self.buffers, x, y)
        else:
            grads, losses = self._step_fn(None, None)(self.params, self.buffers, x, y)
        self._sgd([grads[name] for name in self.params])
        if self.bounded:
            self._renorm()
        return losses.detach()

    @torch.no_grad()
    def _sgd(self, grads: list[torch.Tensor]) -> None:
        """torch.optim.SGD's update (momentum, no dampening) with lr, momentum and decay per member."""
        params = list(self.params.values())
        if self.any_decay:
            grads = torch._foreach_add(grads, torch._foreach_mul(params, self.decays))
        if self.moments is None:
            self.moments = [g.clone() for g in grads]
        else:
            torch._foreach_mul_(self.moments, self.momenta)
            torch._foreach_add_(self.moments, grads)
        lrs = [_per_member(self.lr, p) for p in params]
        torch._foreach_sub_(params, torch._foreach_mul(self.moments, lrs))

    @torch.no_grad()
    def _renorm(self) -> None:
        """torch.renorm per member and unit: each unit's incoming weights scaled to L2 norm at most its member's c."""
        for name in self.bounded:
            w = self.params[name]
            norms = w.flatten(2).norm(dim=2)  # (K, units)
            c = self.max_norm.view(-1, 1)
            scale = torch.where(norms > c, c / (norms + 1e-7), torch.ones_like(norms))
            w.mul_(scale.view(*scale.shape, *([1] * (w.dim() - 2))))

    def eval_logits(self, x: torch.Tensor) -> torch.Tensor:
        self.base.eval()
        return self._eval(self.params, self.buffers, x)

    def member_state(self, k: int) -> dict[str, Any]:
        """Member k's state in a solo run's format: the network's state_dict and a torch SGD state_dict."""
        model = {name: self._stacked(name)[k].clone() for name in self.state_keys}
        cfg = self.cfgs[k]
        state = {i: {"momentum_buffer": m[k].clone()} for i, m in enumerate(self.moments or [])}
        group = {"lr": float(self.lr[k]), "momentum": cfg.momentum, "dampening": 0,
                 "weight_decay": cfg.weight_decay, "nesterov": False, "maximize": False, "foreach": None,
                 "differentiable": False, "fused": None, "params": list(range(len(self.param_names)))}
        return {"model": model, "optimizer": {"state": state, "param_groups": [group]}}

    def member_model(self, k: int) -> nn.Module:
        """Member k as its solo network holding a copy of its weights and buffers (trainer/inside.py looks into
        it). Built on the meta device and then given storage: no initialisation, so no random number is drawn."""
        with torch.device("meta"):
            net = build(self.cfgs[k], self.in_channels, self.num_classes)
        net = net.to_empty(device=self.lr.device)
        net.load_state_dict(self.member_state(k)["model"])
        return net

    @torch.no_grad()
    def load_member_state(self, k: int, state: dict[str, Any]) -> None:
        for name in self.state_keys:
            self._stacked(name)[k].copy_(state["model"][name])
        saved = state["optimizer"]["state"]
        for i, name in enumerate(self.param_names):
            buf = saved.get(i, saved.get(str(i)))
            if buf is None or buf.get("momentum_buffer") is None:
                continue
            if self.moments is None:
                self.moments = [torch.zeros_like(p) for p in self.params.values()]
            self.moments[i][k].copy_(buf["momentum_buffer"])

    def _stacked(self, name: str) -> torch.Tensor:
        return self.params[name] if name in self.params else self.buffers[name]
