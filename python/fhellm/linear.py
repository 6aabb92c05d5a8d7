"""fhellm.linear: the encrypted matrix product Y = X W^T, for people building
their own protocols (include/fhellm/linear.h, docs/linear.md).

    from fhellm import linear
    client = linear.Client()                       # fresh secret keys
    keys = client.server_keys()                    # bytes, public, once per session
    upload = client.encrypt(x, out=w.shape[0])     # x: uint8 or int8 array [rows, in]
    # server side
    weights = linear.Weights(w)                    # w: int8 array [out, in], encoded once
    reply = linear.evaluate(upload, weights, linear.ServerKeys(keys))
    y = client.decrypt(reply)                      # int64 array [rows, out]

precision="default": each value within 2^-16 of the largest value the layer
can produce (in * max|x| * 128); "exact": every bit (each row evaluated twice;
any Weights serve both precisions).
"""
from ._fhellm import linear as _linear

Client = _linear.Client
ServerKeys = _linear.ServerKeys
Weights = _linear.Weights
evaluate = _linear.evaluate
peek_upload = _linear.peek_upload
peek_reply = _linear.peek_reply
MAX_ROWS = _linear.MAX_ROWS
MAX_IN = _linear.MAX_IN
MAX_OUT = _linear.MAX_OUT

__all__ = ["Client", "ServerKeys", "Weights", "evaluate", "peek_upload", "peek_reply",
           "MAX_ROWS", "MAX_IN", "MAX_OUT"]
