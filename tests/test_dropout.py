"""What the seed teaches about torch's dropout layers, checked against torch itself."""
import pytest
import torch
import torch.nn as nn


def test_p_zero_is_identity_in_training():
    x = torch.randn(64, 100)
    assert torch.equal(nn.Dropout(p=0).train()(x), x)


def test_p_one_zeroes_everything():
    x = torch.randn(64, 100)
    assert torch.count_nonzero(nn.Dropout(p=1).train()(x)) == 0


def test_training_scales_kept_units_and_keeps_the_mean():
    torch.manual_seed(0)
    p = 0.3
    x = torch.ones(1000, 1000)
    y = nn.Dropout(p=p).train()(x)
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - p)))
    assert abs(float((y == 0).float().mean()) - p) < 0.01
    assert abs(float(y.mean()) - 1.0) < 0.01


def test_eval_is_identity():
    x = torch.randn(32, 50)
    for layer in (nn.Dropout(0.5), nn.Dropout2d(0.5), nn.AlphaDropout(0.5)):
        assert torch.equal(layer.eval()(x if not isinstance(layer, nn.Dropout2d) else x.view(4, 8, 5, 10)),
                           x if not isinstance(layer, nn.Dropout2d) else x.view(4, 8, 5, 10))


def test_dropout2d_drops_whole_channels():
    torch.manual_seed(0)
    x = torch.ones(8, 16, 5, 5)
    y = nn.Dropout2d(p=0.5).train()(x)
    per_channel = y.view(8, 16, -1)
    zero = (per_channel == 0).all(-1)
    full = (per_channel == 2.0).all(-1)
    assert bool((zero | full).all())  # each channel is all dropped or all kept (scaled by 2)
    assert 0 < int(zero.sum()) < 8 * 16


def test_dropout2d_refuses_inputs_under_two_dimensions():
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        nn.Dropout2d(p=0.5).train()(torch.ones(10))


def test_alpha_dropout_keeps_mean_and_variance_of_selu_normal_input():
    torch.manual_seed(0)
    x = torch.randn(2000, 500)  # zero mean, unit variance: SELU's fixed point
    y = nn.AlphaDropout(p=0.5).train()(x)
    assert abs(float(y.mean())) < 0.02
    assert abs(float(y.std()) - 1.0) < 0.02
    assert float((y == 0).float().mean()) < 0.01  # dropped units go to SELU's negative saturation, not 0
