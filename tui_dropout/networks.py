"""The networks, one torch-free row each: where dropout can go (placements), what each rate drops, the input
size, whether runs of it fuse in a hand-written grouped pass (else through torch.func), and which sites a weight kind
(DropConnect) can apply to. Read by config, fusion, the form and the help; trainer/networks.py builds
the module a row names. docs/extending.md ("A network") says how to add one."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    name: str
    title: str
    module: str  # tui_dropout.trainer.<module>, which has from_config(cfg, in_channels, num_classes)
    placements: tuple[str, ...]  # the placements it takes (config.PLACEMENTS minus any it has no site for)
    conv_site: str  # what p_conv / conv_kind drop on it
    fc_site: str  # what p_fc / fc_kind drop on it
    conv_site_is_vector: bool  # the conv rate acts on a plain vector (channel kinds mean nothing there)
    input_size: int | None  # images are padded to size x size (None: taken as they are, flattened)
    grouped: bool  # fused runs train in its hand-written grouped pass (trainer/fused.py); else through torch.func
    about: str
    # the sites ("conv", "fc") whose units one Linear or Conv2d computes (through ReLU, pooling, BatchNorm): a weight
    # kind masks that layer's weights; elsewhere (the input pixels, a residual sum) it is refused
    weight_sites: tuple[str, ...] = ()


ROWS = (
    Network("lenet5", "LeNet-5", "models", ("none", "fc", "conv", "all"), "the maps after each conv ReLU",
            "the fc hidden layer (84 units)", False, 32, True,
            "the seed's network: 3 conv and 2 fc layers, 62k weights", ("conv", "fc")),
    Network("mlp", "MLP", "mlp", ("none", "fc", "all"), "the input pixels", "every hidden layer", True, None, False,
            "Srivastava et al.'s MNIST net: hidden_layers x hidden_units ReLU layers (dropout on the input with "
            "p_conv, on the hidden layers with p_fc)", ("fc",)),
    Network("vgg", "VGG-style", "vgg", ("none", "fc", "conv", "all"), "the output of each of its 3 conv blocks",
            "the classifier's hidden layer (512 units)", False, 32, False,
            "a VGG-style CIFAR net: (2 conv 3x3 + BatchNorm + max-pool) x 3 with 64/128/256 channels, fc 512",
            ("conv", "fc")),
    Network("resnet18", "ResNet-18", "resnet", ("none", "fc", "conv", "all"),
            "the output of each of its 4 residual stages", "the pooled 512 features before the classifier",
            False, 32, False, "torchvision's ResNet-18 adapted to 32x32: a 3x3 stride-1 stem and no max-pool"),
)
NETWORKS: dict[str, Network] = {row.name: row for row in ROWS}
NAMES = tuple(NETWORKS)
