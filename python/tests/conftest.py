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
