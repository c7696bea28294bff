"""detector.py -- a tiny CenterNet/FPN-style detector and segmenter head.

It has the operators detectors and segmenters add to a classifier: a strided
conv backbone, a top-down path with nearest and bilinear upsampling (Resize)
and Concat, reflect Pad, a ConvTranspose back to full resolution, a Sigmoid
heatmap with the CenterNet max-pool peak trick (stride-1 MaxPool),
Split of a head into objectness and class maps, and a box-regression head.

Input FP32 [batch, 3, 64, 64] (batch dynamic). Outputs: heatmap
[batch, 2, 64, 64], peaks [batch, 2, 64, 64], objectness [batch, 1, 16, 16],
boxes [batch, 4, 16, 16]. Exported at opset 11 (Resize-11) and 13.
"""

import functools

import zoo
from zoo import Spec

SIZE = 64


def _detector():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def cbr(cin, cout, stride):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class TinyDet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = cbr(3, 16, 2)    # 1/2
            self.c2 = cbr(16, 32, 2)   # 1/4
            self.c3 = cbr(32, 64, 2)   # 1/8
            self.lat3 = nn.Conv2d(64, 32, 1)
            self.fuse2 = cbr(64, 32, 1)
            self.fuse1 = cbr(48, 32, 1)
            self.up = nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1)
            self.smooth = nn.Conv2d(16, 16, 3)   # after a reflect pad
            self.heat = nn.Conv2d(16, 2, 1)
            self.head = nn.Conv2d(32, 5, 3, padding=1)

        def forward(self, x):
            c1 = self.c1(x)
            c2 = self.c2(c1)
            c3 = self.c3(c2)
            p3 = self.lat3(c3)
            p2 = self.fuse2(torch.cat([F.interpolate(p3, scale_factor=2.0, mode="nearest"), c2], 1))
            up = F.interpolate(p2, size=(c1.shape[2], c1.shape[3]), mode="bilinear",
                               align_corners=False)
            p1 = self.fuse1(torch.cat([up, c1], 1))
            full = F.relu(self.up(p1))
            full = self.smooth(F.pad(full, (1, 1, 1, 1), mode="reflect"))
            heatmap = torch.sigmoid(self.heat(full))
            hmax = F.max_pool2d(heatmap, 3, stride=1, padding=1)
            # CenterNet keeps heatmap == maxpool(heatmap); an exact float
            # equality would make the comparison flaky on near-ties, so the
            # test model outputs the continuous gap instead.
            peaks = hmax - heatmap
            objectness, boxes = torch.split(self.head(p2), [1, 4], dim=1)
            return heatmap, peaks, torch.sigmoid(objectness), boxes

    return TinyDet()


def _write(name, opset, path):
    import torch
    torch.manual_seed(zoo.seed_for(name))
    model = _detector()
    zoo.randomize_batchnorm(model, zoo.seed_for(name) + 1)
    outs = ["heatmap", "peaks", "objectness", "boxes"]
    axes = {n: {0: "batch"} for n in ["image"] + outs}
    zoo.export_torch(model, (torch.randn(1, 3, SIZE, SIZE),), path, ["image"], outs,
                     opset=opset, dynamic_axes=axes)


SPECS = [
    Spec("tiny_detector_opset%d" % o, functools.partial(_write, "tiny_detector_opset%d" % o, o),
         zoo.random_feeds({"batch": 2}),
         "FPN/CenterNet-style detector: Resize nearest+bilinear, Concat, Pad reflect, "
         "ConvTranspose, Sigmoid, MaxPool peaks, Split; input 2x3x64x64, opset %d" % o)
    for o in (11, 13)
]
