"""fhellm.torch: Concrete ML's hybrid workflow for any PyTorch model.

    import fhellm.torch
    hybrid = fhellm.torch.HybridModel(model, module_names=["transformer.h.0.mlp.c_fc", ...])
    hybrid.compile_model(sample_input, n_bits=8)
    hybrid.set_fhe_mode("simulate")       # or "disable", "execute"
    logits = hybrid(input_ids)            # the wrapped model, as usual
    hybrid.save("model")                  # model.server, for `fhellm serve --artifact model.server`

Each named module (a torch.nn.Linear, or a GPT-2 style Conv1D whose weight is
[in, out]) is replaced by a RemoteModule. In "disable" it runs the original
module; in "simulate" and "execute" the engine (fhellm.RemoteLayers)
quantizes its weights per output channel and its input per row exactly as
the C++ engine does and computes the product: in clear ("simulate", with the
encrypted product's modelled rounding error at precision "default"), or
under encryption by a server ("execute": in this process, or at server_url).
The rest of the model (attention, norms, sampling) stays ordinary PyTorch on
the client. docs/python.md.
"""
import re

import numpy as np
import torch

from . import FHE_MODES, RemoteLayers, raise_error

_KINDS = ("qkv", "attn_out", "mlp_up", "mlp_down")

# Modules named as Hugging Face names GPT-2's layers get the engine's group of
# the same layer: the same simulated error, the same place in a server
# artifact (which the engine's client can then use).
_ENGINE_NAMES = (
    (re.compile(r"(?:^|\.)h\.(\d+)\.attn\.c_attn$"), "qkv"),
    (re.compile(r"(?:^|\.)h\.(\d+)\.attn\.c_proj$"), "attn_out"),
    (re.compile(r"(?:^|\.)h\.(\d+)\.mlp\.c_fc$"), "mlp_up"),
    (re.compile(r"(?:^|\.)h\.(\d+)\.mlp\.c_proj$"), "mlp_down"),
)
_MAX_LAYERS = 1024


def _is_conv1d(module):
    """GPT-2's Conv1D (transformers.pytorch_utils.Conv1D): y = x W + b, W [in, out]."""
    return type(module).__name__ == "Conv1D" and hasattr(module, "nf") and module.weight.dim() == 2


def _is_linear(module):
    return isinstance(module, torch.nn.Linear) or _is_conv1d(module)


def _weight_and_bias(module):
    """W [out, in] and b [out] (or None) as float32 numpy arrays."""
    w = module.weight.detach().to(torch.float32).cpu()
    if _is_conv1d(module):
        w = w.t()
    b = None if module.bias is None else module.bias.detach().to(torch.float32).cpu().contiguous().numpy()
    return w.contiguous().numpy(), b


def _engine_group(name):
    if name == "lm_head" or name.endswith(".lm_head"):
        return "lm_head"
    for pattern, kind in _ENGINE_NAMES:
        m = pattern.search(name)
        if m and int(m.group(1)) < _MAX_LAYERS:
            return f"layers.{int(m.group(1))}.{kind}"
    return None


def assign_groups(names):
    """Module name -> the engine group it runs as: the engine's own name where
    the module is named as Hugging Face's GPT-2 names it, else the free groups
    in order (layers.0.qkv, layers.0.attn_out, ..., layers.1.qkv, ...)."""
    groups = {}
    for name in names:
        g = _engine_group(name)
        if g is not None and g not in groups.values():
            groups[name] = g
    free = (f"layers.{layer}.{kind}" for layer in range(_MAX_LAYERS) for kind in _KINDS)
    taken = set(groups.values())
    for name in names:
        if name in groups:
            continue
        g = next(free)
        while g in taken:
            g = next(free)
        groups[name] = g
    return groups


class _Engine:
    """What the RemoteModules of one HybridModel share: the mode and the layers."""

    def __init__(self):
        self.mode = "disable"
        self.layers = None  # fhellm.RemoteLayers, after compile_model


