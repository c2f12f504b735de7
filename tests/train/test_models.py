"""The model zoo: torchvision's parameter counts and key layout, and a working forward/backward."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from syslab.common.errors import UserError
from syslab.train.models import (
    MODELS,
    build_model,
    input_shape,
    model_names,
    parameter_bytes,
)

# torchvision's published `num_params` (1000 classes, default input size).
TORCHVISION_COUNTS = {
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "vgg11": 132_863_336,
    "vgg16": 138_357_544,
    "mobilenet_v2": 3_504_872,
    "alexnet": 61_100_840,
    "vit_b_16": 86_567_656,
}


def _meta(name: str, **kwargs: int) -> nn.Module:
    """Built on the meta device: exact shapes, no memory, no initialisation cost."""
    with torch.device("meta"):
        return build_model(name, **kwargs)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(("name", "expected"), sorted(TORCHVISION_COUNTS.items()))
def test_parameter_count_matches_torchvision(name: str, expected: int) -> None:
    model = _meta(name, num_classes=1000, image_size=224)
    assert _count(model) == expected
    assert parameter_bytes(model) == 4 * expected


def test_image_size_changes_only_vit_mlp_and_cnn_counts() -> None:
    for name in ("resnet18", "mobilenet_v2", "vgg11"):
        assert _count(_meta(name, image_size=32)) == TORCHVISION_COUNTS[name]
    assert _count(_meta("vit_b_16", image_size=32)) == 86_567_656 - (197 - 5) * 768
    assert _count(_meta("mlp", image_size=32)) == 10_466_280  # 3072-2048-1024-1024-1000
    assert _count(_meta("mlp", image_size=32, num_classes=10)) == 9_451_530
    # ours, no torchvision twin: conv 896 + conv 18,432 + BN 128 + 4096x256+256 + 256x1000+1000
    assert _count(_meta("cnn", image_size=32)) == 1_325_288
    assert _count(_meta("cnn", image_size=64)) == 1_325_288 + 3 * 4096 * 256


FORWARD_SIZE = {"alexnet": 63}  # AlexNet's minimum; every other model runs at 32x32
# vit_b_16 shares every line of code with vit_tiny and would take ~5 s to build and run.
FORWARD_MODELS = sorted(set(MODELS) - {"vit_b_16"})


@pytest.mark.parametrize("name", FORWARD_MODELS)
def test_forward_and_backward(name: str) -> None:
    torch.manual_seed(0)
    size = FORWARD_SIZE.get(name, 32)
    model = build_model(name, num_classes=10, image_size=size)
    x = torch.randn(2, *input_shape(name, size))
    out = model(x)
    assert out.shape == (2, 10)
    out.square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []
    assert parameter_bytes(model) == 4 * _count(model)


def _names(model: nn.Module) -> list[str]:
    return [n for n, _ in model.named_parameters()]


def test_state_dict_keys_and_order_follow_torchvision() -> None:
    r18 = _meta("resnet18")
    names = _names(r18)
    assert names[:4] == ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight"]
    assert names[-2:] == ["fc.weight", "fc.bias"]
    assert "layer2.0.downsample.0.weight" in names and "layer1.0.downsample.0.weight" not in names
    buffers = [n for n, _ in r18.named_buffers()]
    assert buffers[:3] == ["bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked"]
    assert "layer1.0.downsample.0.weight" in _names(_meta("resnet50"))

    mb = _names(_meta("mobilenet_v2"))
    assert mb[:4] == [
        "features.0.0.weight",
        "features.0.1.weight",
        "features.0.1.bias",
        "features.1.conv.0.0.weight",
    ]
    assert "features.2.conv.3.weight" in mb and "features.18.0.weight" in mb
    assert mb[-2:] == ["classifier.1.weight", "classifier.1.bias"]

    v16 = _names(_meta("vgg16"))
    assert v16[-8:-6] == ["features.28.weight", "features.28.bias"]
    assert v16[-6::2] == ["classifier.0.weight", "classifier.3.weight", "classifier.6.weight"]
    alex = _names(_meta("alexnet", image_size=224))
    assert alex[::2] == [f"features.{i}.weight" for i in (0, 3, 6, 8, 10)] + [
        f"classifier.{i}.weight" for i in (1, 4, 6)
    ]

    vit = _names(_meta("vit_b_16", image_size=224))
    block = "encoder.layers.encoder_layer_0."
    assert vit[:6] == [
        "class_token",
        "conv_proj.weight",
        "conv_proj.bias",
        "encoder.pos_embedding",
        block + "ln_1.weight",
        block + "ln_1.bias",
    ]
    assert vit[6:12] == [
        block + "self_attention.in_proj_weight",
        block + "self_attention.in_proj_bias",
        block + "self_attention.out_proj.weight",
        block + "self_attention.out_proj.bias",
        block + "ln_2.weight",
        block + "ln_2.bias",
    ]
    assert vit[12:16] == [
        block + s for s in ("mlp.0.weight", "mlp.0.bias", "mlp.3.weight", "mlp.3.bias")
    ]
    assert vit[-4:] == [
        "encoder.ln.weight",
        "encoder.ln.bias",
        "heads.head.weight",
        "heads.head.bias",
    ]


def _one_line_user_error(call: object) -> str:
    with pytest.raises(UserError) as info:
        call()  # type: ignore[operator]
    message = str(info.value)
    assert message and "\n" not in message
    return message


def test_unknown_model_is_one_line_with_suggestions() -> None:
    message = _one_line_user_error(lambda: build_model("resnet19"))
    assert "did you mean resnet18" in message
    assert all(name in message for name in model_names())
    _one_line_user_error(lambda: input_shape("bert", 32))


def test_bad_image_sizes_are_user_errors() -> None:
    assert "16" in _one_line_user_error(lambda: build_model("vit_b_16", image_size=40))
    _one_line_user_error(lambda: build_model("vit_tiny", image_size=30))
    assert "63" in _one_line_user_error(lambda: build_model("alexnet", image_size=32))
    assert "32" in _one_line_user_error(lambda: build_model("vgg16", image_size=31))
    _one_line_user_error(lambda: build_model("resnet18", image_size=0))
    _one_line_user_error(lambda: build_model("mlp", num_classes=0))


def test_input_shape_is_an_image_for_every_model() -> None:
    assert {input_shape(name, 32) for name in model_names()} == {(3, 32, 32)}
