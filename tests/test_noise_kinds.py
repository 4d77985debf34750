"""Gaussian dropout and DropBlock: each one row of the kinds table plus its module; each trains LeNet-5, is
found by the MC-dropout evaluation and shown by the dropout inspector."""
import json

import pytest
import torch

from conftest import cli, tiny_config
from tui_dropout.console.screens.inspector import demonstrate
from tui_dropout.kinds import KINDS
from tui_dropout.store import RunStore
from tui_dropout.trainer.evaluate import dropout_modules, has_dropout
from tui_dropout.trainer.models import LeNet5
from tui_dropout.trainer.noise import DropBlock, GaussianDropout


def test_gaussian_dropout_is_multiplicative_noise_with_the_variance_of_bernoulli_dropout():
    torch.manual_seed(0)
    for p in (0.2, 0.5):
        y = GaussianDropout(p).train()(torch.ones(400_000))
        assert abs(float(y.mean()) - 1.0) < 0.01
        assert abs(float(y.var()) - p / (1 - p)) < 0.02 * (p / (1 - p)) + 0.005
        assert float((y == 0).float().mean()) == 0.0  # noise, not zeroes
    x = torch.randn(64)
    assert torch.equal(GaussianDropout(0.5).eval()(x), x)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        GaussianDropout(1.0)


def test_dropblock_drops_about_p_of_each_map_in_blocks():
    torch.manual_seed(0)
    y = DropBlock(0.3).train()(torch.ones(64, 6, 28, 28))
    zero = (y == 0)
    assert 0.2 < float(zero.float().mean()) < 0.4
    # in blocks: most dropped pixels have a dropped right-hand neighbour (single-unit dropout: about 30%)
    inner = zero[..., :, :-1]
    assert float((inner & zero[..., :, 1:]).sum() / inner.sum()) > 0.6
    x = torch.randn(2, 6, 10, 10)
    assert torch.equal(DropBlock(0.3).eval()(x), x)


@pytest.mark.parametrize("kind", ["gaussian", "dropblock"])
def test_each_new_kind_trains_lenet_and_is_measured_by_mc_dropout(kind, runs_dir):
    from tui_dropout.trainer.engine import Trainer

    cfg = tiny_config(placement="conv" if KINDS[kind].channels else "all", conv_kind=kind,
                      fc_kind="dropout" if KINDS[kind].channels else kind, p_conv=0.3, p_fc=0.3, epochs=2)
    model = LeNet5.from_config(cfg, 1)
    assert has_dropout(model) and any(type(m).__name__ == KINDS[kind].module for m in dropout_modules(model))
    run = RunStore(runs_dir).create(cfg.to_dict())
    assert Trainer([run]).run() == ["finished"]
    out = cli("evaluate", run.run_id, "--mc", "4", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads((run.path / "evaluation.json").read_text())
    assert data["dropout"] is True and data["mc"]["same_as_deterministic"] is False
    assert data["mc"]["passes"] == 4 and 0.0 <= data["mc"]["accuracy"] <= 1.0


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_inspector_demonstrates_every_kind(kind):
    text = demonstrate(kind, 0.5, (1, 2, 4, 4), True, False, 1)
    assert f"{KINDS[kind].module}(p=0.5)" in text and "RuntimeError" not in text
    assert "in training mode" in text
