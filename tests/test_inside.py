"""Inside the networks: per-layer activations, sparsity and weight norms at each evaluation (solo, fused, the MLP,
resumed), inside.json to its contract, and looking never changes what a run trains."""
import json
import threading

import pytest
import torch

from conftest import tiny_config
from tui_dropout.config import RunConfig
from tui_dropout.store import RunStore
from tui_dropout.store.inside import INSIDE, load_inside
from tui_dropout.trainer import engine
from tui_dropout.trainer.engine import Trainer
from tui_dropout.trainer.fused import FusedStepper
from tui_dropout.trainer.inside import BINS, hidden_layers
from tui_dropout.trainer.networks import build

LENET = ["conv1", "conv2", "conv3", "fc1"]
LAYER_KEYS = {"name", "units", "mean", "zero_fraction", "weight_norm", "hist", "unit_mean_hist"}


def _new(runs_dir, **overrides):
    return RunStore(runs_dir).create(tiny_config(**overrides).to_dict())


def layer_values(row, layers):
    return {layer: (row[f"act_mean.{layer}"], row[f"sparsity.{layer}"], row[f"wnorm.{layer}"]) for layer in layers}


def assert_rows_look_inside(run, layers, evaluated):
    rows = run.read_metrics()
    assert [r["epoch"] for r in rows if f"sparsity.{layers[0]}" in r] == evaluated
    for row in rows:
        if row["epoch"] not in evaluated:
            assert not any("." in key for key in row)  # only evaluated epochs look inside
            continue
        assert {key.split(".")[1] for key in row if "." in key} == set(layers)
        for layer, (mean, sparsity, norm) in layer_values(row, layers).items():
            assert 0 < sparsity < 1, layer  # dropout off, ReLU: some units are exactly zero, not all
            assert mean > 0 and norm > 0, layer


def assert_inside_file_keeps_the_contract(run, layers, epoch, shape):
    raw = json.loads(run.file(INSIDE).read_text())
    assert set(raw) == {"epoch", "images", "layers", "filters"} and raw["epoch"] == epoch
    assert [layer["name"] for layer in raw["layers"]] == layers
    images = raw["images"]
    assert images == min(512, 449)  # the first 512 test images: the digits' test set has 449
    for layer in raw["layers"]:
        assert set(layer) == LAYER_KEYS
        for name in ("hist", "unit_mean_hist"):
            hist = layer[name]
            assert set(hist) == {"edges", "counts"} and len(hist["counts"]) == BINS == len(hist["edges"]) - 1
            assert hist["edges"][0] == 0.0 and all(isinstance(c, int) for c in hist["counts"])
        assert sum(layer["hist"]["counts"]) == layer["units"] * images
        assert sum(layer["unit_mean_hist"]["counts"]) == layer["units"]
        assert layer["hist"]["counts"][0] >= layer["zero_fraction"] * layer["units"] * images  # zeros: the 1st bin
    filters = raw["filters"]
    assert filters["shape"] == shape and len(filters["values"]) == shape[0]
    assert all(len(row) == shape[1] * shape[2] * shape[3] for row in filters["values"])
    inside, problem = load_inside(run.path)
    assert problem == "" and inside.epoch == epoch and [layer.name for layer in inside.layers] == layers
    rows = {r["epoch"]: r for r in run.read_metrics()}
    for layer in inside.layers:  # the file and the metric row say the same
        assert (layer.mean, layer.zero_fraction, layer.weight_norm) == layer_values(rows[epoch], [layer.name])[
            layer.name]


def test_a_solo_run_records_every_layer_at_each_evaluation_and_writes_inside_json(runs_dir):
    run = _new(runs_dir, epochs=3, eval_every=2)
    assert Trainer([run]).run() == ["finished"]
    assert_rows_look_inside(run, LENET, [2, 3])
    assert_inside_file_keeps_the_contract(run, LENET, 3, [6, 1, 5, 5])


def test_looking_inside_changes_nothing_the_run_trains(runs_dir, monkeypatch):
    looked = _new(runs_dir, placement="all", epochs=2)
    Trainer([looked]).run()
    monkeypatch.setattr(engine.Trainer, "_look_inside", lambda self, stepper, images, epoch: [None])
    plain = _new(runs_dir, placement="all", epochs=2)
    Trainer([plain]).run()
    assert not plain.file(INSIDE).exists()
    for a, b in zip(looked.read_metrics(), plain.read_metrics()):  # dropout masks and all: bit for bit
        assert (a["loss"], a["train_acc"], a["test_acc"]) == (b["loss"], b["train_acc"], b["test_acc"])


