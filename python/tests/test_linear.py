"""fhellm.linear: numpy round trips of the encrypted product, and clear
exceptions for wrong dtypes, shapes and bytes."""
import numpy as np
import pytest

import fhellm
from fhellm import linear


@pytest.fixture(scope="module")
def client():
    return linear.Client()


@pytest.fixture(scope="module")
def keys(client):
    return linear.ServerKeys(client.server_keys())


def product(x, w):
    return x.astype(np.int64) @ w.astype(np.int64).T


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_exact_round_trip(client, keys, dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, size=(3, 200), endpoint=True).astype(dtype)
    w = rng.integers(-127, 127, size=(70, 200), endpoint=True).astype(np.int8)
    weights = linear.Weights(w, precisions=["exact"])
    assert weights.shape == (70, 200) and weights.encoded_bytes > 0
    upload = client.encrypt(x, out=70, precision="exact")
    assert isinstance(upload, bytes)
    assert linear.peek_upload(upload) == {"rows": 3, "in": 200, "out": 70, "precision": "exact",
                                          "input_signed": dtype == np.int8}
    reply = linear.evaluate(upload, weights, keys, threads=2)
    assert linear.peek_reply(reply)["out"] == 70
    y = client.decrypt(reply)
    assert y.dtype == np.int64 and y.shape == (3, 70)
    np.testing.assert_array_equal(y, product(x, w))


def test_default_precision_within_its_bound(client, keys):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 255, size=(2, 512), endpoint=True).astype(np.uint8)
    w = rng.integers(-127, 127, size=(300, 512), endpoint=True).astype(np.int8)
    y = client.decrypt(linear.evaluate(client.encrypt(x, 300), linear.Weights(w), keys))
    bound = 512 * 255 * 128 * 2.0 ** -16  # the documented floor: 2^-16 of the largest value
    err = np.abs(y - product(x, w)).max()
    print(f"default precision: max error {err} (bound {bound:.0f})")
    assert err <= bound


def test_non_contiguous_input_is_copied(client, keys):
    w = np.arange(-20, 20, dtype=np.int8).reshape(4, 10)
    x = np.arange(60, dtype=np.uint8).reshape(6, 10)[::2]  # a strided view
    y = client.decrypt(linear.evaluate(client.encrypt(x, 4, "exact"), linear.Weights(w, ["exact"]), keys))
    np.testing.assert_array_equal(y, product(x, w))


def test_wrong_dtypes_and_shapes(client):
    x = np.zeros((2, 8), dtype=np.uint8)
    for bad in (x.astype(np.float32), x.astype(np.int32), x.astype(np.uint16)):
        with pytest.raises(fhellm.InvalidArgumentError) as e:
            client.encrypt(bad, 4)
        assert e.value.code_name == "invalid_argument" and "dtype" in str(e.value)
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        client.encrypt([[1, 2]], 4)
    assert "numpy array" in str(e.value)
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        client.encrypt(np.zeros(8, dtype=np.uint8), 4)
    assert e.value.code_name == "shape_mismatch"
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        client.encrypt(np.zeros((0, 8), dtype=np.uint8), 4)
    assert e.value.code_name == "shape_mismatch"
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        client.encrypt(x, 0)
    assert e.value.code_name == "shape_mismatch"
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        client.encrypt(np.zeros((513, 8), dtype=np.uint8), 4)
    assert e.value.code_name == "shape_mismatch"
    with pytest.raises(fhellm.InvalidArgumentError):
        client.encrypt(x, 4, precision="approximate")
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        linear.Weights(np.zeros((4, 8), dtype=np.float32))
    assert "int8" in str(e.value)
    with pytest.raises(fhellm.InvalidArgumentError):
        linear.Weights(np.zeros((4, 8), dtype=np.int8), precisions=[])


def test_mismatched_and_hostile_bytes(client, keys):
    w = linear.Weights(np.ones((4, 8), dtype=np.int8))
    upload = client.encrypt(np.ones((1, 16), dtype=np.uint8), 4)
    with pytest.raises(fhellm.InvalidArgumentError) as e:
        linear.evaluate(upload, w, keys)  # 16 inputs for a layer of 8
    assert e.value.code_name == "shape_mismatch"
    good = client.encrypt(np.ones((1, 8), dtype=np.uint8), 4)
    with pytest.raises(fhellm.FormatError) as e:
        linear.evaluate(good[:-5], w, keys)
    assert e.value.code_name in ("truncated", "bad_message")
    with pytest.raises(fhellm.FormatError) as e:
        linear.evaluate(b"XXXX" + good[4:], w, keys)
    assert e.value.code_name == "bad_magic"
    reply = linear.evaluate(good, w, keys)
    with pytest.raises(fhellm.FormatError):
        client.decrypt(reply + b"\0")
    with pytest.raises(fhellm.FormatError):
        linear.ServerKeys(b"not keys")
    with pytest.raises(fhellm.InvalidArgumentError):
        client.decrypt("a string")
    np.testing.assert_array_equal(client.decrypt(bytearray(reply)), client.decrypt(memoryview(reply)))


def test_default_weights_serve_exact(client, keys):
    # Exact calls ride on the default encoding: no second encoding to ask for.
    rng = np.random.default_rng(3)
    wm = rng.integers(-128, 128, size=(4, 8), dtype=np.int8)
    x = rng.integers(0, 256, size=(3, 8), dtype=np.uint8)
    w = linear.Weights(wm)  # default only
    y = client.decrypt(linear.evaluate(client.encrypt(x, 4, "exact"), w, keys))
    np.testing.assert_array_equal(y, x.astype(np.int64) @ wm.astype(np.int64).T)
