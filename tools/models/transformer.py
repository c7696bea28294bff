"""transformer.py -- BERT-style encoders, written the way Hugging Face's BERT
is, exported at opsets 11, 13 and 17, plus torch.nn.TransformerEncoder.

The hand-written BERT has what real exports contain: word + position +
token-type embeddings (Gather), position ids from the sequence length
(Shape/Slice/Unsqueeze chains), an extended attention mask (Cast, Sub, Mul),
multi-head attention reshaped through x.size() (Shape/Gather/Concat/Reshape,
Transpose, MatMul, Div, Softmax), masked_fill on a causal-free mask (Where),
exact GELU (Erf), LayerNorm (decomposed at opsets < 17, LayerNormalization at
17), and a tanh pooler. Inputs are int64 input_ids, attention_mask and
token_type_ids of shape [batch, sequence], both dims dynamic.
"""

import functools
import math

import numpy as np

import zoo
from zoo import Spec

VOCAB = 1000
HIDDEN = 64
HEADS = 4
LAYERS = 2
INTERMEDIATE = 128
MAX_POSITIONS = 64
SEQ = 16
BATCH = 2


def _bert():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(VOCAB, HIDDEN)
            self.position = nn.Embedding(MAX_POSITIONS, HIDDEN)
            self.token_type = nn.Embedding(2, HIDDEN)
            self.norm = nn.LayerNorm(HIDDEN, eps=1e-12)
            self.register_buffer("position_ids", torch.arange(MAX_POSITIONS).unsqueeze(0))

        def forward(self, input_ids, token_type_ids):
            seq = input_ids.size(1)
            pos = self.position_ids[:, :seq]
            x = self.word(input_ids) + self.position(pos) + self.token_type(token_type_ids)
            return self.norm(x)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(HIDDEN, HIDDEN)
            self.k = nn.Linear(HIDDEN, HIDDEN)
            self.v = nn.Linear(HIDDEN, HIDDEN)
            self.out = nn.Linear(HIDDEN, HIDDEN)
            self.norm = nn.LayerNorm(HIDDEN, eps=1e-12)

        def heads(self, x):
            b, s = x.size(0), x.size(1)
            return x.view(b, s, HEADS, HIDDEN // HEADS).permute(0, 2, 1, 3)

        def forward(self, x, ext_mask, pad):
            q, k, v = self.heads(self.q(x)), self.heads(self.k(x)), self.heads(self.v(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS)
            scores = scores + ext_mask
            # Padded keys get -inf-like scores twice over: the additive mask
            # above (as BERT does) and masked_fill (as newer exports do).
            scores = scores.masked_fill(pad, -1e4)
            probs = F.softmax(scores, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
            ctx = ctx.view(ctx.size(0), ctx.size(1), HIDDEN)
            return self.norm(self.out(ctx) + x)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = SelfAttention()
            self.intermediate = nn.Linear(HIDDEN, INTERMEDIATE)
            self.output = nn.Linear(INTERMEDIATE, HIDDEN)
            self.norm = nn.LayerNorm(HIDDEN, eps=1e-12)

        def forward(self, x, ext_mask, pad):
            a = self.attention(x, ext_mask, pad)
            h = F.gelu(self.intermediate(a))
            return self.norm(self.output(h) + a)

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
            self.pooler = nn.Linear(HIDDEN, HIDDEN)

        def forward(self, input_ids, attention_mask, token_type_ids):
            ext = attention_mask[:, None, None, :].to(torch.float32)
            ext = (1.0 - ext) * -10000.0
            pad = (attention_mask == 0)[:, None, None, :]
            x = self.embeddings(input_ids, token_type_ids)
            for layer in self.layers:
                x = layer(x, ext, pad)
            pooled = torch.tanh(self.pooler(x[:, 0]))
            return x, pooled

    return Bert()


def _write_bert(name, opset, path):
    import torch
    torch.manual_seed(zoo.seed_for(name))
    model = _bert().eval()
    ids = torch.randint(0, VOCAB, (BATCH, SEQ))
    mask = torch.ones(BATCH, SEQ, dtype=torch.int64)
    types = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    zoo.export_torch(model, (ids, mask, types), path,
                     ["input_ids", "attention_mask", "token_type_ids"],
                     ["last_hidden_state", "pooler_output"], opset=opset,
                     dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                   "token_type_ids": axes,
                                   "last_hidden_state": axes,
                                   "pooler_output": {0: "batch"}})


def _bert_feeds(rng, model):
    """Two data sets: a full batch, and one whose second row is padded (mask
    zeros at the end) with a sentence-pair token-type split."""
    sets = []
    for padded in (False, True):
        ids = rng.integers(0, VOCAB, (BATCH, SEQ)).astype(np.int64)
        mask = np.ones((BATCH, SEQ), np.int64)
        types = np.zeros((BATCH, SEQ), np.int64)
        if padded:
            mask[1, SEQ - 5:] = 0
            ids[1, SEQ - 5:] = 0
            types[:, SEQ // 2:] = 1
        sets.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    return sets


def _write_torch_encoder(name, path):
    """torch.nn.TransformerEncoder (batch_first, GELU, key padding mask):
    a differently shaped export of the same idea (Gemm on flattened rows,
    ReduceMean-based LayerNorm, a bool mask input)."""
    import torch
    import torch.nn as nn
    torch.manual_seed(zoo.seed_for(name))
    layer = nn.TransformerEncoderLayer(HIDDEN, HEADS, INTERMEDIATE, dropout=0.0,
                                       activation="gelu", batch_first=True)
    model = nn.TransformerEncoder(layer, LAYERS).eval()
    x = torch.randn(BATCH, SEQ, HIDDEN)
    pad = torch.zeros(BATCH, SEQ, dtype=torch.bool)
    zoo.export_torch(model, (x, None, pad), path, ["x", "key_padding_mask"], ["y"],
                     opset=13)


def _torch_encoder_feeds(rng, model):
    x = rng.standard_normal((BATCH, SEQ, HIDDEN)).astype(np.float32)
    pad = np.zeros((BATCH, SEQ), np.bool_)
    pad[1, SEQ - 4:] = True
    return [{"x": x, "key_padding_mask": pad}]


SPECS = [
    Spec("bert_opset%d" % o, functools.partial(_write_bert, "bert_opset%d" % o, o), _bert_feeds,
         "BERT-style encoder, %d layers, hidden %d, %d heads, seq %d, batch %d, opset %d"
         % (LAYERS, HIDDEN, HEADS, SEQ, BATCH, o))
    for o in (11, 13, 17)
] + [
    Spec("torch_transformer_encoder", functools.partial(_write_torch_encoder, "torch_transformer_encoder"),
         _torch_encoder_feeds,
         "torch.nn.TransformerEncoder, %d layers, d_model %d, GELU, key padding mask, opset 13"
         % (LAYERS, HIDDEN)),
]
