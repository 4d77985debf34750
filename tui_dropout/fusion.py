"""Which runs can train together in one fused pass (pure config logic: no torch, usable by the console)."""
from __future__ import annotations

from .config import RunConfig
from .kinds import KINDS
from .networks import NETWORKS

# Settings fused members must share: one network, one dataset on one device, stepped batch for batch. The seed
# is not among them: each member keeps its own initial weights and data order (trainer/order.py).
SHARED_FIELDS = ("network", "hidden_units", "hidden_layers", "dataset", "data_dir", "train_limit", "batch_size",
                 "epochs", "eval_every", "eval_batch_size", "checkpoint_every", "device", "channels_last", "compile",
                 "deterministic", "tf32")
FUSABLE_CONV_KINDS = tuple(k.name for k in KINDS.values() if k.fuse_conv)
FUSABLE_FC_KINDS = tuple(k.name for k in KINDS.values() if k.fuse_fc)


def grouped_blocker(cfgs: list[RunConfig]) -> str | None:
    """What keeps these configs from the hand-written grouped pass (trainer/fused.py), or None."""
    if any(not NETWORKS.get(c.network, NETWORKS["lenet5"]).grouped for c in cfgs):
        return "network"  # only LeNet-5 has a grouped fused pass
    if any(c.max_norm is not None for c in cfgs):
        return "max_norm"  # the grouped step has no per-unit renorm
    conv_kinds = {c.conv_kind for c in cfgs if c.uses_conv_dropout and c.p_conv > 0}
    fc_kinds = {c.fc_kind for c in cfgs if c.uses_fc_dropout and c.p_fc > 0}
    if len(conv_kinds) > 1 or not conv_kinds <= set(FUSABLE_CONV_KINDS):
        return "conv_kind"
    if len(fc_kinds) > 1 or not fc_kinds <= set(FUSABLE_FC_KINDS):
        return "fc_kind"
    return None


def func_blocker(cfgs: list[RunConfig]) -> str | None:
    """What keeps these configs (one network) from one torch.func pass (trainer/func_fused.py), or None. Its members
    share the module they are copies of: the same placement and kinds; rates, max-norm and SGD settings are each
    member's own."""
    if any(c.compile for c in cfgs):
        return "compile"  # torch.compile of a vmapped step is not done: compiled runs train one by one
    if len({c.placement for c in cfgs}) > 1:
        return "placement"
    if len({c.conv_kind for c in cfgs if c.uses_conv_dropout}) > 1:
        return "conv_kind"
    if len({c.fc_kind for c in cfgs if c.uses_fc_dropout}) > 1:
        return "fc_kind"
    return None


def fused_pass(cfgs: list[RunConfig]) -> str:
    """Which pass trains these fusable configs: "grouped" (LeNet-5's hand-written one, the faster where it applies,
    docs/benchmarks.md) or "func" (torch.func ensembling, any network)."""
    return "grouped" if grouped_blocker(cfgs) is None else "func"


def fusion_blocker(cfgs: list[RunConfig]) -> str | None:
    """The network, dropout kind (or companion) that keeps these configs from one fused pass, or None. Where the
    grouped pass is the network's own, its reason is given (the one the configs miss it by); else torch.func's."""
    grouped = grouped_blocker(cfgs)
    if grouped is None:
        return None
    func = func_blocker(cfgs)
    if func is None:
        return None
    return func if grouped == "network" else grouped


def fusable(cfgs: list[RunConfig]) -> str | None:
    """None when the configs can train in one fused pass, else the first field that keeps them apart."""
    for name in SHARED_FIELDS:
        if len({repr(getattr(c, name)) for c in cfgs}) > 1:
            return name
    return fusion_blocker(cfgs) if len(cfgs) > 1 else None


def group_lines(cfgs: list[RunConfig], groups: list[list[int]]) -> list[str]:
    """One line per trainer of a launch: its runs and pass, and for each after the first, why it could not join
    the trainer before it (so a mixed study says what trains one after another, and why)."""
    lines = []
    for n, group in enumerate(groups):
        members = [cfgs[i] for i in group]
        network = members[0].network
        if len(group) > 1:
            kind = "grouped" if fused_pass(members) == "grouped" else "torch.func"
            what = f"{len(group)} {network} runs in one {kind} pass"
        else:
            what = f"1 {network} run" + (f" alone ({fusion_blocker(members)})" if fusion_blocker(members) else "")
        if n:
            why = fusable([cfgs[groups[n - 1][0]], members[0]]) or "at most --max-fused runs a trainer"
            what += f", after the one before: {why}"
        lines.append(f"trainer {n + 1}: {what}")
    return lines
