"""VGG-11 and VGG-16 without batch norm, laid out as torchvision's `vgg.py`.

The classifier's first Linear (25088 x 4096, 411 MB in fp32) dominates: VGG is the zoo's
"few huge gradients" case. The adaptive pool to 7x7 lets 32x32 inputs through (the five max
pools leave 1x1, which the pool replicates); below 32 the fifth max pool has nothing to pool.
"""

from __future__ import annotations

import torch
from torch import nn

MIN_IMAGE_SIZE = 32
"""Five 2x2 max pools need at least 32x32 input."""

# fmt: off
_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [
        64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"
    ],
}
# fmt: on


def _make_features(config: list[int | str]) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 3
    for v in config:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(v, int)
            layers += [nn.Conv2d(in_channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """Conv features, a 7x7 adaptive average pool and the 25088-4096-4096-classes classifier."""

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def vgg11(num_classes: int = 1000) -> VGG:
    """VGG-11 (configuration A): 132,863,336 parameters at 1000 classes."""
    return VGG(_make_features(_CONFIGS["vgg11"]), num_classes)


def vgg16(num_classes: int = 1000) -> VGG:
    """VGG-16 (configuration D): 138,357,544 parameters at 1000 classes."""
    return VGG(_make_features(_CONFIGS["vgg16"]), num_classes)
