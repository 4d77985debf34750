"""The max-norm constraint (config `max_norm`): every hidden unit's incoming weights stay within norm c."""
import pytest
import torch

from conftest import cli, tiny_config
from tui_dropout.fusion import fused_pass, fusion_blocker, grouped_blocker
from tui_dropout.launch.plan import group_configs
from tui_dropout.store import RunStore
from tui_dropout.trainer.models import LeNet5
from tui_dropout.trainer.steppers import apply_max_norm

HIDDEN = ("conv1.weight", "conv2.weight", "conv3.weight", "fc1.weight")


def unit_norms(weight: torch.Tensor) -> torch.Tensor:
    return weight.flatten(1).norm(dim=1)


def test_max_norm_caps_each_hidden_unit_and_leaves_the_output_layer_free():
    torch.manual_seed(0)
    model = LeNet5(1)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(50)
    before = {n: unit_norms(p).clone() for n, p in model.named_parameters() if p.dim() > 1}
    apply_max_norm(model, 2.0)
    after = dict(model.named_parameters())
    for name in HIDDEN:
        norms = unit_norms(after[name].detach())
        assert float(norms.max()) <= 2.0 + 1e-4 and float(norms.max()) > 1.9, name
        small = before[name] <= 2.0
        assert torch.allclose(norms[small], before[name][small]), name  # a unit within the ball is untouched
    assert torch.equal(unit_norms(after["fc2.weight"]), before["fc2.weight"])


def test_a_run_with_max_norm_trains_within_it_and_fuses_through_torch_func(runs_dir):
    from tui_dropout.trainer.engine import Trainer

    cfg = tiny_config(placement="fc", p_fc=0.5, max_norm=0.3, lr=0.5, epochs=2)
    run = RunStore(runs_dir).create(cfg.to_dict())
    assert Trainer([run]).run() == ["finished"]
    from tui_dropout.trainer.checkpoints import load

    weights = load(run.checkpoint_path, torch.device("cpu"))["member"]["model"]
    for name in HIDDEN:
        assert float(unit_norms(weights[name]).max()) <= 0.3 + 1e-4, name
    plain = tiny_config(placement="fc", p_fc=0.5, epochs=2)
    assert grouped_blocker([cfg, plain]) == "max_norm"  # the grouped pass has no renorm: torch.func's pass has
    assert fusion_blocker([cfg, plain]) is None and fused_pass([cfg, plain]) == "func"
    assert group_configs([plain, plain, cfg]) == [[0, 1, 2]]


def test_in_a_fused_pass_each_member_keeps_its_own_bound(runs_dir):
    from tui_dropout.trainer.checkpoints import load
    from tui_dropout.trainer.engine import Trainer

    store = RunStore(runs_dir)
    bounded, free = (store.create(tiny_config(placement="fc", p_fc=0.5, lr=0.5, epochs=2, seed=s, **c).to_dict())
                     for s, c in ((1, dict(max_norm=0.3)), (2, {})))
    assert Trainer([bounded, free]).run() == ["finished"] * 2
    for run, within in ((bounded, True), (free, False)):
        weights = load(run.checkpoint_path, torch.device("cpu"))["member"]["model"]
        assert (float(unit_norms(weights["fc1.weight"]).max()) <= 0.3 + 1e-4) == within


@pytest.mark.parametrize("value", ["-1", "0", "inf", "nan", "lots"])
def test_a_bad_max_norm_is_one_line(value, runs_dir):
    out = cli("train", "--preset", "quick", "--set", f"max_norm={value}", "--runs-dir", runs_dir)
    assert out.returncode == 2 and out.stderr.startswith("error: max_norm"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not runs_dir.exists()
