"""The whole dataset as uint8 tensors on the training device; batches are slices of an on-device permutation."""
from __future__ import annotations

import torch

from .data import ImageArrays


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float, mean 0.5 and std 0.5 per channel as in the seed: (x/255 - 0.5) / 0.5."""
    return images.float().mul_(1.0 / 127.5).sub_(1.0)


class DeviceData:
    def __init__(self, arrays: ImageArrays, device: torch.device, channels_last: bool = False):
        self.device = device
        layout = torch.channels_last if channels_last else torch.contiguous_format
        self.train_x = torch.from_numpy(arrays.train_x).to(device).contiguous(memory_format=layout)
        self.train_y = torch.from_numpy(arrays.train_y).to(device)
        self.test_x = torch.from_numpy(arrays.test_x).to(device).contiguous(memory_format=layout)
        self.test_y = torch.from_numpy(arrays.test_y).to(device)
        self.channels = arrays.channels
        self.num_classes = max(len(arrays.classes), int(arrays.train_y.max()) + 1)

    @property
    def train_size(self) -> int:
        return int(self.train_x.shape[0])

    def batch(self, perm: torch.Tensor, start: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = perm[start:start + size]
        return normalize(self.train_x[idx]), self.train_y[idx]
