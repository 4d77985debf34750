"""The torch-free table of dropout kinds and the torch modules stay one to one."""
import torch.nn as nn

from tui_dropout.config import CONV_KINDS, FC_KINDS, RunConfig, problems
from tui_dropout.kinds import KINDS
from tui_dropout.trainer.kinds import DROPOUT_CLASSES, make_dropout


def test_every_row_has_its_torch_class_and_no_class_lacks_a_row():
    assert set(DROPOUT_CLASSES) == set(KINDS)
    for name, row in KINDS.items():
        cls = DROPOUT_CLASSES[name]
        assert issubclass(cls, nn.Module)
        assert row.module.endswith(cls.__name__)  # "nn.Dropout", or a class of our own
        assert isinstance(make_dropout(name, 0.3), cls)


def test_config_choices_come_from_the_table():
    assert set(CONV_KINDS) == set(KINDS) == set(FC_KINDS)


def test_channel_kinds_are_refused_on_fc():
    for name, row in KINDS.items():
        found = problems(RunConfig(placement="fc", fc_kind=name, p_fc=0.5))
        assert ("fc_kind" in found) == row.channels, name
