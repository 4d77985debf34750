"""The whole dataset as uint8 tensors on the training device; batches are slices of an on-device permutation."""
from __future__ import annotations

import torch

from ..data import ImageArrays


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
        self._layout = layout
        self._u8: torch.Tensor | None = None
        self._f32: torch.Tensor | None = None

    @property
    def train_size(self) -> int:
        return int(self.train_x.shape[0])

    def batch(self, perm: torch.Tensor, start: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch from a shared permutation (n,), or, from per-member permutations (K, n), every member's own
        batch stacked on the channel axis (B, K*C, H, W) with labels (K, B), for one grouped first convolution."""
        if perm.dim() == 2:
            return self._member_batches(perm[:, start:start + size])
        return self._shared_batch(perm, start, size)

    def _member_batches(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, b = idx.shape
        images = self.train_x.index_select(0, idx.reshape(-1))  # (K*B, C, H, W), member-major
        x = images.view(k, b, *images.shape[1:]).transpose(0, 1).reshape(b, -1, *images.shape[2:])
        x = x.contiguous(memory_format=self._layout).float().mul_(1.0 / 127.5).sub_(1.0)
        return x, self.train_y[idx]

    def _shared_batch(self, perm: torch.Tensor, start: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A normalised batch written into buffers reused every step: a fresh multi-MB tensor per step costs
        page faults (5-8% of a CPU epoch). The caller is done with a batch before asking for the next."""
        idx = perm[start:start + size]
        n = len(idx)
        if self._u8 is None or self._u8.shape[0] < n:
            shape = (min(size, self.train_size), *self.train_x.shape[1:])
            self._u8 = torch.empty(shape, dtype=torch.uint8, device=self.device).contiguous(memory_format=self._layout)
            self._f32 = torch.empty(shape, device=self.device).contiguous(memory_format=self._layout)
        torch.index_select(self.train_x, 0, idx, out=self._u8[:n])
        x = self._f32[:n]
        x.copy_(self._u8[:n])
        return x.mul_(1.0 / 127.5).sub_(1.0), self.train_y[idx]
