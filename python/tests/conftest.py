"""Paths and helpers shared by the Python tests (run by ctest: python/CMakeLists.txt
sets PYTHONPATH=build/python and the FHELLM_*_DIR variables)."""
import json
import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("FHELLM_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BINARY_DIR = pathlib.Path(os.environ.get("FHELLM_BINARY_DIR", SOURCE_DIR / "build"))
SHARED_DIR = pathlib.Path(os.environ.get("FHELLM_SHARED_DIR", SOURCE_DIR.parent / "shared"))
FHELLM = BINARY_DIR / "fhellm"
STORIES = SOURCE_DIR / "models" / "stories260K.bin"
GPT2_DIR = SHARED_DIR / "models" / "gpt2-vimdoc-small"


def shared(path):
    """A file under ../shared, or a skip that names it (as the C++ tests do)."""
    p = SHARED_DIR / path
    if not p.exists():
        pytest.skip(f"needs ../shared: no {p}")
    return p


def cli(*args, timeout=300):
    """Runs the fhellm binary; returns its stdout."""
    r = subprocess.run([str(FHELLM), *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"fhellm {' '.join(map(str, args))} exited {r.returncode}: {r.stderr}"
    return r.stdout


def cli_json(*args, timeout=300):
    return json.loads(cli(*args, "--json", timeout=timeout).strip().splitlines()[-1])


def reference_linear(w, bias, x, bits=8):
    """y = x W^T + b of one remote layer as the engine computes it at precision
    "exact", re-derived in numpy from the formulas of src/quant/quantize.h."""
    import numpy as np
    import fhellm.torch
    qw, ws = fhellm.torch.quantize_weights_reference(w, bits)
    rows = np.asarray(x, dtype=np.float32).reshape(-1, w.shape[1])
    qx, xs, zp = fhellm.torch.quantize_rows_reference(rows)
    acc = qx.astype(np.int64) @ qw.astype(np.int64).T
    corrected = (acc - zp[:, None].astype(np.int64) * qw.astype(np.int64).sum(axis=1)[None, :]).astype(np.float32)
    y = (xs[:, None] * ws[None, :]) * corrected
    if bias is not None:
        y = y + bias
    return y.astype(np.float32), xs, ws


def capture_remote_calls(hybrid, run):
    """Runs run() with hooks on every remote module: name -> [(input, output)]."""
    captured = {}
    hooks = [m.register_forward_hook(
        lambda mod, inp, out, n=n: captured.setdefault(n, []).append((inp[0].detach(), out.detach())))
        for n, m in hybrid.remote_modules.items()]
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return captured


def assert_within_floor(hybrid, captured):
    """Each remote call's output within the default precision's documented
    floor of the exact product: |acc - exact| <= floor(k * 255 * 128 * 2^-16)
    (docs/linear.md), i.e. x_scale * w_scale * floor in output units (plus
    float32 rounding). Returns the largest error in floors."""
    import numpy as np
    worst = 0.0
    for name, calls in captured.items():
        module = hybrid.remote_modules[name]
        w = module.weight_matrix()
        floor = (w.shape[1] * 255 * 128) >> 16
        for inp, out in calls:
            ref, xs, ws = reference_linear(w, module._bias, inp.numpy())
            got = out.numpy().reshape(ref.shape)
            unit = xs[:, None] * ws[None, :]
            err = np.abs(got - ref)
            slack = 1e-5 * np.abs(ref) + 1e-6
            assert (err <= unit * floor + slack).all(), f"{name}: error above the floor"
            worst = max(worst, float(((err - slack).clip(0) / (unit * max(floor, 1))).max()))
    return worst
