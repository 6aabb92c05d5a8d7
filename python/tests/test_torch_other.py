"""fhellm.torch on models the C++ engine does not have: a BERT-like encoder
block and an MLP, built in the test. Simulate equals a numpy re-derivation
of the engine's quantization (precision "exact": no modelled error), execute
equals simulate bit for bit at "exact" and within the floor at "default"."""
import numpy as np
import pytest
import torch

import fhellm
import fhellm.torch


class EncoderBlock(torch.nn.Module):
    """Post-norm Transformer encoder block (BERT's), then a classifier."""

    def __init__(self, d=48, heads=4, hidden=96, classes=5):
        super().__init__()
        self.heads = heads
        self.query = torch.nn.Linear(d, d)
        self.key = torch.nn.Linear(d, d)
        self.value = torch.nn.Linear(d, d)
        self.output = torch.nn.Linear(d, d)
        self.norm1 = torch.nn.LayerNorm(d)
        self.intermediate = torch.nn.Linear(d, hidden)
        self.ffn_out = torch.nn.Linear(hidden, d)
        self.norm2 = torch.nn.LayerNorm(d)
        self.classifier = torch.nn.Linear(d, classes)

    def forward(self, x):  # x [batch, seq, d]
        b, t, d = x.shape
        split = lambda z: z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = self.norm1(x + self.output(ctx))
        x = self.norm2(x + self.ffn_out(torch.nn.functional.gelu(self.intermediate(x))))
        return self.classifier(x[:, 0])


def mlp():
    torch.manual_seed(3)
    return torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                               torch.nn.Linear(64, 3, bias=False))


@pytest.fixture
def encoder():
    torch.manual_seed(7)
    return EncoderBlock()


def sample():
    torch.manual_seed(11)
    return torch.randn(2, 6, 48)


def reference_linear(module, x, bits=8):
    """y of one remote Linear as the engine computes it (exact precision), in numpy."""
    w = module.weight.detach().numpy().astype(np.float32)
    qw, ws = fhellm.torch.quantize_weights_reference(w, bits)
    rows = x.reshape(-1, w.shape[1]).astype(np.float32)
    qx, xs, zp = fhellm.torch.quantize_rows_reference(rows)
    acc = qx.astype(np.int64) @ qw.astype(np.int64).T
    corrected = (acc - zp[:, None].astype(np.int64) * qw.astype(np.int64).sum(axis=1)[None, :]).astype(np.float32)
    y = (xs[:, None] * ws[None, :]) * corrected
    if module.bias is not None:
        y = y + module.bias.detach().numpy()
    return y.astype(np.float32).reshape(*x.shape[:-1], w.shape[0])


def test_encoder_simulate_matches_the_engine_arithmetic(encoder):
    x = sample()
    with torch.no_grad():
        original = encoder(x)
    hybrid = fhellm.torch.HybridModel(encoder, "all-linear")
    assert sorted(hybrid.remote_modules) == sorted(
        ["query", "key", "value", "output", "intermediate", "ffn_out", "classifier"])
    hybrid.compile_model(x, n_bits=8, precision="exact")
    hybrid.set_fhe_mode("simulate")
    # Each remote module, fed the same input, against the numpy derivation.
    captured = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, n=n: captured.__setitem__(n, (inp[0], out)))
             for n, m in hybrid.remote_modules.items()]
    simulate = hybrid(x)
    for h in hooks:
        h.remove()
    for name, (inp, out) in captured.items():
        ref = reference_linear(hybrid.remote_modules[name].original, inp.numpy())
        np.testing.assert_array_equal(out.numpy(), ref, err_msg=name)
    hybrid.set_fhe_mode("disable")
    disable = hybrid(x)
    assert torch.equal(disable, original)  # disable runs the original modules
    rel = float((simulate - disable).abs().max() / disable.abs().max())
    print(f"encoder simulate vs disable: max rel {rel:.3g}")
    assert 0 < rel < 0.05


def test_encoder_execute_equals_simulate(encoder):
    x = sample()
    hybrid = fhellm.torch.HybridModel(encoder, ["query", "key", "value", "intermediate", "classifier"])
    hybrid.compile_model(x, precision="exact")
    hybrid.set_fhe_mode("simulate")
    simulate = hybrid(x)
    hybrid.set_fhe_mode("execute")
    execute = hybrid(x)
    assert torch.equal(execute, simulate)
    assert hybrid.stats.execute_calls == 5


def test_mlp_default_precision(tmp_path):
    model = mlp()
    x = torch.randn(8, 20)
    hybrid = fhellm.torch.HybridModel(model, "all-linear")
    hybrid.compile_model(x, n_bits=8)
    hybrid.set_fhe_mode("simulate")
    simulate = hybrid(x)
    hybrid.set_fhe_mode("execute")
    execute = hybrid(x)
    rel = float((execute - simulate).abs().max() / simulate.abs().max())
    print(f"mlp execute vs simulate (default precision): max rel {rel:.3g}")
    assert rel < 1e-3
    # served from its artifact by fhellm.Server
    with fhellm.Server(hybrid.save(str(tmp_path / "mlp")), port=0) as server:
        hybrid.set_fhe_mode("execute", server_url=server.url)
        remote = hybrid(x)
        assert float((remote - simulate).abs().max() / simulate.abs().max()) < 1e-3
        assert server.metrics.linear_calls == 3


def test_wrong_uses_raise_fhellm_errors(encoder):
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        fhellm.torch.HybridModel(encoder, ["nope"])
    assert e.value.code_name == "unknown_layer"
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        fhellm.torch.HybridModel(encoder, ["norm1"])
    assert e.value.code_name == "invalid_argument" and "LayerNorm" in str(e.value)
    hybrid = fhellm.torch.HybridModel(encoder, ["query"])
    with pytest.raises(fhellm.InvalidArgumentError):
        hybrid.set_fhe_mode("simulate")  # before compile_model
    hybrid.compile_model(sample())
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        hybrid.set_fhe_mode("fast")
    assert e.value.code_name == "bad_mode"
    hybrid.set_fhe_mode("simulate")
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        hybrid.remote_modules["query"](torch.randn(3, 7))
    assert e.value.code_name == "shape_mismatch"
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        hybrid.remote_modules["query"](torch.full((2, 48), float("nan")))
    assert e.value.code_name == "bad_quantization"
