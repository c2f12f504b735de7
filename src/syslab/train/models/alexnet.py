"""AlexNet, laid out as torchvision's `alexnet.py` (the one-tower variant of "One weird trick").

Its stem (11x11 stride 4, then three 3x3 stride-2 max pools) needs at least 63x63 input: at
32x32 the last max pool sees 1x1 and fails, so `build_model` refuses smaller sizes up front.
"""

from __future__ import annotations

import torch
from torch import nn

MIN_IMAGE_SIZE = 63
"""The smallest input whose feature map survives the third 3x3 stride-2 max pool."""


class AlexNet(nn.Module):
    """Five convs, a 6x6 adaptive pool and the 9216-4096-4096-classes classifier."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def alexnet(num_classes: int = 1000) -> AlexNet:
    """AlexNet: 61,100,840 parameters at 1000 classes."""
    return AlexNet(num_classes)
