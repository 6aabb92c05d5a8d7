"""Python's overhead per token against the C++ client (docs/python.md, "Measured").

    PYTHONPATH=build/python python3 bench/python/overhead.py [--model PATH] [--fhe execute] [-n 64] [--runs 5]
                                                             [--precision exact]

For each run: the CLI (`fhellm generate --json`, the C++ client facade) and
fhellm.Model.generate (the same facade through the bindings, with a stream
callback) generate the same greedy tokens; printed: the median decode ms per
token of each, and the binding's own cost per token (wall time of the Python
call minus the facade's total_ms, over the tokens).
Then fhellm.torch: the Python side of one remote layer call (RemoteModule.forward
wall time minus the engine's own time in RemoteLayers), per call and per token
of a GPT-2 shape of 4 layers (17 remote calls).
"""
import argparse
import json
import resource
import pathlib
import statistics
import subprocess
import time

import fhellm

ROOT = pathlib.Path(__file__).resolve().parents[2]


def cli_run(model, fhe, n, prompt, precision):
    out = subprocess.run([str(ROOT / "build" / "fhellm"), "generate", "--model", model, "--fhe", fhe, "-n", str(n),
                          "-p", prompt, "--precision", precision, "--json"],
                         capture_output=True, text=True, check=True).stdout
    j = json.loads(out.strip().splitlines()[-1])
    return j["ids"], 1e3 * j["decode_seconds"] / max(1, j["n_generated"] - 1)


def cpu_s(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def cli_cpu(model, fhe, n, prompt, precision):
    before = cpu_s(resource.RUSAGE_CHILDREN)
    cli_run(model, fhe, n, prompt, precision)
    return cpu_s(resource.RUSAGE_CHILDREN) - before


def python_cpu(m, n, prompt):
    before = cpu_s(resource.RUSAGE_SELF)
    m.generate(prompt, max_new_tokens=n, stream=lambda piece: None)
    return cpu_s(resource.RUSAGE_SELF) - before


def python_run(m, n, prompt):
    pieces = []
    start = time.perf_counter()
    r = m.generate(prompt, max_new_tokens=n, stream=pieces.append)
    wall_ms = 1e3 * (time.perf_counter() - start)
    s = m.last_stats
    return r.ids, s.decode_ms_per_token, (wall_ms - s.total_ms) / len(r.ids)


def torch_layer_overhead(calls=300):
    import numpy as np
    import torch
    import fhellm.torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(128, 512), torch.nn.GELU(), torch.nn.Linear(512, 128))
    hybrid = fhellm.torch.HybridModel(model, "all-linear")
    x = torch.randn(1, 128)
    hybrid.compile_model(x)
    hybrid.set_fhe_mode("simulate")
    for _ in range(20):
        hybrid(x)
    hybrid.reset_stats()
    remote = list(hybrid.remote_modules.values())
    start = time.perf_counter()
    for _ in range(calls):
        h = remote[0](x)
        remote[1](h)
    wall_ms = 1e3 * (time.perf_counter() - start)
    engine_ms = hybrid.stats.simulate_ms
    return (wall_ms - engine_ms) / (2 * calls), engine_ms / (2 * calls)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(ROOT / "models" / "stories260K.bin"))
    p.add_argument("--fhe", default="execute")
    p.add_argument("-n", type=int, default=64)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--prompt", default="Once upon a time")
    p.add_argument("--precision", default="exact", help="exact: both sides generate the same tokens in execute")
    a = p.parse_args()
    m = fhellm.Model.load(a.model, fhe=a.fhe, precision=a.precision)
    m.generate(a.prompt, max_new_tokens=2)  # the execute session opens
    cli_ms, py_ms, binding_ms = [], [], []
    for _ in range(a.runs):
        ids_c, c = cli_run(a.model, a.fhe, a.n, a.prompt, a.precision)
        ids_p, d, b = python_run(m, a.n, a.prompt)
        assert ids_c == ids_p, "the CLI and Python generated different tokens"
        cli_ms.append(c)
        py_ms.append(d)
        binding_ms.append(b)
    # CPU time (user + system, every thread) of the later tokens: a run of n
    # tokens minus a run of 1 (the CLI's start, load and session cancel out),
    # less sensitive than wall time to other load on the machine.
    cli_cpu_ms, py_cpu_ms = [], []
    for _ in range(a.runs):
        cli_cpu_ms.append(1e3 * (cli_cpu(a.model, a.fhe, a.n, a.prompt, a.precision) -
                                 cli_cpu(a.model, a.fhe, 1, a.prompt, a.precision)) / (a.n - 1))
        py_cpu_ms.append(1e3 * (python_cpu(m, a.n, a.prompt) - python_cpu(m, 1, a.prompt)) / (a.n - 1))
    cc, pc = statistics.median(cli_cpu_ms), statistics.median(py_cpu_ms)
    c, d, b = statistics.median(cli_ms), statistics.median(py_ms), statistics.median(binding_ms)
    print(f"{pathlib.Path(a.model).name} fhe={a.fhe} precision={a.precision} n={a.n} runs={a.runs}")
    print(f"  decode ms/token: CLI {c:.3f}, Python {d:.3f} ({100 * (d / c - 1):+.1f}%)")
    print(f"  CPU ms/token (user+sys, n tokens minus 1): CLI {cc:.3f}, Python {pc:.3f} ({100 * (pc / cc - 1):+.1f}%)")
    print(f"  binding cost per token (Python wall - facade total): {1e3 * b:.1f} us ({100 * b / d:.2f}% of a token)")
    over, engine = torch_layer_overhead()
    print(f"fhellm.torch remote call 128->512 / 512->128, one row, simulate: engine {1e3 * engine:.1f} us, "
          f"Python side {1e3 * over:.1f} us per call ({17 * over:.2f} ms per token of 17 remote calls)")


if __name__ == "__main__":
    main()
