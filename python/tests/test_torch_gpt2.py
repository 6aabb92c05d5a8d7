"""fhellm.torch on a PyTorch GPT-2 written in the test (gpt2_torch.py) from
the trained GPT-2's Hugging Face weights, every linear layer remote: its
simulate logits equal the C++ engine's, execute equals simulate, and its
saved server artifact is served by `fhellm serve` to the C++ client."""
import re
import subprocess

import numpy as np
import pytest
import torch

import fhellm
import fhellm.torch
from conftest import FHELLM, GPT2_DIR, assert_within_floor, capture_remote_calls, cli_json, shared
from gpt2_torch import GPT2LMHeadModel

PROMPT = "In Insert mode you can"


@pytest.fixture(scope="module")
def engine():
    shared("models/gpt2-vimdoc-small")
    return fhellm.Model.load(str(GPT2_DIR), fhe="simulate")


@pytest.fixture(scope="module")
def ids(engine):
    return engine.generate(PROMPT, max_new_tokens=1).prompt_ids


def hybrid_gpt2(ids, precision):
    model = GPT2LMHeadModel.from_pretrained(GPT2_DIR)
    hybrid = fhellm.torch.HybridModel(model, "all-linear")
    hybrid.compile_model(ids, n_bits=8, precision=precision)
    return hybrid


def relative(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_remote_modules_are_the_engine_groups(ids):
    hybrid = hybrid_gpt2(ids, "default")
    assert len(hybrid.remote_modules) == 4 * 4 + 1
    assert hybrid.groups["transformer.h.2.attn.c_attn"] == "layers.2.qkv"
    assert hybrid.groups["transformer.h.3.mlp.c_proj"] == "layers.3.mlp_down"
    assert hybrid.groups["lm_head"] == "lm_head"
    info = hybrid.layers.info("layers.0.mlp_up")
    w = hybrid.remote_modules["transformer.h.0.mlp.c_fc"].weight_matrix()
    q, scales = fhellm.torch.quantize_weights_reference(w)
    assert (info.n_out, info.n_in) == (512, 128)
    np.testing.assert_array_equal(info.values, q)
    np.testing.assert_array_equal(info.scales, scales)


@pytest.mark.parametrize("precision", ["default", "exact"])
def test_simulate_logits_equal_the_engine(engine, ids, precision):
    hybrid = hybrid_gpt2(ids, precision)
    # fhellm.torch makes the linear modules remote: the engine with the same set (its default also
    # looks the token table up on the server, in its int8 quantization).
    engine_model = fhellm.Model.load(str(GPT2_DIR), fhe="disable", precision=precision, remote="all-linear")
    hybrid.set_fhe_mode("disable")
    disable = hybrid(ids).numpy()
    ref_disable = engine_model.logits(ids)
    # disable: PyTorch's own products (BLAS) against the engine's
    assert relative(disable, ref_disable) < 1e-4
    hybrid.set_fhe_mode("simulate")
    simulate = hybrid(ids).numpy()
    engine_model.set_fhe_mode("simulate")
    ref = engine_model.logits(ids)
    print(f"simulate vs engine simulate ({precision}): max rel {relative(simulate, ref):.3g}")
    assert relative(simulate, ref) <= 1e-5
    assert np.argmax(simulate, axis=1).tolist() == np.argmax(ref, axis=1).tolist()
    assert relative(simulate, disable) > 0  # quantization did happen
    assert relative(simulate, disable) < 0.05


def test_generate_in_simulate_equals_the_engine(engine, ids):
    hybrid = hybrid_gpt2(ids, "default")
    hybrid.set_fhe_mode("simulate")
    out = hybrid.generate(ids, max_new_tokens=4)
    assert out == engine.generate(PROMPT, max_new_tokens=4).ids


def test_execute_equals_simulate_exactly(ids):
    hybrid = hybrid_gpt2(ids, "exact")
    hybrid.set_fhe_mode("simulate")
    simulate = hybrid(ids[:4]).numpy()
    hybrid.set_fhe_mode("execute")
    hybrid.reset_stats()
    execute = hybrid(ids[:4]).numpy()
    np.testing.assert_array_equal(execute, simulate)
    s = hybrid.stats
    assert s.execute_calls == 17 and s.bytes_up > 0 and s.bytes_down > 0 and s.server_ms > 0


def test_execute_default_precision_within_the_floor(ids):
    hybrid = hybrid_gpt2(ids, "default")
    hybrid.set_fhe_mode("simulate")
    simulate = hybrid(ids[:4]).numpy()
    hybrid.set_fhe_mode("execute")
    captured = capture_remote_calls(hybrid, lambda: hybrid(ids[:4]))
    worst = assert_within_floor(hybrid, captured)
    execute = captured["lm_head"][0][1].numpy()
    print(f"execute (default): largest error {worst:.2f} floors; logits vs simulate max rel "
          f"{relative(execute, simulate):.3g}")
    assert np.argmax(execute, axis=1).tolist() == np.argmax(simulate, axis=1).tolist()


def test_saved_artifact_serves_the_cpp_client(engine, ids, tmp_path):
    hybrid = hybrid_gpt2(ids, "exact")
    path = hybrid.save(str(tmp_path / "gpt2"))
    server = subprocess.Popen([str(FHELLM), "serve", "--artifact", path, "--listen", "127.0.0.1:0",
                               "--precision", "exact"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in server.stdout:
            m = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
                break
        assert url, "fhellm serve printed no URL"
        # The C++ client: the engine's GPT-2 with the Python-quantized weights on the server
        # (fhellm.torch serves the linear modules: the token table stays with the client).
        r = cli_json("generate", "--model", GPT2_DIR, "--server", url, "--fhe", "execute", "--precision", "exact",
                     "--remote", "all-linear", "-p", PROMPT, "-n", 6)
        ref = cli_json("generate", "--model", GPT2_DIR, "--fhe", "simulate", "--precision", "exact",
                       "--remote", "all-linear", "-p", PROMPT, "-n", 6)
        assert r["ids"] == ref["ids"]
        # And the Python model through the same server.
        hybrid.set_fhe_mode("execute", server_url=url)
        hybrid.set_fhe_mode("simulate")
        simulate = hybrid(ids[:3]).numpy()
        hybrid.set_fhe_mode("execute")
        np.testing.assert_array_equal(hybrid(ids[:3]).numpy(), simulate)
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_server_with_other_layers_is_refused(ids, tmp_path):
    hybrid = hybrid_gpt2(ids, "exact")
    other = fhellm.torch.HybridModel(GPT2LMHeadModel.from_pretrained(GPT2_DIR), ["lm_head"])
    other.compile_model(ids, precision="exact")
    with fhellm.Server(other.save(str(tmp_path / "other")), port=0, precisions=["exact"]) as server:
        with pytest.raises(fhellm.FormatError) as e:
            hybrid.set_fhe_mode("execute", server_url=server.url)
        assert e.value.code_name == "bad_artifact"
