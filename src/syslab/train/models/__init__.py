"""The training lab's model zoo, in plain torch (torchvision does not import with our torch).

Each family mirrors torchvision's module layout, so parameter counts, state-dict keys and
parameter order (DDP buckets gradients in reverse `parameters()` order) are the ones reported
for the torchvision models. Every model takes the same synthetic (N, 3, H, W) batch, the MLP
included (it flattens inside), so `input_shape` is (3, H, W) for all of them.

| name         | parameters (1000 classes)     | min image size |
|--------------|-------------------------------|----------------|
| alexnet      | 61,100,840                    | 63             |
| cnn          | 1,325,288 (at 32x32)          | 4              |
| mlp          | 10,466,280 (at 32x32)         | 1              |
| mobilenet_v2 | 3,504,872                     | 1              |
| resnet18     | 11,689,512                    | 1              |
| resnet50     | 25,557,032                    | 1              |
| vgg11        | 132,863,336                   | 32             |
| vgg16        | 138,357,544                   | 32             |
| vit_b_16     | 86,567,656 (at 224x224)       | multiple of 16 |
| vit_tiny     | 2,884,648 (at 32x32)          | multiple of 4  |
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import torch
from torch import nn

from syslab.common.errors import UserError
from syslab.train.models import alexnet, cnn, mlp, mobilenet, resnet, vgg, vit

MODELS: dict[str, Callable[..., nn.Module]] = {
    "alexnet": alexnet.alexnet,
    "cnn": cnn.cnn,
    "mlp": mlp.mlp,
    "mobilenet_v2": mobilenet.mobilenet_v2,
    "resnet18": resnet.resnet18,
    "resnet50": resnet.resnet50,
    "vgg11": vgg.vgg11,
    "vgg16": vgg.vgg16,
    "vit_b_16": vit.vit_b_16,
    "vit_tiny": vit.vit_tiny,
}
"""Name -> factory. Every factory takes `num_classes`; those in `_SIZED` also `image_size`."""

_SIZED = frozenset({"cnn", "mlp", "vit_b_16", "vit_tiny"})
"""Models whose parameters depend on the image size (MLP input width, ViT position table)."""

_MIN_IMAGE_SIZE = {
    "alexnet": alexnet.MIN_IMAGE_SIZE,
    "cnn": cnn.MIN_IMAGE_SIZE,
    "vgg11": vgg.MIN_IMAGE_SIZE,
    "vgg16": vgg.MIN_IMAGE_SIZE,
}
"""Smallest input each model's pooling stack survives; 1 where not listed."""


def model_names() -> list[str]:
    """The known model names, sorted (for CLI choices and error messages)."""
    return sorted(MODELS)


def _check_name(name: str) -> None:
    if name in MODELS:
        return
    close = difflib.get_close_matches(name, model_names(), n=3)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise UserError(f"unknown model {name!r}{hint} (known: {', '.join(model_names())})")


def build_model(name: str, *, num_classes: int = 1000, image_size: int = 32) -> nn.Module:
    """A freshly initialised model for square `image_size` inputs; UserError if it cannot be."""
    _check_name(name)
    if num_classes < 1:
        raise UserError(f"num_classes must be at least 1, not {num_classes}")
    minimum = _MIN_IMAGE_SIZE.get(name, 1)
    if image_size < minimum:
        raise UserError(f"{name} needs an image size of at least {minimum}, not {image_size}")
    if name in _SIZED:
        return MODELS[name](num_classes=num_classes, image_size=image_size)
    return MODELS[name](num_classes=num_classes)


def input_shape(name: str, image_size: int) -> tuple[int, int, int]:
    """Per-sample input shape: (3, image_size, image_size) for every model, the MLP included."""
    _check_name(name)
    return (3, image_size, image_size)


def parameter_bytes(model: nn.Module) -> int:
    """Bytes of all parameters (what one full-gradient allreduce moves per rank, as payload)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def model_bytes(name: str, *, num_classes: int = 1000, image_size: int = 32) -> int:
    """`parameter_bytes` of the model called `name`, without allocating it: built on torch's
    meta device (shapes only), so checking a flag or sizing memory for vgg16 is instant.
    Raises UserError like `build_model` for a bad name or size."""
    with torch.device("meta"):
        return parameter_bytes(build_model(name, num_classes=num_classes,
                                           image_size=image_size))


__all__ = ["MODELS", "build_model", "input_shape", "model_bytes", "model_names",
           "parameter_bytes"]
