"""DropConnect: one row of the kinds table plus its module; it masks the weights of the layer that computes its
site (fresh each forward, off in eval, on again for MC dropout), trains LeNet-5 and the MLP, and is refused with
one line naming the field where no single layer computes the site."""
import json

import pytest
import torch

from conftest import cli, tiny_config
from tui_dropout.config import ConfigError, validate
from tui_dropout.console.screens.inspector import WEIGHTS_NOTE, demonstrate
from tui_dropout.networks import NETWORKS
from tui_dropout.store import RunStore
from tui_dropout.trainer.dropconnect import CannotApply, DropConnect, raw_weight
from tui_dropout.trainer.evaluate import dropout_modules, has_dropout, mc_mode
from tui_dropout.trainer.networks import build


def _net(network="lenet5", **changes):
    changes.setdefault("placement", "fc" if network == "mlp" else "all")
    if network == "mlp":
        changes.update(hidden_units=64, hidden_layers=2)
    cfg = tiny_config(network=network, conv_kind="dropconnect", fc_kind="dropconnect", p_conv=0.3, p_fc=0.5,
                      **changes)
    torch.manual_seed(0)
    return cfg, build(cfg, 1, 10)


def test_each_weight_is_kept_with_1_minus_p_and_scaled_and_the_mask_is_new_each_call():
    torch.manual_seed(0)
    w = torch.ones(400_000)
    layer = DropConnect(0.3).train()
    a, b = layer(w), layer(w)
    assert abs(float((a == 0).float().mean()) - 0.3) < 0.005
    assert torch.allclose(a[a != 0], torch.full_like(a[a != 0], 1 / 0.7))
    assert abs(float(a.mean()) - 1.0) < 0.01
    assert not torch.equal(a, b)
    assert torch.equal(layer.eval()(w), w)
    assert float(DropConnect(1.0).train()(w).abs().sum()) == 0.0
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        DropConnect(1.5)


def test_on_lenet_it_masks_the_weights_of_the_layer_before_each_site():
    _, model = _net()
    masked = {name.split(".parametrizations")[0] for name, m in model.named_modules() if isinstance(m, DropConnect)}
    assert masked == {"conv1", "conv2", "conv3", "fc1"}  # the layers whose ReLU outputs the conv and fc sites drop
    assert not isinstance(model.drop_conv, DropConnect) and not isinstance(model.drop_fc, DropConnect)
    model.train()
    w = model.fc1.weight  # read through the parametrization: this forward's masked weight
    assert abs(float((w == 0).float().mean()) - 0.5) < 0.1
    assert not torch.equal(model.fc1.weight, model.fc1.weight)  # a fresh mask each read, so each forward
    x = torch.randn(8, 1, 32, 32)
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model.fc1.weight, raw_weight(model.fc1))
    assert torch.equal(model(x), model(x))


def test_eval_is_the_plain_network_and_mc_dropout_turns_the_masks_on():
    cfg, model = _net()
    plain = build(cfg.with_overrides(placement="none"), 1, 10)
    plain.load_state_dict({k.replace("parametrizations.weight.original", "weight"): v
                           for k, v in model.state_dict().items()})
    x = torch.randn(16, 1, 32, 32)
    assert torch.allclose(model.eval()(x), plain.eval()(x))
    assert has_dropout(model) and all(isinstance(m, DropConnect) for m in dropout_modules(model))
    mc_mode(model)
    assert not torch.allclose(model(x), plain(x))


@pytest.mark.parametrize("network", ["lenet5", "mlp"])
def test_it_trains_and_mc_dropout_measures_it(network, runs_dir):
    from tui_dropout.trainer.engine import Trainer

    cfg, _ = _net(network, epochs=2, placement="all" if network == "lenet5" else "fc")
    validate(cfg)
    run = RunStore(runs_dir).create(cfg.to_dict())
    assert Trainer([run]).run() == ["finished"]
    out = cli("evaluate", run.run_id, "--mc", "4", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    data = json.loads((run.path / "evaluation.json").read_text())
    assert data["dropout"] is True and data["mc"]["same_as_deterministic"] is False


def test_where_no_single_layer_computes_the_site_it_is_one_line_naming_the_field(runs_dir):
    with pytest.raises(ConfigError, match="^conv_kind: dropconnect masks the weights .* mlp .* the input pixels"):
        validate(tiny_config(network="mlp", placement="all", conv_kind="dropconnect"))
    with pytest.raises(ConfigError, match="^fc_kind: dropconnect masks the weights .* resnet18"):
        validate(tiny_config(network="resnet18", placement="fc", fc_kind="dropconnect"))
    out = cli("train", "--preset", "quick", "--set", "network=mlp", "--set", "placement=all", "--set",
              "conv_kind=dropconnect", "--runs-dir", runs_dir)
    assert out.returncode == 2 and out.stderr.startswith("error: conv_kind: dropconnect"), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # no run folder


@pytest.mark.parametrize("name", list(NETWORKS))
def test_each_network_row_says_truly_where_a_weight_kind_applies(name):
    row = NETWORKS[name]
    for site, placement in (("conv", "conv"), ("fc", "fc")):
        if placement not in row.placements:
            continue
        kind = dict(conv_kind="dropconnect") if site == "conv" else dict(fc_kind="dropconnect")
        cfg = tiny_config(network=name, placement=placement, hidden_units=16, hidden_layers=1, **kind)
        if site in row.weight_sites:
            validate(cfg)
            model = build(cfg, 3, 10)
            assert any(isinstance(m, DropConnect) for m in model.modules())
        else:
            with pytest.raises(ConfigError):
                validate(cfg)
            with pytest.raises(CannotApply):
                build(cfg, 3, 10)


def test_max_norm_bounds_the_stored_weights_under_dropconnect():
    from tui_dropout.trainer.steppers import apply_max_norm

    _, model = _net()
    with torch.no_grad():
        raw_weight(model.fc1).mul_(100)
    apply_max_norm(model, 0.5)
    assert float(raw_weight(model.fc1).detach().norm(dim=1).max()) <= 0.5 + 1e-4


def test_the_inspector_shows_it_acting_on_a_weight_tensor():
    text = demonstrate("dropconnect", 0.5, (4, 8), True, False, 1)
    assert "DropConnect(p=0.5)" in text and WEIGHTS_NOTE.strip() in text and "zeroed: " in text
    assert "in evaluation mode" in demonstrate("dropconnect", 0.5, (4, 8), False, False, 1)
    # a kind that refuses p itself is one red line, not a crash of the screen
    assert "ValueError" in demonstrate("gaussian", 1.0, (4, 8), True, False, 1)