class RemoteModule(torch.nn.Module):
    """Stands in for one remote linear module (y = x W^T + b)."""

    def __init__(self, engine, name, group, original):
        super().__init__()
        self.original = original
        self.name = name
        self.group = group
        w, b = _weight_and_bias(original)
        self.out_features, self.in_features = w.shape
        self._bias = b
        object.__setattr__(self, "_engine", engine)  # not a submodule

    def weight_matrix(self):
        """W [out, in] as float32 numpy (what compile_model quantizes)."""
        return _weight_and_bias(self.original)[0]

    def forward(self, x):
        engine = self._engine
        if engine.mode == "disable":
            return self.original(x)
        if x.shape[-1] != self.in_features:
            raise_error("shape_mismatch", f"{self.name}: input of {x.shape[-1]} features, the layer takes "
                                          f"{self.in_features}")
        rows = x.detach().reshape(-1, self.in_features).to(torch.float32).cpu().contiguous().numpy()
        run = engine.layers.simulate if engine.mode == "simulate" else engine.layers.execute
        y = run(self.group, rows, self._bias)
        return torch.from_numpy(y).reshape(*x.shape[:-1], self.out_features).to(dtype=x.dtype, device=x.device)

    def extra_repr(self):
        return f"{self.name} -> {self.group}, in_features={self.in_features}, out_features={self.out_features}"


def _describe(model, groups):
    """(architecture, n_layers, dim, vocab) for the server's description: the
    engine's model when `model.config` is a Hugging Face GPT-2 config and every
    module has its engine name, else a custom model."""
    config = getattr(model, "config", None)
    engine_named = all(_engine_group(n) == g for n, g in groups.items())
    if engine_named and getattr(config, "model_type", None) == "gpt2":
        return "gpt2", int(config.n_layer), int(config.n_embd), int(config.vocab_size)
    return "custom", 0, 0, 0


