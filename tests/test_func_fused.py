"""Every network fuses through torch.func: members match their solo runs where training is deterministic, each
keeps its own rates, BatchNorm statistics and max-norm, checkpoints stay in the solo format, and a mixed study is
grouped into passes with the reason each trainer stands apart."""
import threading

import pytest
import torch

from conftest import cli, tiny_config, write_cifar_batches
from tui_dropout.fusion import fusable, fused_pass, group_lines
from tui_dropout.kinds import KINDS
from tui_dropout.launch.plan import group_configs
from tui_dropout.store import RunStore
from tui_dropout.trainer.engine import Trainer, make_stepper
from tui_dropout.trainer.func_fused import FuncStepper
from tui_dropout.trainer.kinds import make_dropout
from tui_dropout.trainer.rates import FORMS, RateSite
from tui_dropout.trainer.steppers import SoloStepper

MLP = dict(network="mlp", hidden_units=32, hidden_layers=2)


def _vgg(tmp_path, **changes):
    root = write_cifar_batches(tmp_path / "data", per_batch=8)
    return dict(network="vgg", dataset="cifar10", data_dir=str(root), batch_size=8, train_limit=16, **changes)


def _train_pairs(runs_dir, cfgs):
    """The configs trained fused, then each alone: (fused run, solo run) per config."""
    store = RunStore(runs_dir)
    fused = [store.create(c.to_dict()) for c in cfgs]
    assert Trainer(fused).run() == ["finished"] * len(cfgs)
    solo = [store.create(c.to_dict()) for c in cfgs]
    for run in solo:
        assert Trainer([run]).run() == ["finished"]
    return list(zip(fused, solo))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_with_a_tensor_rate_keeps_its_modules_statistics(kind):
    shape = (256, 64, 2, 2, 2) if KINDS[kind].map_dims == 5 else (512, 64, 4, 4) if KINDS[kind].channels else (200_000,)
    x = torch.ones(shape)
    for p in (0.0, 0.3):
        torch.manual_seed(0)
        module = make_dropout(kind, p).train()
        ours = FORMS[kind](module, x, torch.tensor(p))
        if p == 0.0:
            assert torch.equal(ours, x)
            continue
        theirs = module(x)
        for stat in (lambda t: (t == 0).float().mean(), torch.mean, torch.var):
            assert abs(float(stat(ours)) - float(stat(theirs))) < 0.03 * max(1.0, float(stat(theirs))), kind
    site = RateSite(make_dropout(kind, 0.3))
    assert torch.equal(site.eval()(x), x)


def test_under_vmap_each_member_draws_its_own_mask_at_its_own_rate():
    from torch.func import vmap

    x = torch.ones(50_000)
    out = vmap(lambda p: FORMS["dropout"](None, x, p), randomness="different")(torch.tensor([0.0, 0.5, 0.5]))
    dropped = (out == 0).float().mean(1)
    assert float(dropped[0]) == 0.0 and abs(float(dropped[1]) - 0.5) < 0.02 and abs(float(dropped[2]) - 0.5) < 0.02
    assert not torch.equal(out[1], out[2])


def test_every_network_fuses_and_lenet_keeps_its_grouped_pass():
    assert fused_pass([tiny_config(seed=1), tiny_config(seed=2)]) == "grouped"
    for changes in (MLP, dict(network="vgg"), dict(network="resnet18")):
        cfgs = [tiny_config(seed=1, **changes), tiny_config(seed=2, p_fc=0.3, **changes)]
        assert fusable(cfgs) is None and fused_pass(cfgs) == "func"
    kinds = [tiny_config(placement="all", conv_kind=k, fc_kind="gaussian", seed=s) for s, k in ((1, "dropblock"),
                                                                                                 (2, "dropblock"))]
    assert fusable(kinds) is None and fused_pass(kinds) == "func"  # kinds the grouped pass lacks
    assert fusable([tiny_config(**MLP), tiny_config(**MLP, placement="all", conv_kind="dropout")]) == "placement"
    assert fusable([tiny_config(**MLP, compile=True, seed=1), tiny_config(**MLP, compile=True, seed=2)]) == "compile"


def test_a_fused_mlp_study_without_dropout_equals_its_solo_runs(runs_dir):
    cfgs = [tiny_config(placement="none", seed=s, epochs=2, lr=0.05 * s, **MLP) for s in (1, 2, 3)]
    for fused, solo in _train_pairs(runs_dir, cfgs):
        a, b = fused.read_metrics(), solo.read_metrics()
        assert len(a) == len(b) == 2
        for x, y in zip(a, b):
            assert x["loss"] == pytest.approx(y["loss"], rel=1e-5)
            assert x["train_acc"] == pytest.approx(y["train_acc"], abs=1e-6)
            assert x["test_acc"] == pytest.approx(y["test_acc"], abs=1e-6)
            for key in ("sparsity.h1", "act_mean.h2", "wnorm.h1"):  # looked inside each member as its solo network
                assert x[key] == pytest.approx(y[key], rel=1e-4, abs=1e-6), key
        assert (fused.path / "inside.json").is_file()


