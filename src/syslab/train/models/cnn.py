"""A small CNN (two conv blocks, two dense layers): the zoo's "little to communicate" case.

1,325,288 parameters (5.3 MB fp32) at 1000 classes and 32x32: compute dominates its step,
so it shows where data parallelism scales well, and tests can train it in seconds.
The convolutions keep the spatial size; two 2x2 poolings make the dense input 64 x (H/4)^2.
"""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """conv3x3(3->32)-ReLU-pool, conv3x3(32->64)-BN-ReLU-pool, Linear(->256)-ReLU, head."""

    def __init__(self, num_classes: int = 1000, image_size: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64),
            nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        side = image_size // 4
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * side * side, 256), nn.ReLU(inplace=True),
            nn.Linear(256, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


MIN_IMAGE_SIZE = 4  # two 2x2 poolings


def cnn(num_classes: int = 1000, image_size: int = 32) -> SmallCNN:
    """The small CNN for square `image_size` inputs."""
    return SmallCNN(num_classes, image_size)
