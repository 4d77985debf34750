"""The decoded form every dataset reader returns: uint8 images (N, C, H, W) and int64 labels."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError  # noqa: F401  (readers import it from here too)


@dataclass
class ImageArrays:
    train_x: np.ndarray  # uint8 (N, C, 32, 32)
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list[str]

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

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
