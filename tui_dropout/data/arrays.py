"""The decoded form every dataset reader returns: uint8 images (N, C, H, W) and int64 labels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError  # noqa: F401  (readers import it from here too)


@dataclass
class ImageArrays:
    train_x: np.ndarray  # uint8 (N, C, H, W): 32x32 but for the 28x28 MNISTs
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list[str]

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    def fitted(self, size: int | None) -> "ImageArrays":
        """The images zero-padded, centred, to size x size (MNIST's 28x28 into LeNet-5's 32x32, as LeCun et al.
        placed them); as they are when they have that size already, or `size` is None. DataError for larger ones: no silent crop."""
        h, w = self.train_x.shape[2:]
        if size is None or (h, w) == (size, size):
            return self
        if h > size or w > size:
            raise DataError("dataset", f"images are {h}x{w}; the network takes at most {size}x{size}")
        top, left = (size - h) // 2, (size - w) // 2
        pad = ((0, 0), (0, 0), (top, size - h - top), (left, size - w - left))
        return ImageArrays(np.pad(self.train_x, pad), self.train_y, np.pad(self.test_x, pad), self.test_y,
                           self.classes)

    def limited(self, train_limit: int | None) -> "ImageArrays":
        if not train_limit:
            return self
        return ImageArrays(self.train_x[:train_limit], self.train_y[:train_limit], self.test_x, self.test_y,
                           self.classes)

    def save(self, path) -> None:
        np.savez(path, train_x=self.train_x, train_y=self.train_y, test_x=self.test_x, test_y=self.test_y,
                 classes=np.array(self.classes))

    @classmethod
    def load(cls, path) -> "ImageArrays":
        with np.load(path) as z:
            return cls(z["train_x"], z["train_y"], z["test_x"], z["test_y"], [str(c) for c in z["classes"]])
