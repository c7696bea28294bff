#!/usr/bin/env python3
"""train_digits.py -- train the example digit classifier and write it, its
config and the example requests.

    /usr/bin/python3 tools/train_digits.py        # or .venv/bin/python

Data: scikit-learn's bundled digits set (1797 grey 8x8 images of handwritten
digits, pixel values 0..16; Debian's python3-sklearn ships it, nothing is
downloaded). A 64-128-10 MLP in torch, trained full-batch with a fixed seed on
75% of the images and evaluated on the other 25% (~97-98% accuracy).

Writes:
  examples/models/digits/1/model.onnx   input "image" FP32 [-1, 64] (raw 0..16
                                        pixels, row-major; the model scales
                                        them), output "probabilities" FP32
                                        [-1, 10] (Softmax), dynamic batch
  examples/models/digits/config.pbtxt   Triton model config, max_batch_size 8
  examples/requests/digits.json         one test image (a "3") as a KServe v2
                                        infer request
  examples/requests/digits-batch.json   two test images, nested data
  examples/requests/digits.expected     the true labels and the model's answer

Deterministic: the same script and library versions give the same file.
"""

import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_DIR = os.path.join(ROOT, "examples", "models", "digits")
REQUEST_DIR = os.path.join(ROOT, "examples", "requests")
SEED = 20240611
EXAMPLE_LABEL = 3
BATCH_LABELS = (3, 7)

CONFIG = """\
# Triton model configuration (text protobuf). Optional: without it, inferd
# derives everything from model.onnx. With max_batch_size > 0 the dims below
# leave out the batch dimension, as in Triton.
name: "digits"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [
  {
    name: "image"
    data_type: TYPE_FP32
    dims: [ 64 ]
  }
]
output [
  {
    name: "probabilities"
    data_type: TYPE_FP32
    dims: [ 10 ]
  }
]
version_policy: { latest: { num_versions: 1 } }
"""


def build_model():
    import torch
    import torch.nn as nn

    class Digits(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(64, 128)
            self.out = nn.Linear(128, 10)

        def forward(self, image):
            x = image * (1.0 / 16.0)           # raw 0..16 pixels in, as sklearn has them
            x = torch.relu(self.hidden(x))
            return torch.softmax(self.out(x), dim=1)

    return Digits()


def train(model, x, y):
    import torch
    opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(300):
        opt.zero_grad()
        probs = model(xt)
        loss = torch.nn.functional.nll_loss(torch.log(probs + 1e-9), yt)
        loss.backward()
        opt.step()
    return float(loss)


def export(model, path):
    import torch
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(model, (torch.zeros(1, 64),), path, opset_version=13,
                      input_names=["image"], output_names=["probabilities"],
                      dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}})


def request(images, rid, nested):
    data = [[int(v) for v in img] for img in images]
    return {
        "id": rid,
        "inputs": [{
            "name": "image",
            "shape": [len(images), 64],
            "datatype": "FP32",
            "data": data if nested else [v for row in data for v in row],
        }],
        "outputs": [{"name": "probabilities"}],
    }


def main():
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y)

    model = build_model()
    loss = train(model, x_train, y_train)
    model.eval()
    with torch.no_grad():
        test_probs = model(torch.from_numpy(x_test)).numpy()
    accuracy = float((test_probs.argmax(1) == y_test).mean())
    print("train loss %.4f, test accuracy %.4f on %d images" % (loss, accuracy, len(y_test)))
    if accuracy < 0.95:
        print("accuracy too low", file=sys.stderr)
        return 1

    path = os.path.join(MODEL_DIR, "1", "model.onnx")
    export(model, path)
    with open(os.path.join(MODEL_DIR, "config.pbtxt"), "w") as f:
        f.write(CONFIG)
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))

    # The example images: the first test images of each label that the
    # model gets right with confidence, so the README's answer is clear.
    def pick(label):
        for i in np.flatnonzero(y_test == label):
            if test_probs[i].argmax() == label and test_probs[i][label] > 0.9:
                return i
        raise RuntimeError("no confident test image of a %d" % label)

    one = pick(EXAMPLE_LABEL)
    two = [pick(l) for l in BATCH_LABELS]
    os.makedirs(REQUEST_DIR, exist_ok=True)
    with open(os.path.join(REQUEST_DIR, "digits.json"), "w") as f:
        json.dump(request([x_test[one]], "digits-example", nested=False), f)
        f.write("\n")
    with open(os.path.join(REQUEST_DIR, "digits-batch.json"), "w") as f:
        json.dump(request([x_test[i] for i in two], "digits-batch-example", nested=True), f)
        f.write("\n")
    expected = {
        "digits.json": {"labels": [EXAMPLE_LABEL],
                        "probabilities": [[round(float(p), 4) for p in test_probs[one]]]},
        "digits-batch.json": {"labels": list(BATCH_LABELS),
                              "probabilities": [[round(float(p), 4) for p in test_probs[i]]
                                                for i in two]},
        "test_accuracy": round(accuracy, 4),
    }
    with open(os.path.join(REQUEST_DIR, "digits.expected"), "w") as f:
        f.write("{\n" + ",\n".join(" %s: %s" % (json.dumps(k), json.dumps(v))
                                    for k, v in expected.items()) + "\n}\n")
    print("example image: test index %d, a %d, p=%.4f" % (one, EXAMPLE_LABEL, test_probs[one][EXAMPLE_LABEL]))
    print("8x8 picture of it (pixel values 0..16):")
    for r in range(8):
        print("  " + " ".join("%2d" % v for v in x_test[one][r * 8:(r + 1) * 8]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
