"""Which runs can train together in one fused pass (pure config logic: no torch, usable by the console)."""
from __future__ import annotations

from .config import RunConfig
from .kinds import KINDS
from .networks import NETWORKS

# Settings fused members must share: one dataset on one device, stepped batch for batch. The seed is not
# among them: each member keeps its own initial weights and data order (trainer/order.py).
SHARED_FIELDS = ("network", "hidden_units", "hidden_layers", "dataset", "data_dir", "train_limit", "batch_size", "epochs", "eval_every", "eval_batch_size",
                 "checkpoint_every", "device", "channels_last", "compile", "deterministic", "tf32")
FUSABLE_CONV_KINDS = tuple(k.name for k in KINDS.values() if k.fuse_conv)
FUSABLE_FC_KINDS = tuple(k.name for k in KINDS.values() if k.fuse_fc)


def fusion_blocker(cfgs: list[RunConfig]) -> str | None:
    """The network, dropout kind (or companion) that keeps these configs from one fused pass, or None."""
    if any(not NETWORKS.get(c.network, NETWORKS["lenet5"]).fused for c in cfgs):
        return "network"  # only LeNet-5 has a grouped fused pass: other networks train one after another
    if any(c.max_norm is not None for c in cfgs):
        return "max_norm"  # the fused step has no per-unit renorm yet: such runs train one by one
    conv_kinds = {c.conv_kind for c in cfgs if c.uses_conv_dropout and c.p_conv > 0}
    fc_kinds = {c.fc_kind for c in cfgs if c.uses_fc_dropout and c.p_fc > 0}
    if len(conv_kinds) > 1 or not conv_kinds <= set(FUSABLE_CONV_KINDS):
        return "conv_kind"
    if len(fc_kinds) > 1 or not fc_kinds <= set(FUSABLE_FC_KINDS):
        return "fc_kind"
    return None


def fusable(cfgs: list[RunConfig]) -> str | None:
    """None when the configs can train in one fused pass, else the first field that keeps them apart."""
    for name in SHARED_FIELDS:
        if len({repr(getattr(c, name)) for c in cfgs}) > 1:
            return name
    return fusion_blocker(cfgs) if len(cfgs) > 1 else None
