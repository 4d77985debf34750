"""Every registered network: built from its row for each input it meets (28x28 grey, 32x32 colour), its
dropout where the placement says, refused where it has no site, max-norm and MC dropout working on it, and
runs of it training for real."""
from __future__ import annotations

import pytest

from conftest import cli, tiny_config
from datasets_on_disk import write_idx
from tui_dropout.config import ConfigError, validate
from tui_dropout.fusion import fusable
from tui_dropout.networks import NETWORKS

torch = pytest.importorskip("torch")


def build(name, **changes):
    """The network's config (small MLP layers; the MLP drops its input with plain dropout) and its module."""
    from tui_dropout.trainer.networks import build as build_network

    if name == "mlp":
        changes.setdefault("conv_kind", "dropout")
    cfg = tiny_config(network=name, hidden_units=64, hidden_layers=2, **changes)
    channels = 1 if cfg.dataset in ("mnist", "fashion_mnist", "digits") else 3
    return cfg, build_network(cfg, channels, 10)


def dropout_count(model) -> int:
    from tui_dropout.trainer.kinds import DROPOUT_CLASSES

    return sum(isinstance(m, tuple(DROPOUT_CLASSES.values())) for m in model.modules())


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("dataset, shape", [("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32))])
def test_each_network_takes_each_input_and_puts_dropout_where_the_placement_says(name, dataset, shape):
    from tui_dropout.trainer.networks import input_size

    row = NETWORKS[name]
    sites = {}
    for placement in row.placements:
        cfg, model = build(name, dataset=dataset, placement=placement)
        validate(cfg)
        size = input_size(cfg) or shape[1]
        x = torch.randn(4, shape[0], size, size)
        assert model(x).shape == (4, 10), (name, placement)
        sites[placement] = dropout_count(model)
    assert sites["none"] == 0 and sites["fc"] >= 1 and sites["all"] > sites["fc"]
    if "conv" in row.placements:
        assert sites["conv"] >= 1 and sites["all"] == sites["conv"] + sites["fc"]


def test_a_placement_or_kind_a_network_has_no_site_for_is_one_line_naming_the_field():
    with pytest.raises(ConfigError, match="^placement: mlp has no conv layers"):
        validate(tiny_config(network="mlp", placement="conv"))
    with pytest.raises(ConfigError, match="^conv_kind: dropout2d drops whole channels; mlp drops its input"):
        validate(tiny_config(network="mlp", placement="all", conv_kind="dropout2d"))
    with pytest.raises(ConfigError, match="^network: unknown network 'alexnet'"):
        validate(tiny_config(network="alexnet"))
    with pytest.raises(ConfigError, match="^hidden_units: must be 1 to 65536"):
        validate(tiny_config(network="mlp", hidden_units=0))


def test_runs_of_each_network_fuse_and_different_networks_train_apart_for_the_network():
    for name in NETWORKS:
        assert fusable([tiny_config(network=name, seed=1), tiny_config(network=name, seed=2)]) is None
    assert fusable([tiny_config(network="mlp"), tiny_config(network="vgg")]) == "network"


def test_max_norm_holds_on_every_hidden_layer_of_each_network():
    from tui_dropout.trainer.steppers import apply_max_norm

    for name in NETWORKS:
        _, model = build(name, placement="fc")
        layers = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
        with torch.no_grad():
            for layer in layers:
                layer.weight.mul_(50)
        apply_max_norm(model, 3.0)
        for layer in layers[:-1]:
            norms = layer.weight.flatten(1).norm(dim=1)
            assert norms.max() <= 3.0 + 1e-4, name
        assert layers[-1].weight.flatten(1).norm(dim=1).max() > 3.0  # the output layer is left free


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "vgg", "resnet18"])
def test_each_network_trains_and_evaluates_with_mc_dropout(tmp_path, name):
    import json

    from tui_dropout.store import RunStore
    from tui_dropout.trainer.engine import Trainer

    write_idx(tmp_path / "data", "MNIST", train=64, test=32)
    runs = tmp_path / "runs"
    cfg = tiny_config(network=name, dataset="mnist", data_dir=str(tmp_path / "data"), train_limit=None, epochs=2,
                      placement="all", conv_kind="dropout" if name == "mlp" else "dropout2d",
                      p_conv=0.2, p_fc=0.5, hidden_units=64, hidden_layers=2, batch_size=32, eval_batch_size=32)
    run = RunStore(runs).create(cfg.to_dict())
    assert Trainer([run]).run() == ["finished"]
    assert [r["epoch"] for r in run.read_metrics() if "test_acc" in r] == [1, 2]
    out = cli("evaluate", run.run_id, "--mc", "3", "--runs-dir", runs)
    assert out.returncode == 0, out.stderr
    data = json.loads(run.file("evaluation.json").read_text())
    assert data["dropout"] is True and data["mc"]["passes"] == 3 and data["test_size"] == 32
    assert data["mc"]["nll"] != data["deterministic"]["nll"]  # masks were drawn at test time


def test_the_shipped_presets_are_valid_and_the_new_networks_say_what_they_follow_and_change():
    from pathlib import Path

    from tui_dropout.config import load_preset

    folder = Path(__file__).resolve().parents[1] / "presets"
    for path in sorted(folder.glob("*.toml")):
        cfg = validate(load_preset(path.stem))
        if cfg.network != "lenet5":
            comment = " ".join(line for line in path.read_text().splitlines() if line.startswith("#"))
            assert ("Follows" in comment or "Srivastava" in comment) and "Changes" in comment or "Not a setting" in comment, path
    assert load_preset("mnist-mlp").max_norm == 3.0 and load_preset("mnist-mlp").network == "mlp"
