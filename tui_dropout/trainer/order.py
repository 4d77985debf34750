"""The data order of K runs trained together: each run's own seeded permutation, so a fused run sees the
batches its solo run would see; runs that share a seed share one permutation (one gather per batch)."""
from __future__ import annotations

import torch


class BatchOrder:
    def __init__(self, seeds: list[int], n: int, device: torch.device):
        self.n = n
        self.device = device
        self.members = len(seeds)
        self.shared = len(set(seeds)) == 1
        self.gens = []
        for seed in seeds[:1] if self.shared else seeds:
            gen = torch.Generator(device=device)
            gen.manual_seed(seed)
            self.gens.append(gen)

    def next_epoch(self) -> torch.Tensor:
        """(n,) when the members share their order, else (K, n): row k is member k's permutation."""
        perms = [torch.randperm(self.n, device=self.device, generator=g) for g in self.gens]
        return perms[0] if self.shared else torch.stack(perms)

    def state(self, k: int) -> torch.Tensor:
        """Member k's generator state, saved in its own checkpoint (a fused member resumes solo in its order)."""
        return self.gens[0 if self.shared else k].get_state()

    def load(self, states: list[torch.Tensor]) -> None:
        for gen, state in zip(self.gens, states[:1] if self.shared else states):
            gen.set_state(state.cpu())

    @staticmethod
    def member(perm: torch.Tensor, k: int) -> torch.Tensor:
        return perm if perm.dim() == 1 else perm[k]

    def merge(self, perms: list[torch.Tensor]) -> torch.Tensor:
        """The epoch's permutation rebuilt from the members' checkpoints (a mid-epoch resume)."""
        return perms[0].to(self.device) if self.shared else torch.stack([p.to(self.device) for p in perms])
