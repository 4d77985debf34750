"""The seed's training loop, transcribed faithfully (DataLoader, ToTensor, Normalize, shuffle), for timing.

Every timed loop here first runs WARMUP_BATCHES untimed (first-call costs: allocator, kernel selection, CUDA
context, the DataLoader's first iterator), as the project's trainer is timed warm: a cold seed loop would
flatter the ratio."""
from __future__ import annotations

import pickle
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision.datasets as datasets
import torchvision.transforms as transforms
from torch.utils.data import DataLoader

WARMUP_BATCHES = 10


class UncheckedCIFAR10(datasets.CIFAR10):
    """torchvision's CIFAR10 reading path, minus the md5 check that rejects files not from the original tarball."""

    def _check_integrity(self) -> bool:
        return True

    def _load_meta(self) -> None:
        with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
            self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


class SeedLeNet5(nn.Module):
    def __init__(self, in_channels, p=0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, kernel_size=5, stride=1, padding=0, bias=True)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5, stride=1, padding=0, bias=True)
        self.conv3 = nn.Conv2d(16, 120, kernel_size=5, stride=1, padding=0, bias=True)
        self.pool = nn.MaxPool2d((2, 2), stride=2)
        self.fc1 = nn.Linear(120, 84, bias=True)
        self.fc2 = nn.Linear(84, 10, bias=True)
        self.dropout2d = nn.Dropout2d(p=p)
        self.dropout = nn.Dropout(p=p)

    def forward(self, inputs):
        a1 = self.dropout2d(F.relu(self.conv1(inputs)))
        z2 = self.pool(a1)
        a3 = self.dropout2d(F.relu(self.conv2(z2)))
        z4 = self.pool(a3)
        a5 = self.dropout2d(F.relu(self.conv3(z4)))
        x = a5.view(-1, 120)
        a6 = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(a6)


def write_cifar_layout(root: Path, train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                       test_y: np.ndarray) -> Path:
    """uint8 (N, 3, 32, 32) arrays -> cifar-10-batches-py pickles, five train batches and one test batch."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    parts = np.array_split(np.arange(len(train_y)), 5)
    for i, idx in enumerate(parts, 1):
        _dump(folder / f"data_batch_{i}", train_x[idx], train_y[idx])
    _dump(folder / "test_batch", test_x, test_y)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    return root


def _dump(path: Path, x: np.ndarray, y: np.ndarray) -> None:
    with open(path, "wb") as f:
        pickle.dump({"data": x.reshape(len(x), -1), "labels": [int(v) for v in y]}, f)


def seed_epoch_seconds(data_root: Path, device: torch.device, p: float = 0.5, batch_size: int = 256,
                       epochs: int = 1) -> float:
    """Seconds for the seed's epoch loop (the body of its `for i in range(epochs)`), per epoch."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    train_data_set = UncheckedCIFAR10(root=str(data_root), train=True, download=False, transform=transform)
    train_loader = DataLoader(train_data_set, batch_size=batch_size, shuffle=True)
    net = SeedLeNet5(3, p=p).to(device)
    criterion = nn.CrossEntropyLoss().to(device)
    optimer = optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
    net.train()
    for i, (data, labels) in enumerate(train_loader):  # warm-up, untimed; the weights it moves do not matter
        if i == WARMUP_BATCHES:
            break
        loss = criterion(net(data.to(device)), labels.to(device))
        optimer.zero_grad()
        loss.backward()
        optimer.step()
        loss.item()
    total = 0.0
    for _ in range(epochs):
        num, total_loss = 0, 0.0
        start = time.time()
        net.train()
        for data, labels in train_loader:
            data, labels = data.to(device), labels.to(device)
            scores = net.forward(data)
            loss = criterion.forward(scores, labels)
            optimer.zero_grad()
            loss.backward()
            optimer.step()
            total_loss += loss.item()
            num += 1
        total += time.time() - start
    return total / epochs


def seed_eval_seconds(data_root: Path, device: torch.device, batch_size: int = 256) -> float:
    """The seed's evaluation every 20 epochs: compute_accuracy over the train and the test loaders."""
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    net = SeedLeNet5(3, p=0.5).to(device).eval()
    with torch.no_grad():  # warm-up, untimed
        warm = DataLoader(UncheckedCIFAR10(root=str(data_root), train=False, download=False, transform=transform),
                          batch_size=batch_size)
        for i, (data, _) in enumerate(warm):
            if i == WARMUP_BATCHES:
                break
            torch.argmax(net(data.to(device)), dim=1).sum().item()
    start = time.time()
    with torch.no_grad():
        for train in (True, False):
            loader = DataLoader(UncheckedCIFAR10(root=str(data_root), train=train, download=False,
                                                 transform=transform), batch_size=batch_size, shuffle=True)
            correct = total = 0
            for data, labels in loader:
                data, labels = data.to(device), labels.to(device)
                predicted = torch.argmax(net(data), dim=1)
                total += labels.size(0)
                correct += (predicted == labels).sum().item()
    return time.time() - start


def compute_epoch_seconds(train_x: torch.Tensor, train_y: torch.Tensor, device: torch.device, p: float = 0.5,
                          batch_size: int = 256, channels_last: bool = False) -> float:
    """The floor: forward, backward and step on ready, normalised tensors already on the device."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    x = (train_x.to(device).float() / 127.5 - 1.0).contiguous(memory_format=layout)
    y = train_y.to(device)
    net = SeedLeNet5(x.shape[1], p=p).to(device).to(memory_format=layout)
    criterion = nn.CrossEntropyLoss()
    opt = optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
    net.train()
    for i in range(0, min(len(y), WARMUP_BATCHES * batch_size), batch_size):  # warm-up, untimed
        loss = criterion(net(x[i:i + batch_size]), y[i:i + batch_size])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for i in range(0, len(y), batch_size):
        loss = criterion(net(x[i:i + batch_size]), y[i:i + batch_size])
        opt.zero_grad()
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start