class HybridModel:
    """A PyTorch model whose named linear modules run remotely, as Concrete
    ML's HybridFHEModel.

    module_names: names from model.named_modules() (torch.nn.Linear or GPT-2
    Conv1D modules), or "all-linear" for every such module.
    server_url: where execute sends the encrypted rows (None: a server in this
    process over the compiled weights).
    """

    def __init__(self, model, module_names="all-linear", *, server_url=None):
        if not isinstance(model, torch.nn.Module):
            raise_error("invalid_argument", "HybridModel wraps a torch.nn.Module")
        self.model = model
        self.server_url = server_url
        self._engine = _Engine()
        names = self._resolve(model, module_names)
        self.groups = assign_groups(names)
        self.remote_modules = {}
        for name in names:
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            remote = RemoteModule(self._engine, name, self.groups[name], getattr(parent, attr))
            setattr(parent, attr, remote)
            self.remote_modules[name] = remote

    @staticmethod
    def _resolve(model, module_names):
        modules = dict(model.named_modules())
        if module_names == "all-linear" or module_names is None:
            names = [n for n, m in modules.items() if n and _is_linear(m)]
        elif isinstance(module_names, str):
            names = [module_names]
        else:
            names = list(module_names)
        if not names:
            raise_error("invalid_argument", "HybridModel: no remote module")
        for n in names:
            if not isinstance(n, str) or n not in modules:
                raise_error("unknown_layer", f"HybridModel: the model has no module named {n!r}")
            if not _is_linear(modules[n]):
                raise_error("invalid_argument", f"HybridModel: module {n!r} is a {type(modules[n]).__name__}, "
                                                "not a torch.nn.Linear or a GPT-2 Conv1D")
        if len(set(names)) != len(names):
            raise_error("invalid_argument", "HybridModel: a module is named twice")
        return names

    # -- Concrete ML's workflow ------------------------------------------------

    def compile_model(self, sample_input, n_bits=8, *, activation_bits=8, precision="default",
                      architecture=None, n_layers=None, dim=None, vocab=None):
        """Quantizes every remote module's weights (n_bits, per output
        channel) for simulate and execute, then runs sample_input once in
        simulate to check that every remote module runs. precision: "default"
        or "exact" (what execute asks the server for and simulate models).
        architecture, n_layers, dim, vocab: the server description's model
        (default: GPT-2's from model.config when every module has its engine
        name, else "custom")."""
        arch, nl, d, v = _describe(self.model, self.groups)
        layers = RemoteLayers(weight_bits=n_bits, activation_bits=activation_bits, precision=precision,
                              architecture=architecture or arch, n_layers=nl if n_layers is None else n_layers,
                              dim=d if dim is None else dim, vocab=v if vocab is None else vocab)
        for name, remote in self.remote_modules.items():
            layers.add(remote.group, remote.weight_matrix())
        if self._engine.layers is not None:
            self._engine.layers.disconnect()
        self._engine.layers = layers
        self.n_bits = n_bits
        mode = self._engine.mode
        self._engine.mode = "simulate"
        try:
            with torch.no_grad():
                self._call(sample_input)
        finally:
            self._engine.mode = mode
        return self

    def set_fhe_mode(self, mode, *, server_url=None):
        """"disable" (the original modules, float), "simulate" (the integers of
        execute, in clear) or "execute" (encrypted; connects to server_url, or
        the constructor's, or a server in this process)."""
        if mode not in FHE_MODES:
            raise_error("bad_mode", f"fhe mode {mode!r}: expected one of {', '.join(FHE_MODES)}")
        if mode != "disable" and self._engine.layers is None:
            raise_error("invalid_argument", f"set_fhe_mode({mode!r}) before compile_model()")
        if server_url is not None and server_url != self.server_url:
            self.server_url = server_url
            self._engine.layers.disconnect()
        if mode == "execute" and not self._engine.layers.connected:
            self._engine.layers.connect(self.server_url or "")
        self._engine.mode = mode

    @property
    def fhe_mode(self):
        return self._engine.mode

    def save(self, path_prefix):
        """Writes path_prefix.server, the remote modules' int8 weights, which
        `fhellm serve --artifact` and fhellm.Server serve. Returns its path."""
        if self._engine.layers is None:
            raise_error("invalid_argument", "save() before compile_model()")
        path = f"{path_prefix}.server"
        self._engine.layers.save_server_artifact(path)
        return path

    @property
    def layers(self):
        """The fhellm.RemoteLayers behind the remote modules (after compile_model)."""
        return self._engine.layers

    @property
    def stats(self):
        """fhellm.RemoteLayersStats: calls, ms, bytes since compile or reset_stats()."""
        return None if self._engine.layers is None else self._engine.layers.stats

    def reset_stats(self):
        if self._engine.layers is not None:
            self._engine.layers.reset_stats()

    def _call(self, inputs):
        if isinstance(inputs, tuple):
            return self.model(*inputs)
        if isinstance(inputs, dict):
            return self.model(**inputs)
        return self.model(inputs)

    def __call__(self, *args, **kwargs):
        with torch.no_grad():
            return self.model(*args, **kwargs)

    def forward(self, *args, **kwargs):
        return self(*args, **kwargs)

    def __getattr__(self, name):
        # model.generate(...) and the rest of the wrapped model, as usual
        if name in ("model", "_engine"):
            raise AttributeError(name)
        return getattr(self.model, name)


def quantize_rows_reference(x, bits=8):
    """The engine's per-row activation quantization in numpy (for tests and
    people who check): (values uint8, scales float32, zero points int32)."""
    x = np.asarray(x, dtype=np.float32)
    levels = np.float32((1 << bits) - 1)
    lo = np.minimum(np.float32(0), x.min(axis=1))
    hi = np.maximum(np.float32(0), x.max(axis=1))
    scale = np.where(hi > lo, (hi - lo) / levels, np.float32(1)).astype(np.float32)
    inv = (np.float32(1) / scale).astype(np.float32)
    zp = np.clip(np.rint(-lo * inv), 0, levels).astype(np.float32)
    q = np.clip(np.rint(x * inv[:, None]) + zp[:, None], 0, levels)
    return q.astype(np.uint8), scale, zp.astype(np.int32)


def quantize_weights_reference(w, bits=8):
    """The engine's per-output-channel weight quantization in numpy: (values
    int8 [out, in], scales float32 [out])."""
    w = np.asarray(w, dtype=np.float32)
    q_max = np.float32((1 << (bits - 1)) - 1)
    max_abs = np.abs(w).max(axis=1)
    scale = np.where(max_abs > 0, max_abs / q_max, np.float32(1)).astype(np.float32)
    inv = (np.float32(1) / scale).astype(np.float32)
    q = np.clip(np.rint(w * inv[:, None]), -q_max, q_max)
    return q.astype(np.int8), scale
