"""vision.py -- torchvision image classifiers with random weights.

The architectures are torchvision's own (Debian's python3-torchvision), with
weights from a fixed seed and BatchNorm statistics randomized so folding is
exercised. Inputs are small (64x64 or 96x96) to keep the suite fast; every
architecture here ends in adaptive pooling, so the graph is the same as at
224x224 apart from the spatial sizes. The batch dimension is dynamic and the
test data uses batch 2 for some models, so batched execution is checked too.
"""

import functools

import zoo
from zoo import Spec

# name, torchvision constructor, input size, test batch, opset, extra kwargs
CLASSIFIERS = [
    ("resnet18", "resnet18", 64, 2, 13, {}),
    ("resnet18_opset9", "resnet18", 64, 1, 9, {}),
    ("mobilenet_v2", "mobilenet_v2", 64, 1, 13, {}),
    ("mobilenet_v2_opset17", "mobilenet_v2", 64, 2, 17, {}),
    ("mobilenet_v3_small", "mobilenet_v3_small", 64, 1, 13, {}),
    ("mobilenet_v3_small_opset17", "mobilenet_v3_small", 64, 1, 17, {}),
    ("squeezenet1_1", "squeezenet1_1", 64, 2, 13, {}),
    ("efficientnet_b0", "efficientnet_b0", 64, 1, 13, {}),
    ("densenet121", "densenet121", 64, 1, 13, {}),
    ("shufflenet_v2_x0_5", "shufflenet_v2_x0_5", 64, 1, 13, {}),
    ("googlenet", "googlenet", 64, 1, 13, {"aux_logits": False, "init_weights": True}),
    ("inception_v3", "inception_v3", 96, 1, 13, {"aux_logits": False, "init_weights": True}),
]


def _vgg11_small_head():
    """VGG-11's convolutional features with a small head: the stock head
    holds 120M parameters (500 MB) and would add nothing the convolutions do
    not already test."""
    import torch.nn as nn
    import torchvision
    m = torchvision.models.vgg11(weights=None)
    m.avgpool = nn.AdaptiveAvgPool2d((1, 1))
    m.classifier = nn.Sequential(nn.Linear(512, 256), nn.ReLU(inplace=True),
                                 nn.Dropout(), nn.Linear(256, 10))
    return m


def _write(name, ctor, size, opset, kwargs, path):
    import torch
    import torchvision
    torch.manual_seed(zoo.seed_for(name))
    if ctor == "vgg11_small_head":
        model = _vgg11_small_head()
    else:
        model = getattr(torchvision.models, ctor)(weights=None, **kwargs)
    zoo.randomize_batchnorm(model, zoo.seed_for(name) + 1)
    model.eval()
    x = torch.randn(1, 3, size, size)
    zoo.export_torch(model, (x,), path, ["input"], ["logits"], opset=opset,
                     dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def _specs():
    specs = []
    rows = CLASSIFIERS + [("vgg11_small_head", "vgg11_small_head", 32, 1, 13, {})]
    for name, ctor, size, batch, opset, kwargs in rows:
        specs.append(Spec(
            name=name,
            write=functools.partial(_write, name, ctor, size, opset, kwargs),
            feeds=zoo.random_feeds({"batch": batch}),
            description="torchvision %s, 1x3x%dx%d input (batch %d), opset %d, random weights"
                        % (ctor, size, size, batch, opset),
        ))
    return specs


SPECS = _specs()
