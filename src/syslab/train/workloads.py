"""Synthetic training data: random images and labels of a configurable shape.

Data-parallel cost does not depend on what the pixels are, only on their shape: bytes moved
depend on the model alone and compute on model x batch x image size. A seeded generator per
rank gives each rank different samples (as a DistributedSampler would) and reproducible runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from syslab.common.errors import UserError


@dataclass(frozen=True)
class SyntheticImages:
    """Batches of `batch` images of `channels` x `image_size`^2 with labels in [0, classes)."""

    batch: int
    image_size: int = 32
    classes: int = 1000
    channels: int = 3

    def __post_init__(self) -> None:
        for name in ("batch", "image_size", "classes", "channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UserError(f"{name.replace('_', ' ')} must be a positive integer, got {value}")

    def generator(self, seed: int, rank: int = 0) -> torch.Generator:
        """A generator whose stream differs per rank and repeats per (seed, rank)."""
        return torch.Generator().manual_seed(seed * 1_000_003 + rank)

    def batch_of(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One (images, labels) batch drawn from `gen`."""
        shape = (self.batch, self.channels, self.image_size, self.image_size)
        images = torch.randn(shape, generator=gen)
        labels = torch.randint(0, self.classes, (self.batch,), generator=gen)
        return images, labels
