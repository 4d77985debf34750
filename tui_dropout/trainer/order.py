"""The data order of K runs trained together: each run's own seeded permutation, so a fused run sees the
batches its solo run would see; runs that share a seed share one permutation (one gather per batch).

The permutations come from CPU generators on every device, so a run's data order and its checkpoint do not
depend on where it trains: a checkpoint saved on a GPU resumes on a CPU and back, in the same order."""
from __future__ import annotations

import torch

CPU_STATE_BYTES = torch.Generator().get_state().numel()  # what a CPU (Mersenne Twister) generator's state holds


class BatchOrder:
    def __init__(self, seeds: list[int], n: int, device: torch.device):
        self.n = n
        self.device = device
        self.members = len(seeds)
        self.shared = len(set(seeds)) == 1
        self.seeds = seeds[:1] if self.shared else list(seeds)
        self.gens = []
        for seed in self.seeds:
            gen = torch.Generator()  # CPU always: a device generator's state would tie the checkpoint to it
            gen.manual_seed(seed)
            self.gens.append(gen)

    def next_epoch(self) -> torch.Tensor:
        """(n,) when the members share their order, else (K, n): row k is member k's permutation."""
        perms = [torch.randperm(self.n, device=g.device, generator=g).to(self.device) for g in self.gens]
        return perms[0] if self.shared else torch.stack(perms)

    def state(self, k: int) -> torch.Tensor:
        """Member k's generator state, saved in its own checkpoint (a fused member resumes solo in its order)."""
        return self.gens[0 if self.shared else k].get_state()

    def load(self, states: list[torch.Tensor], epoch: int) -> list[str]:
        """Restore each member's order as of `epoch`; what could not be restored exactly, in words.

        A CPU state restores exactly anywhere. A 16-byte state is a CUDA generator's (seed and offset), from a
        checkpoint written before orders were drawn on the CPU: on a CUDA device it restores exactly in a CUDA
        generator; elsewhere no CPU generator can continue it, so the order is drawn afresh from the seed and
        the epoch (reproducible, but not the order an uninterrupted run would have seen)."""
        notes = []
        for i, state in enumerate(states[:1] if self.shared else states):
            state = state.detach().cpu().to(torch.uint8).contiguous()
            if state.numel() == CPU_STATE_BYTES:
                self.gens[i].set_state(state)
            elif self.device.type == "cuda" and state.numel() == 16:
                gen = torch.Generator(device=self.device)
                gen.set_state(state)
                self.gens[i] = gen
            else:
                self.gens[i].manual_seed(reseed(self.seeds[i], epoch))
                notes.append(f"the data order's saved state ({state.numel()} bytes, from another kind of device) "
                             f"does not fit a {self.gens[i].device.type} generator: from epoch {epoch + 1} the "
                             f"order is drawn from seed {self.seeds[i]} and the epoch")
        return notes

    @staticmethod
    def member(perm: torch.Tensor, k: int) -> torch.Tensor:
        return perm if perm.dim() == 1 else perm[k]

    def merge(self, perms: list[torch.Tensor]) -> torch.Tensor:
        """The epoch's permutation rebuilt from the members' checkpoints (a mid-epoch resume)."""
        return perms[0].to(self.device) if self.shared else torch.stack([p.to(self.device) for p in perms])


def reseed(seed: int, epoch: int) -> int:
    """A generator seed for the order after `epoch`, distinct per (seed, epoch) and the same on every machine."""
    return (seed * 1_000_003 + epoch * 7_919 + 1) % (2**63)
