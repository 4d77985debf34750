"""LeNet-5 as in the seed: shapes, placements, and the two ways of telling training from evaluation."""
import pytest
import torch
import torch.nn as nn

from tui_dropout.config import ConfigError, RunConfig, validate
from tui_dropout.trainer.models import LeNet5


def test_shape_and_layers_follow_the_seed():
    net = LeNet5(3)
    assert net(torch.randn(5, 3, 32, 32)).shape == (5, 10)
    assert [m.out_channels for m in (net.conv1, net.conv2, net.conv3)] == [6, 16, 120]
    assert (net.fc1.in_features, net.fc1.out_features, net.fc2.out_features) == (120, 84, 10)


@pytest.mark.parametrize("placement, conv, fc", [("none", False, False), ("fc", False, True),
                                                 ("conv", True, False), ("all", True, True)])
def test_placement_puts_dropout_where_the_seed_does(placement, conv, fc):
    net = LeNet5(3, placement=placement)
    assert isinstance(net.drop_conv, nn.Dropout2d) == conv
    assert isinstance(net.drop_fc, nn.Dropout) == fc


@pytest.mark.parametrize("placement", ["none", "fc", "conv", "all"])
def test_eval_mode_and_predict_give_the_same_outputs(placement):
    torch.manual_seed(0)
    net = LeNet5(3, placement=placement, p_conv=0.5, p_fc=0.5)
    x = torch.randn(16, 3, 32, 32)
    net.eval()
    assert torch.allclose(net(x), net.predict(x))


def test_training_mode_differs_from_predict_when_dropout_is_on():
    torch.manual_seed(0)
    net = LeNet5(3, placement="all").train()
    x = torch.randn(16, 3, 32, 32)
    assert not torch.allclose(net(x), net.predict(x))


@pytest.mark.parametrize("changes, field", [
    ({"placement": "fc", "fc_kind": "dropout2d"}, "fc_kind"),
    ({"placement": "conv", "conv_kind": "dropout3d"}, "conv_kind"),
    ({"placement": "all", "p_fc": 1.0}, "p_fc"),
])
def test_combinations_that_make_no_sense_are_refused_with_the_reason(changes, field):
    with pytest.raises(ConfigError) as err:
        validate(RunConfig(**changes))
    assert err.value.field == field and err.value.reason


def test_every_offered_kind_builds_and_runs_where_accepted():
    for kind in ("dropout", "dropout2d", "alpha", "feature_alpha"):
        cfg = validate(RunConfig(placement="conv", conv_kind=kind))
        LeNet5.from_config(cfg, 3).train()(torch.randn(2, 3, 32, 32))
    for kind in ("dropout", "alpha"):
        cfg = validate(RunConfig(placement="fc", fc_kind=kind))
        LeNet5.from_config(cfg, 3).train()(torch.randn(2, 3, 32, 32))
