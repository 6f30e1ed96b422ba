"""``torch.resnet``: ResNet-50 trained on seeded random images, in PyTorch.

The model is torchvision's ``resnet50(weights=None)`` where torchvision imports; where it does
not (a CPU-only torch with no matching torchvision wheel), ``resnet50_like_torchvision`` builds
the same architecture with the same initialisation (the record's ``metrics.model_source`` says
which; a test checks the two agree where torchvision is present). That is ResNet "v1.5": the
down-sampling stride on each stage's first 3×3 convolution, convolutions without biases,
25,557,032 parameters at 1000 classes. ``keras.resnet`` (Keras' ``applications.ResNet50``) is
"v1": the stride on the first 1×1 convolution and a bias on every convolution (25,583,592
trainable parameters at 1000 classes), so the two differ in FLOPs (v1.5 costs more) and
parameters; ``model_flops`` counts each.

Phases ``forward`` (model + cross-entropy), ``backward``, ``update`` (SGD, momentum 0.9).
Items = images per step. Metrics as ``torch.gpt``: ``parameters``, ``flops_per_step``
(analytic, ``model_flops.resnet50_train_flops_per_step``), ``flops_counter``
(FlopCounterMode over one forward and backward in set-up); MFU is stamped by the harness.
"""

from __future__ import annotations

from typing import Any

from harness.params import Param
from workloads import model_flops
from workloads.torch_common import (
    COMPILE_PARAM,
    TF32_PARAM,
    TorchModelStep,
    configure_torch,
)

MODEL = "resnet50"

RESNET_PARAMS = (
    Param("image_size", "int", 32, "image height and width (Keras needs 32 or more)", minimum=32),
    Param("batch_size", "int", 4, "images per step", minimum=1),
    Param("classes", "int", 10, "output classes", minimum=2),
    Param("lr", "float", 0.01, "SGD learning rate (momentum 0.9)", minimum=0),
    Param(
        "dtype",
        "str",
        "float32",
        "float32, or bfloat16 autocast (CPU and CUDA)",
        choices=("float32", "bfloat16"),
    ),
    Param("channels_last", "bool", False, "channels_last memory format (NHWC)"),
)


def resnet50_like_torchvision(torch: Any, classes: int) -> Any:
    """torchvision's ResNet-50 (``torchvision.models.resnet.ResNet`` with ``Bottleneck``
    blocks [3, 4, 6, 3]), its module layout and initialisation: Kaiming-normal (fan-out, ReLU)
    convolutions, BatchNorm scale 1 and shift 0, PyTorch's default Linear init."""
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, inplanes: int, planes: int, stride: int, downsample: Any) -> None:
            super().__init__()
            width = planes * model_flops.EXPANSION
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, width, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x: Any) -> Any:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            return self.relu(self.bn3(self.conv3(out)) + identity)

    class ResNet50(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            inplanes = 64
            for index, (planes, blocks, stride) in enumerate(model_flops.STAGES, start=1):
                width = planes * model_flops.EXPANSION
                downsample = nn.Sequential(
                    nn.Conv2d(inplanes, width, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(width),
                )
                stage = [Bottleneck(inplanes, planes, stride, downsample)]
                stage += [Bottleneck(width, planes, 1, None) for _ in range(blocks - 1)]
                setattr(self, f"layer{index}", nn.Sequential(*stage))
                inplanes = width
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(inplanes, classes)
            for module in self.modules():
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(module, nn.BatchNorm2d):
                    nn.init.constant_(module.weight, 1)
                    nn.init.constant_(module.bias, 0)

        def forward(self, x: Any) -> Any:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet50()


def build_resnet50(torch: Any, classes: int) -> tuple[Any, str]:
    """(model, where it came from): torchvision's where it imports, else the same
    architecture built here."""
    try:
        import torchvision
    except Exception:  # absent, or a wheel built for another torch (its C ops fail to load)
        built_here = "workloads.torch_resnet (torchvision's architecture)"
        return resnet50_like_torchvision(torch, classes), built_here
    model = torchvision.models.resnet50(weights=None, num_classes=classes)
    return model, f"torchvision {torchvision.__version__}"


class TorchResNetStep(TorchModelStep):
    name = "torch.resnet"
    model_name = MODEL
    description = "ResNet-50 (torchvision, v1.5) on seeded random images; SGD with momentum."
    params = (
        *RESNET_PARAMS,
        TF32_PARAM,
        COMPILE_PARAM,
    )

    def setup(self) -> None:
        torch = configure_torch(self, tf32=self.param_values["tf32"])
        self.torch = torch
        model, self.model_source = build_resnet50(torch, self.param_values["classes"])
        memory_format = (
            torch.channels_last if self.param_values["channels_last"] else torch.contiguous_format
        )
        self.model = model.to(self.device, memory_format=memory_format)
        generator = torch.Generator().manual_seed(self.seed)
        side, batch = self.param_values["image_size"], self.param_values["batch_size"]
        images = torch.randn(batch, 3, side, side, generator=generator)
        labels = torch.randint(0, self.param_values["classes"], (batch,), generator=generator)
        self.images = images.to(self.device).contiguous(memory_format=memory_format)
        self.labels = labels.to(self.device)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=self.param_values["lr"], momentum=0.9
        )
        self.finish_setup()

    def loss_of(self, model: Any) -> Any:
        logits = self.run_model(model, self.images)
        return self.torch.nn.functional.cross_entropy(logits.float(), self.labels)

    def flops_per_step(self) -> int:
        return model_flops.resnet50_train_flops_per_step(
            self.param_values["image_size"],
            self.param_values["classes"],
            self.param_values["batch_size"],
            stride_on="3x3",
        )

    def metrics(self) -> dict[str, Any]:
        flops = self.flops_per_step()
        macs = model_flops.resnet50_conv_macs(
            self.param_values["image_size"], self.param_values["classes"], "3x3"
        )
        return self.model_metrics(
            flops,
            2 * sum(macs) * self.param_values["batch_size"],
            model=MODEL,
            model_source=self.model_source,
            model_variant="v1.5 (stride on the 3×3), no convolution biases",
            flops_method="analytic: convolutions and classifier, FMA = 2 FLOPs",
        )
