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
    ({"batch_size": -4}, "batch_size"), ({"dataset": "imagenet"}, "dataset"), ({"placement": "middle"}, "placement"),
    ({"conv_kind": "bernoulli2"}, "conv_kind"), ({"device": "tpu"}, "device"), ({"lr": 0}, "lr"),
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


BROKEN_PRESETS = {  # file name: (content, what the one line says)
    "latin.toml": (b'epochs = 3\ndescription = "caf\xe9"\n', "is not UTF-8 text"),
    "dev.toml": (b"device = 5\n", "device must be text, got 5"),
    "mom.toml": (b"momentum = [1, 2]\n", "momentum must be a number, got [1, 2]"),
    "empty.toml": (b'momentum = ""\n', "momentum needs a value"),
    "toml.toml": (b"epochs = \n", "is not valid TOML"),
    "unknown.toml": (b"colour = 1\n", "unknown setting 'colour'"),
}


def write_broken_presets(folder):
    folder.mkdir(exist_ok=True)
    for name, (content, _) in BROKEN_PRESETS.items():
        (folder / name).write_bytes(content)
    (folder / "x.toml").mkdir()  # a folder with a preset's name
    (folder / "good.toml").write_text('dataset = "digits"\nepochs = 2\n')
    return folder


def test_a_broken_preset_is_one_config_error_naming_its_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TUI_DROPOUT_PRESETS", str(write_broken_presets(tmp_path / "presets")))
    assert "x" not in list_presets() and load_preset("good").epochs == 2
    for name, (_, reason) in BROKEN_PRESETS.items():
        with pytest.raises(ConfigError) as err:
            load_preset(name.removesuffix(".toml"))
        assert err.value.field == "preset" and reason in str(err.value) and name in str(err.value)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="x.toml is a folder, not a preset file"):
        load_preset("x")
