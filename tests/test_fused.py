"""The fused study: members match solo runs, never leak into each other, and resume."""
import threading

import pytest
import torch

from conftest import tiny_config
from tui_dropout.config import RunConfig
from tui_dropout.trainer.engine import Trainer
from tui_dropout.fusion import fusable
from tui_dropout.trainer.fused import FusedLeNet5, FusedStepper
from tui_dropout.trainer.models import LeNet5
from tui_dropout.trainer.steppers import SoloStepper
from tui_dropout.store import RunStore

PLACEMENTS = ("none", "fc", "conv", "all")


def _study(runs_dir, **overrides):
    store = RunStore(runs_dir)
    return [store.create(tiny_config(placement=p, **overrides).to_dict()) for p in PLACEMENTS]


def test_fused_eval_forward_equals_each_solo_network():
    torch.manual_seed(0)
    cfgs = [RunConfig(placement=p) for p in PLACEMENTS]
    nets = [LeNet5.from_config(c, 3) for c in cfgs]
    fused = FusedLeNet5(nets, cfgs).eval()
    x = torch.randn(8, 3, 32, 32)
    out = fused(x)
    for k, net in enumerate(nets):
        assert torch.allclose(out[k], net.eval()(x), atol=1e-5)


def test_per_member_dropout_rates_hold_in_training():
    torch.manual_seed(0)
    cfgs = [RunConfig(placement="none"), RunConfig(placement="fc", p_fc=0.5), RunConfig(placement="conv", p_conv=0.25)]
    fused = FusedLeNet5([LeNet5.from_config(c, 3) for c in cfgs], cfgs).train()
    h = torch.ones(4000, 3, 84)
    dropped = (fused._drop_fc(h) == 0).float().mean(dim=(0, 2))
    assert dropped[0] == 0 and abs(float(dropped[1]) - 0.5) < 0.02 and dropped[2] == 0
    maps = torch.ones(2000, 18, 2, 2)
    zeroed = (fused._drop_conv(maps) == 0).float().view(2000, 3, 6, 4)
    assert zeroed[:, :2].sum() == 0 and abs(float(zeroed[:, 2].mean()) - 0.25) < 0.02
    per_channel = zeroed[:, 2]
    assert bool(((per_channel.sum(-1) == 0) | (per_channel.sum(-1) == 4)).all())  # whole channels (Dropout2d)


def test_gradients_and_updates_never_leak_between_members():
    torch.manual_seed(0)
    cfgs = [RunConfig(placement=p) for p in PLACEMENTS]
    stepper = FusedStepper(cfgs, 3, 10, torch.device("cpu"))
    stepper.set_epoch(1)
    before = [stepper.model.member_params(k) for k in range(4)]
    x = torch.randn(16, 3, 32, 32)
    logits = stepper.model(x)
    logits[1].sum().backward()  # a loss that depends on member 1 alone
    for p in stepper.params:
        g = p.grad.reshape(4, -1)
        assert g[[0, 2, 3]].abs().sum() == 0 and g[1].abs().sum() > 0
    stepper._sgd()
    after = [stepper.model.member_params(k) for k in range(4)]
    for k in (0, 2, 3):
        assert all(torch.equal(before[k][n], after[k][n]) for n in before[k])


def test_a_dropout_free_fused_member_equals_its_solo_run_to_float_rounding_over_the_first_steps():
    """Same weights, same batches, the same update rule: only the order in which grouped and solo kernels add
    differs, so the two part by float rounding (about 1e-7 relative here), not by more."""
    cfgs = [RunConfig(placement="none", seed=0), RunConfig(placement="all", seed=1, lr=0.05)]
    device = torch.device("cpu")
    torch.manual_seed(0)
    solo = SoloStepper(cfgs[0], 3, 10, device)
    fused = FusedStepper(cfgs, 3, 10, device)
    for stepper in (solo, fused):
        stepper.set_epoch(1)
        stepper.train()
    batches = torch.Generator().manual_seed(5)
    for _ in range(20):
        x = torch.randn(32, 3, 32, 32, generator=batches).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (32,), generator=batches)
        solo_loss, fused_loss = solo.step(x, y), fused.step(x, y)
        assert float(fused_loss[0]) == pytest.approx(float(solo_loss[0]), rel=1e-6)
    member = fused.model.member_params(0)
    for name, weight in solo.model.state_dict().items():
        assert float((member[name] - weight).abs().max()) <= 1e-5 * float(weight.abs().max()), name


