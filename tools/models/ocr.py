"""ocr.py -- a CRNN text-line recognizer (CNN + bidirectional LSTM + Linear
+ Softmax), the shape of the OCR models PaddleOCR and EasyOCR ship.

Input: a grey text line, FP32 [batch, 1, 32, width] (batch and width
dynamic). The CNN collapses the height; the width becomes the sequence
(width / 4 steps), run through a 2-layer bidirectional LSTM, then a per-step
classifier over 37 symbols (blank + 0-9 + a-z) with Softmax, output
[steps, batch, 37] as CTC decoders expect. A second variant uses a GRU and
LogSoftmax.
"""

import functools

import zoo
from zoo import Spec

HEIGHT = 32
WIDTH = 100
SYMBOLS = 37


def _crnn(cell):
    import torch
    import torch.nn as nn

    def block(cin, cout, pool):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                nn.MaxPool2d(pool, pool)]

    class CRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = nn.Sequential(*block(1, 16, (2, 2)), *block(16, 32, (2, 2)),
                                     *block(32, 64, (2, 1)), *block(64, 64, (2, 1)),
                                     nn.Conv2d(64, 64, (2, 1)), nn.ReLU(inplace=True))
            rnn = nn.LSTM if cell == "lstm" else nn.GRU
            self.rnn = rnn(64, 48, num_layers=2, bidirectional=True)
            self.fc = nn.Linear(96, SYMBOLS)

        def forward(self, x):
            f = self.cnn(x)                 # [B, 64, 1, W/4]
            f = f.squeeze(2).permute(2, 0, 1)  # [T, B, 64]
            y, _ = self.rnn(f)
            logits = self.fc(y)
            if cell == "lstm":
                return torch.softmax(logits, dim=2)
            return torch.log_softmax(logits, dim=2)

    return CRNN()


def _write(name, cell, path):
    import torch
    torch.manual_seed(zoo.seed_for(name))
    model = _crnn(cell)
    zoo.randomize_batchnorm(model, zoo.seed_for(name) + 1)
    x = torch.randn(1, 1, HEIGHT, WIDTH)
    out = "probabilities" if cell == "lstm" else "log_probabilities"
    zoo.export_torch(model, (x,), path, ["image"], [out], opset=13,
                     dynamic_axes={"image": {0: "batch", 3: "width"},
                                   out: {0: "steps", 1: "batch"}})


SPECS = [
    Spec("crnn_lstm", functools.partial(_write, "crnn_lstm", "lstm"),
         zoo.random_feeds({"batch": 2, "width": WIDTH}),
         "CRNN OCR: 5 conv blocks, 2-layer bidirectional LSTM(48), Linear, Softmax; "
         "input 2x1x32x100, opset 13"),
    Spec("crnn_gru", functools.partial(_write, "crnn_gru", "gru"),
         zoo.random_feeds({"batch": 1, "width": 64}),
         "CRNN OCR: 5 conv blocks, 2-layer bidirectional GRU(48), Linear, LogSoftmax; "
         "input 1x1x32x64 (another width than exported), opset 13"),
]