def test_a_fused_vgg_study_matches_its_solo_runs_and_keeps_batchnorm_statistics_per_member(runs_dir, tmp_path):
    from tui_dropout.trainer.checkpoints import load

    cfgs = [tiny_config(placement="none", seed=s, epochs=2, **_vgg(tmp_path)) for s in (1, 2)]
    pairs = _train_pairs(runs_dir, cfgs)
    for fused, solo in pairs:
        for x, y in zip(fused.read_metrics(), solo.read_metrics()):
            assert x["loss"] == pytest.approx(y["loss"], rel=2e-2)
        a = load(fused.checkpoint_path, torch.device("cpu"))["member"]["model"]
        b = load(solo.checkpoint_path, torch.device("cpu"))["member"]["model"]
        assert list(a) == list(b)  # the solo format, key for key
        mean = "features.0.1.running_mean"
        assert torch.allclose(a[mean], b[mean], rtol=1e-2, atol=1e-3) and float(a[mean].abs().sum()) > 0
        assert int(a["features.0.1.num_batches_tracked"]) == int(b["features.0.1.num_batches_tracked"])
    first, second = (load(f.checkpoint_path, torch.device("cpu"))["member"]["model"] for f, _ in pairs)
    assert not torch.allclose(first["features.0.1.running_mean"], second["features.0.1.running_mean"])


def test_a_fused_member_with_dropout_rates_of_its_own_resumes_alone(runs_dir):
    store = RunStore(runs_dir)
    cfgs = [tiny_config(placement="all", conv_kind="dropout", p_conv=0.2 * s, p_fc=0.25 * s, seed=s, epochs=3,
                        max_norm=2.0 if s == 1 else None, **MLP) for s in (1, 2)]
    runs = [store.create(c.to_dict()) for c in cfgs]
    stop = threading.Event()
    Trainer(runs, stop=stop, progress=lambda e: stop.set() if e["kind"] == "epoch" and e["epoch"] == 2 else None).run()
    assert [r.read_status()["state"] for r in runs] == ["cancelled"] * 2
    for run in runs:  # each member's checkpoint is a solo run's: it resumes alone
        assert Trainer([run], resume=True).run() == ["finished"]
        assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3]


def test_member_state_is_the_solo_format_both_ways():
    cfgs = [tiny_config(placement="fc", fc_kind="dropconnect", seed=s, **MLP) for s in (1, 2)]
    device = torch.device("cpu")
    fused = FuncStepper(cfgs, 1, 10, device)
    fused.set_epoch(1)
    fused.train()
    fused.step(torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,)))
    solo = SoloStepper(cfgs[1], 1, 10, device)
    solo.load_member_state(0, fused.member_state(1))  # torch's own load_state_dict takes both parts
    x = torch.randn(5, 1, 32, 32)
    assert torch.allclose(solo.eval_logits(x)[0], fused.eval_logits(x)[1], atol=1e-6)
    again = FuncStepper(cfgs, 1, 10, device)
    again.load_member_state(0, solo.member_state(0))
    assert torch.allclose(again.eval_logits(x)[0], solo.eval_logits(x)[0], atol=1e-6)
    assert isinstance(make_stepper(cfgs, 1, 10, device), FuncStepper)


def test_a_mixed_study_groups_each_network_and_says_what_trains_apart():
    cfgs = [tiny_config(seed=1), tiny_config(seed=2),
            tiny_config(seed=1, **MLP), tiny_config(seed=2, **MLP),
            tiny_config(seed=1, network="vgg"), tiny_config(seed=2, network="vgg", placement="all")]
    groups = group_configs(cfgs)
    assert groups == [[0, 1], [2, 3], [4], [5]]
    lines = group_lines(cfgs, groups)
    assert lines[0] == "trainer 1: 2 lenet5 runs in one grouped pass"
    assert lines[1] == "trainer 2: 2 mlp runs in one torch.func pass, after the one before: network"
    assert lines[2].endswith("after the one before: network") and lines[3].endswith("after the one before: placement")


def test_the_cli_says_which_trainers_of_a_mixed_study_train_apart_and_why(runs_dir):
    out = cli("study", "quick", "--grid", "network=lenet5,mlp", "--seeds", "2", "--epochs", "1", "--set",
              "hidden_units=16", "--set", "hidden_layers=1", "--set", "train_limit=64", "--runs-dir", runs_dir)
    assert out.returncode == 0, out.stderr
    assert "2 trainers one after another (not one fused pass: network)" in out.stderr
    assert "trainer 1: 2 lenet5 runs in one grouped pass" in out.stderr
    assert "trainer 2: 2 mlp runs in one torch.func pass, after the one before: network" in out.stderr


def test_a_fused_study_stopped_mid_epoch_resumes_fused_to_the_same_losses(runs_dir):
    store = RunStore(runs_dir)
    cfgs = [tiny_config(placement="fc", p_fc=0.2 * s, seed=s, epochs=3, batch_size=8, **MLP) for s in (1, 2)]
    straight = [store.create(c.to_dict()) for c in cfgs]
    assert Trainer(straight).run() == ["finished"] * 2
    stopped = [store.create(c.to_dict()) for c in cfgs]
    stop = threading.Event()
    Trainer(stopped, stop=stop,
            progress=lambda e: stop.set() if e["kind"] == "step" and e["epoch"] == 2 and e["step"] >= 20 else None
            ).run()
    assert [r.read_status()["state"] for r in stopped] == ["cancelled"] * 2
    assert Trainer(stopped, resume=True).run() == ["finished"] * 2
    for a, b in zip(straight, stopped):
        assert [r["loss"] for r in a.read_metrics()] == [r["loss"] for r in b.read_metrics()]