def test_fused_members_train_apart_each_matching_its_solo_run_over_the_first_epochs(runs_dir):
    solo = RunStore(runs_dir).create(tiny_config(placement="none").to_dict())
    Trainer([solo]).run()
    study = _study(runs_dir)
    assert Trainer(study).run() == ["finished"] * 4
    a, b = solo.read_metrics(), study[0].read_metrics()
    for x, y in zip(a, b):  # three short epochs: rounding has not grown yet (over long runs it does)
        assert x["loss"] == pytest.approx(y["loss"], rel=1e-4)
        assert x["test_acc"] == pytest.approx(y["test_acc"], abs=2e-3)
    # every member has its own folder with its own metrics, and they differ where dropout does
    assert len({round(r.read_metrics()[-1]["loss"], 6) for r in study}) == 4


def fused_and_solo_finals(runs_dir, seeds: int, **settings) -> dict[str, list[tuple[float, float]]]:
    """(final test accuracy, final loss) of `seeds` runs trained fused in one pass, and of the same seeds solo."""
    store = RunStore(runs_dir)
    make = lambda seed: store.create(tiny_config(seed=seed, **settings).to_dict())  # noqa: E731
    fused = [make(seed) for seed in range(seeds)]
    assert Trainer(fused).run() == ["finished"] * seeds
    solo = [make(seed) for seed in range(seeds)]
    for run in solo:
        assert Trainer([run]).run() == ["finished"]
    last = lambda run: (run.read_metrics()[-1]["test_acc"], run.read_metrics()[-1]["loss"])  # noqa: E731
    return {"fused": [last(r) for r in fused], "solo": [last(r) for r in solo]}


def assert_the_same_experiment(finals: dict[str, list[tuple[float, float]]], accuracy_points: float) -> None:
    """Fused and solo runs of the same seeds are samples of one experiment: no difference in mean test accuracy
    or final loss that Welch's t-test finds at 1%, and mean accuracies within `accuracy_points`."""
    from scipy import stats

    for i, what in enumerate(("test accuracy", "final loss")):
        fused, solo = [f[i] for f in finals["fused"]], [s[i] for s in finals["solo"]]
        p = stats.ttest_ind(fused, solo, equal_var=False).pvalue
        assert p > 0.01, f"{what}: fused {sum(fused) / len(fused):.4f} vs solo {sum(solo) / len(solo):.4f}, p={p:.4f}"
        if i == 0:
            assert abs(sum(fused) / len(fused) - sum(solo) / len(solo)) * 100 < accuracy_points


def test_fused_and_solo_runs_are_the_same_experiment_over_seeds(runs_dir):
    """Fused dropout members draw other masks than their solo runs: they are other samples of the same
    experiment, which is what a study's mean±std over seeds needs. Ten seeds of `quick`, eight epochs."""
    finals = fused_and_solo_finals(runs_dir, 10, placement="fc", epochs=8, eval_every=8, train_limit=300,
                                   batch_size=32)
    assert_the_same_experiment(finals, accuracy_points=5.0)


@pytest.mark.slow  # about 15 s each on 2 idle cores: the slow suite (.ci/run) runs it
@pytest.mark.parametrize("placement", ["none", "all"])
def test_fused_and_solo_runs_stay_the_same_experiment_over_longer_training(runs_dir, placement):
    """Long enough that rounding has parted dropout-free members from their solo runs too."""
    finals = fused_and_solo_finals(runs_dir, 16, placement=placement, epochs=25, eval_every=25, train_limit=300,
                                   batch_size=32)
    assert_the_same_experiment(finals, accuracy_points=4.0)


def test_fused_checkpoint_holds_a_solo_format_member_that_a_solo_run_can_load(runs_dir):
    study = _study(runs_dir)
    Trainer(study).run()
    ckpt = torch.load(study[3].checkpoint_path, weights_only=False)
    solo = SoloStepper(RunConfig(**{**study[3].read_config()}), 1, 10, torch.device("cpu"))
    solo.load_member_state(0, ckpt["member"])
    fused_ckpt_params = ckpt["member"]["model"]
    assert torch.equal(solo.model.fc2.weight, fused_ckpt_params["fc2.weight"])
    assert ckpt["group"] == [r.run_id for r in study] and ckpt["index"] == 3


