"""fhellm: private LLM inference with homomorphic encryption, from Python.

The client holds the secret key, the tokenizer and every non-linear layer;
the server holds the weights of the linear layers and multiplies them by
encrypted activations (RLWE). docs/python.md.

    import fhellm
    model = fhellm.Model.load("models/stories260K.bin", fhe="execute")
    print(model.generate("Once upon a time", max_new_tokens=32).text)
    print(model.last_stats.decode_ms_per_token, model.last_stats.bytes_up)

fhellm.Model        the engine's models (llama2.c, Hugging Face, GGUF), Concrete ML style
fhellm.Client       a client artifact and a server URL
fhellm.Server       serves a server artifact
fhellm.RemoteLayers the remote linear layers of any model (what fhellm.torch runs on)
fhellm.linear       the encrypted matrix product with numpy arrays and bytes
fhellm.torch        HybridModel: any PyTorch model (import fhellm.torch; needs torch)
Errors: fhellm.Error and its subclasses, with .code, .code_name and .kind.
"""
from ._fhellm import (
    ClientStats,
    CompileResult,
    Error,
    FormatError,
    GenerateResult,
    InternalError,
    Interrupted,
    InvalidArgumentError,
    IoError,
    Model,
    ModelInfo,
    PerplexityResult,
    PrecomputeResult,
    ProtocolError,
    RemoteLayerInfo,
    RemoteLayers,
    RemoteLayersStats,
    SecurityError,
    ServedModel,
    Server,
    ServerMetrics,
    __version__,
    error_codes,
)
from . import linear

FHE_MODES = ("disable", "simulate", "execute")


class Client(Model):
    """A client artifact (NAME.client from Model.compile or `fhellm compile`) and
    the server that holds its remote weights: always in execute mode."""

    def __init__(self, artifact, server_url, *, precision="default", timeout=120.0, api_key="", ca_cert="",
                 online=False, online_store="", client_key=""):
        super().__init__(artifact=str(artifact), server_url=server_url, fhe="execute",
                         precision=precision, timeout=timeout, api_key=api_key, ca_cert=ca_cert,
                         online=online, online_store=str(online_store), client_key=str(client_key))


def raise_error(code_name, message):
    """Raises the fhellm exception of `code_name` (a key of error_codes)."""
    from ._fhellm import _raise
    _raise(error_codes[code_name], message)


__all__ = [
    "Client", "ClientStats", "CompileResult", "Error", "FHE_MODES", "FormatError", "GenerateResult",
    "InternalError", "Interrupted", "InvalidArgumentError", "IoError", "Model", "ModelInfo", "PerplexityResult",
    "PrecomputeResult",
    "ProtocolError", "RemoteLayerInfo", "RemoteLayers", "RemoteLayersStats", "SecurityError",
    "ServedModel", "Server", "ServerMetrics", "error_codes", "linear", "raise_error",
]