def test_a_fused_study_records_each_member_in_its_own_folder(runs_dir):
    store = RunStore(runs_dir)
    study = [store.create(tiny_config(placement=p, epochs=2).to_dict()) for p in ("none", "fc")]
    solo = _new(runs_dir, placement="none", epochs=2)
    assert Trainer(study).run() == ["finished"] * 2
    Trainer([solo]).run()
    for run in study:
        assert_rows_look_inside(run, LENET, [1, 2])
        assert_inside_file_keeps_the_contract(run, LENET, 2, [6, 1, 5, 5])
    # the dropout-free member measures what its solo run measures (to float rounding: grouped kernels add apart)
    fused_row, solo_row = study[0].read_metrics()[0], solo.read_metrics()[0]
    for layer in LENET:
        for key in ("act_mean", "sparsity", "wnorm"):
            assert fused_row[f"{key}.{layer}"] == pytest.approx(solo_row[f"{key}.{layer}"], rel=1e-3, abs=1e-3)
    assert study[0].read_metrics()[0]["wnorm.conv1"] != study[1].read_metrics()[0]["wnorm.fc1"]


def test_a_fused_member_taken_out_computes_what_the_fused_pass_computes_for_it():
    cfgs = [tiny_config(placement=p).with_overrides(seed=s) for p, s in (("none", 0), ("all", 1), ("fc", 2))]
    stepper = FusedStepper(cfgs, 3, 10, torch.device("cpu"))
    x = torch.randn(5, 3, 32, 32)
    state = torch.get_rng_state()
    fused = stepper.eval_logits(x)
    for k in range(3):
        assert torch.allclose(stepper.member_model(k).eval()(x), fused[k], atol=1e-5)
    assert torch.equal(torch.get_rng_state(), state)  # taking a member out draws no random number


def test_the_mlp_records_its_hidden_layers_and_shows_input_weights_as_images(runs_dir):
    run = _new(runs_dir, network="mlp", hidden_units=32, hidden_layers=2, epochs=2, placement="fc")
    assert Trainer([run]).run() == ["finished"]
    assert_rows_look_inside(run, ["h1", "h2"], [1, 2])
    assert_inside_file_keeps_the_contract(run, ["h1", "h2"], 2, [32, 1, 32, 32])


def test_vgg_and_resnet_name_each_stage():
    x = torch.randn(2, 3, 32, 32)
    for network, names in (("vgg", ["block1", "block2", "block3", "fc1"]),
                           ("resnet18", ["conv1", "layer1", "layer2", "layer3", "layer4"])):
        net = build(RunConfig(network=network, placement="all"), 3, 10)
        layers = hidden_layers(net, network)
        assert [layer.name for layer in layers] == names and all(layer.weights for layer in layers)
        from tui_dropout.trainer.inside import look_inside

        row, doc = look_inside(net, network, x, 1)
        assert set(row) == {f"{key}.{name}" for key in ("act_mean", "sparsity", "wnorm") for name in names}
        assert doc["filters"]["shape"] == [64, 3, 3, 3] and net.training  # left in the mode it was in


def test_a_resumed_run_keeps_looking_inside_and_rewinding_drops_a_later_inside_json(runs_dir):
    run = _new(runs_dir, epochs=3, checkpoint_every=1)
    stop = threading.Event()
    Trainer([run], stop=stop, progress=lambda e: e["kind"] == "epoch" and e["epoch"] == 2 and stop.set()).run()
    assert [r["epoch"] for r in run.read_metrics()] == [1, 2] and load_inside(run.path)[0].epoch == 2
    assert Trainer([run], resume=True).run() == ["finished"]
    assert_rows_look_inside(run, LENET, [1, 2, 3])
    assert load_inside(run.path)[0].epoch == 3
    run.rewind(3)
    assert load_inside(run.path)[0].epoch == 3
    run.rewind(1)  # what a restart from an epoch-1 checkpoint does: inside.json told of a later epoch
    assert not run.file(INSIDE).exists() and [r["epoch"] for r in run.read_metrics()] == [1]