@pytest.mark.slow  # about 30 s on 2 idle cores: the slow suite (.ci/run) runs it
def test_fused_study_resumes_after_a_stop_exactly(runs_dir):
    straight = _study(runs_dir, epochs=3, train_limit=1000, batch_size=16, checkpoint_every=10)
    Trainer(straight).run()
    stopped = _study(runs_dir, epochs=3, train_limit=1000, batch_size=16, checkpoint_every=10)
    stop = threading.Event()
    Trainer(stopped, stop=stop,
            progress=lambda e: stop.set() if e["kind"] == "step" and e["epoch"] == 2 and e["step"] >= 40 else None
            ).run()
    assert [r.read_status()["state"] for r in stopped] == ["cancelled"] * 4
    assert Trainer(stopped, resume=True).run() == ["finished"] * 4
    for a, b in zip(straight, stopped):
        assert [r["loss"] for r in a.read_metrics()] == [r["loss"] for r in b.read_metrics()]


def test_configs_that_cannot_share_a_pass_name_the_field():
    assert fusable([RunConfig(placement=p) for p in PLACEMENTS]) is None
    assert fusable([RunConfig(batch_size=128), RunConfig()]) == "batch_size"
    assert fusable([RunConfig(placement="conv", conv_kind="alpha"), RunConfig()]) == "conv_kind"


@pytest.mark.slow  # long: the slow suite (.ci/run) runs it
def test_each_member_keeps_its_own_learning_rate_schedule_and_momentum(runs_dir):
    store = RunStore(runs_dir)
    settings = [dict(lr=0.02, lr_step=1, lr_gamma=0.5, momentum=0.9), dict(lr=0.005, lr_step=2, lr_gamma=0.1, momentum=0.5)]
    fused = [store.create(tiny_config(placement="none", **s).to_dict()) for s in settings]
    assert Trainer(fused).run() == ["finished"] * 2
    assert [r["lr"] for r in fused[0].read_metrics()] == pytest.approx([0.02, 0.01, 0.005])
    assert [r["lr"] for r in fused[1].read_metrics()] == pytest.approx([0.005, 0.005, 0.0005])
    for s, member in zip(settings, fused):
        solo = store.create(tiny_config(placement="none", **s).to_dict())
        Trainer([solo]).run()
        for a, b in zip(solo.read_metrics(), member.read_metrics()):
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)


def test_fused_members_with_their_own_seeds_train_as_their_solo_runs_in_one_pass(runs_dir):
    """A seed changes the initial weights and the data order, fused or not: each member sees its solo batches."""
    store = RunStore(runs_dir)
    seeds = (0, 1, 2)
    fused = [store.create(tiny_config(placement="none", seed=s, epochs=2).to_dict()) for s in seeds]
    assert Trainer(fused).run() == ["finished"] * 3
    finals = []
    for seed, member in zip(seeds, fused):
        solo = store.create(tiny_config(placement="none", seed=seed, epochs=2).to_dict())
        Trainer([solo]).run()
        for a, b in zip(solo.read_metrics(), member.read_metrics(), strict=True):
            assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        finals.append(member.read_metrics()[-1]["loss"])
    assert len({round(x, 6) for x in finals}) == 3  # the seeds made three different runs


def test_fused_members_with_their_own_seeds_resume_a_mid_epoch_stop_exactly(runs_dir):
    store = RunStore(runs_dir)
    make = lambda: [store.create(tiny_config(placement=p, seed=s, epochs=2, batch_size=16, train_limit=600,
                                             checkpoint_every=10).to_dict()) for p, s in (("all", 3), ("fc", 4))]
    straight = make()
    Trainer(straight).run()
    stopped = make()
    stop = threading.Event()
    Trainer(stopped, stop=stop, progress=lambda e: e["kind"] == "step" and e["epoch"] == 2 and stop.set()).run()
    assert Trainer(stopped, resume=True).run() == ["finished"] * 2
    for a, b in zip(straight, stopped):
        assert [r["loss"] for r in a.read_metrics()] == [r["loss"] for r in b.read_metrics()]
