"""fhellm.torch on models the C++ engine does not have: a BERT-like encoder
block and an MLP, built in the test. Simulate equals a numpy re-derivation
of the engine's quantization (precision "exact": no modelled error), execute
equals simulate bit for bit at "exact" and within the floor at "default"."""
import numpy as np
import pytest
import torch

import fhellm
import fhellm.torch
from conftest import assert_within_floor, capture_remote_calls, reference_linear


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
        module = hybrid.remote_modules[name]
        ref, _, _ = reference_linear(module.weight_matrix(), module._bias, inp.numpy())
        np.testing.assert_array_equal(out.numpy().reshape(ref.shape), ref, err_msg=name)
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
    # Each layer's product within the default precision's floor of the exact
    # one. (The model's outputs may differ from simulate's by more: simulate
    # draws its own rounding errors, and an activation moved by one of them
    # can round to the next 8-bit level in the next layer.)
    captured = capture_remote_calls(hybrid, lambda: hybrid(x))
    print(f"mlp execute (default precision): largest error {assert_within_floor(hybrid, captured):.2f} floors")
    execute = captured["4"][0][1]
    assert execute.shape == (8, 3)
    assert float((execute - simulate).abs().max() / simulate.abs().max()) < 0.05
    # served from its artifact by fhellm.Server
    with fhellm.Server(hybrid.save(str(tmp_path / "mlp")), port=0) as server:
        hybrid.set_fhe_mode("execute", server_url=server.url)
        captured = capture_remote_calls(hybrid, lambda: hybrid(x))
        assert_within_floor(hybrid, captured)
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
