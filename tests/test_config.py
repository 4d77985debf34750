"""Presets, overrides and validation."""
import pytest

from tui_dropout.config import ConfigError, RunConfig, list_presets, load_preset, validate


def test_seed_presets_carry_the_seed_settings():
    assert {"A", "B", "C", "D", "quick"} <= set(list_presets())
    for name, placement in zip("ABCD", ("none", "fc", "conv", "all")):
        cfg = validate(load_preset(name))
        assert (cfg.dataset, cfg.placement, cfg.epochs, cfg.batch_size) == ("cifar10", placement, 1000, 256)
        assert (cfg.lr, cfg.momentum, cfg.lr_step, cfg.lr_gamma, cfg.eval_every) == (0.01, 0.9, 150, 0.5, 20)
        assert cfg.p_conv == cfg.p_fc == 0.5


def test_overrides_convert_strings_and_p_sets_both_groups():
    cfg = load_preset("A").with_overrides(epochs="50", p="0.3", lr=None)
    assert cfg.epochs == 50 and cfg.p_conv == cfg.p_fc == 0.3 and cfg.lr == 0.01


@pytest.mark.parametrize("changes, field", [
    ({"p_fc": 1.5}, "p_fc"), ({"p_conv": -0.1}, "p_conv"), ({"epochs": 0}, "epochs"),
    ({"batch_size": -4}, "batch_size"), ({"dataset": "mnist"}, "dataset"), ({"placement": "middle"}, "placement"),
    ({"conv_kind": "gaussian"}, "conv_kind"), ({"device": "tpu"}, "device"), ({"lr": 0}, "lr"),
])
def test_bad_values_name_their_field(changes, field):
    with pytest.raises(ConfigError) as err:
        validate(RunConfig(**changes))
    assert err.value.field == field
    assert str(err.value).startswith(field + ":")


def test_unknown_preset_and_field_are_named():
    with pytest.raises(ConfigError, match="unknown preset 'Z'"):
        load_preset("Z")
    with pytest.raises(ConfigError, match="colour"):
        load_preset("A").with_overrides(colour="red")
    with pytest.raises(ConfigError, match="epochs: 'ten' is not a whole number"):
        load_preset("A").with_overrides(epochs="ten")
