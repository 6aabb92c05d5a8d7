"""A GPT-2 in PyTorch, written for the tests from the Hugging Face weights
(safetensors read with numpy), with Hugging Face's module names and its
Conv1D layers (weight [in, out]).

Its float parts follow the C++ engine's operations one by one (src/model/
gpt2.cpp, block_ops.h, attention.cpp): LayerNorm statistics in double,
sequential float32 sums in attention, and libm's expf and tanhf. Simulate
quantizes every remote layer's input per row; an activation one ulp away
from the engine's can round to the next 8-bit level and move the logits by
~1e-3, so the 1e-5 comparison with the engine needs the float parts to agree
to the bit, not only to 1e-6.
"""
import ctypes
import json
import pathlib
import struct
import types

import numpy as np
import torch

_libm = ctypes.CDLL("libm.so.6")
for _f in ("expf", "tanhf"):
    getattr(_libm, _f).restype = ctypes.c_float
    getattr(_libm, _f).argtypes = [ctypes.c_float]


def _libm_map(name, t):
    f = getattr(_libm, name)
    flat = t.detach().reshape(-1).numpy()
    return torch.from_numpy(np.array([f(float(v)) for v in flat], dtype=np.float32)).reshape(t.shape)


def load_safetensors(path):
    """name -> float32 numpy array (F32 tensors)."""
    data = pathlib.Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", name
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + begin:8 + n + end], dtype=np.float32).reshape(info["shape"]).copy()
    return out


class Conv1D(torch.nn.Module):
    """Hugging Face's GPT-2 Conv1D: y = x W + b with W [in, out]."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = torch.nn.Parameter(torch.zeros(nx, nf))
        self.bias = torch.nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).reshape(*x.shape[:-1], self.nf)


class LayerNorm(torch.nn.Module):
    """The engine's layer_norm: mean and variance in double."""

    def __init__(self, n, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.bias = torch.nn.Parameter(torch.zeros(n))
        self.eps = float(np.float32(eps))

    def forward(self, x):
        xd = x.double()
        mean = xd.mean(-1, keepdim=True)
        var = ((xd - mean) ** 2).mean(-1, keepdim=True)
        inv = (1.0 / torch.sqrt(var + self.eps)).float()
        return (x - mean.float()) * inv * self.weight + self.bias


def gelu_tanh(x):
    c = torch.tensor(0.7978845608028654, dtype=torch.float32)
    a = torch.tensor(0.044715, dtype=torch.float32)
    inner = c * (x + a * x * x * x)
    return torch.tensor(0.5, dtype=torch.float32) * x * (1.0 + _libm_map("tanhf", inner))


class Attention(torch.nn.Module):
    def __init__(self, d, n_head):
        super().__init__()
        self.n_head = n_head
        self.c_attn = Conv1D(3 * d, d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x):
        t, d = x.shape
        hd = d // self.n_head
        q, k, v = self.c_attn(x).split(d, dim=-1)
        q, k, v = (z.reshape(t, self.n_head, hd).transpose(0, 1) for z in (q, k, v))  # [h, t, hd]
        inv_sqrt = torch.tensor(1.0, dtype=torch.float32) / torch.sqrt(torch.tensor(float(hd), dtype=torch.float32))
        # scores[h, i, p] = sum over dims in order, as the engine's loop
        s = torch.zeros(self.n_head, t, t)
        for i in range(hd):
            s = s + q[:, :, i:i + 1] * k[:, None, :, i]
        s = s * inv_sqrt
        out = torch.zeros(self.n_head, t, hd)
        for row in range(t):
            sc = s[:, row, :row + 1]
            e = _libm_map("expf", sc - sc.max(dim=-1, keepdim=True).values)
            total = torch.zeros(self.n_head)
            for p in range(row + 1):
                total = total + e[:, p]
            inv_sum = 1.0 / total
            acc = torch.zeros(self.n_head, hd)
            for p in range(row + 1):
                acc = acc + (e[:, p] * inv_sum)[:, None] * v[:, p, :]
            out[:, row, :] = acc
        return self.c_proj(out.transpose(0, 1).reshape(t, d))


class MLP(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc = Conv1D(4 * d, d)
        self.c_proj = Conv1D(d, 4 * d)

    def forward(self, x):
        return self.c_proj(gelu_tanh(self.c_fc(x)))


class Block(torch.nn.Module):
    def __init__(self, d, n_head, eps):
        super().__init__()
        self.ln_1 = LayerNorm(d, eps)
        self.attn = Attention(d, n_head)
        self.ln_2 = LayerNorm(d, eps)
        self.mlp = MLP(d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = torch.nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = torch.nn.Embedding(c.n_positions, c.n_embd)
        self.h = torch.nn.ModuleList(Block(c.n_embd, c.n_head, c.layer_norm_epsilon) for _ in range(c.n_layer))
        self.ln_f = LayerNorm(c.n_embd, c.layer_norm_epsilon)


class GPT2LMHeadModel(torch.nn.Module):
    """ids [T] -> logits [T, vocab] (one sequence, no cache: small tests)."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = torch.nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied

    def forward(self, ids):
        ids = torch.as_tensor(ids, dtype=torch.long)
        tr = self.transformer
        x = tr.wte(ids) + tr.wpe(torch.arange(len(ids)))
        for block in tr.h:
            x = block(x)
        return self.lm_head(tr.ln_f(x))

    def generate(self, ids, max_new_tokens):
        """Greedy, one full forward per token (the last row's logits)."""
        ids = list(ids)
        out = []
        for _ in range(max_new_tokens):
            logits = self(ids)[-1]
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            ids.append(nxt)
        return out

    @classmethod
    def from_pretrained(cls, folder):
        folder = pathlib.Path(folder)
        config = types.SimpleNamespace(**json.loads((folder / "config.json").read_text()))
        model = cls(config)
        weights = load_safetensors(folder / "model.safetensors")
        state = {}
        for name, value in weights.items():
            key = name if name.startswith("transformer.") or name.startswith("lm_head") else "transformer." + name
            if key.endswith(".attn.bias") or key.endswith(".attn.masked_bias"):
                continue
            state[key] = torch.from_numpy(value)
        state.setdefault("lm_head.weight", state["transformer.wte.weight"])
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected, unexpected
        assert set(missing) <= {"lm_head.weight"}, missing
        model.eval()
        return model
