"""A plain MLP on flattened images: the zoo's "few big dense layers, no convolutions" case.

It takes the same (N, 3, H, W) batches as every other model and flattens them itself, so one
synthetic input fits the whole zoo. The default `mlp` is 3072-2048-1024-1024-classes with ReLU:
at 1000 classes and 32x32 that is 10,466,280 parameters, 41.9 MB in fp32 (four Linear layers
of 25.2, 8.4, 4.2 and 4.1 MB: a mix of bucket-filling and small gradients); 9,451,530 at 10
classes. The first layer's width depends on `image_size` (3 * image_size**2 inputs).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

DEFAULT_HIDDEN = (2048, 1024, 1024)
"""Hidden widths of the default `mlp`: about 42 MB of fp32 parameters at 1000 classes."""


class MLP(nn.Module):
    """Flatten, then Linear+ReLU per hidden width, then a Linear head."""

    def __init__(
        self, in_features: int, hidden: Sequence[int] = DEFAULT_HIDDEN, num_classes: int = 1000
    ) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.flatten(x)))


def mlp(
    num_classes: int = 1000, image_size: int = 32, hidden: Sequence[int] = DEFAULT_HIDDEN
) -> MLP:
    """The default MLP on 3 x image_size x image_size inputs (10,466,280 parameters at 32, 1000)."""
    return MLP(3 * image_size * image_size, hidden, num_classes)
