"""The feedforward LMU layer equals the recurrent cell with zero recurrent parts."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import lmu  # noqa: E402
from lmu.feedforward import LMUFeedforward  # noqa: E402
from lmu.reference import lmu_cell_numpy  # noqa: E402

ORDER, UNITS, THETA, STEPS, N_IN = 12, 5, 17.0, 40, 2


def _system(theta=THETA, method="zoh", order=ORDER):
    A, B = lmu.legendre_system(order, theta)
    return lmu.discretize(A, B, dt=1.0, method=method)


def _reference_weights(layer, theta=THETA, method="zoh"):
    """The recurrent cell's weights with e_h = e_m = 0 and W_h = 0."""
    Ad, Bd = _system(theta, method)
    units = layer.units
    w = {
        "input_encoders": layer.input_encoders.numpy(),
        "hidden_encoders": np.zeros((units, 1)),
        "memory_encoders": np.zeros((ORDER, 1)),
        "input_kernel": layer.input_kernel.numpy(),
        "hidden_kernel": np.zeros((units, units)),
        "memory_kernel": layer.memory_kernel.numpy(),
        "AT": (Ad - np.eye(ORDER)).T,
        "BT": Bd.T,
    }
    if layer.use_bias:
        w["bias"] = layer.bias.numpy()
    return w


@pytest.fixture(autouse=True)
def _seed():
    """Stable random initial weights."""
    keras.utils.set_random_seed(0)


@pytest.fixture
def x(rng):
    return rng.standard_normal((3, STEPS, N_IN)).astype(np.float32)


@pytest.mark.parametrize(
    "return_sequences, conv_mode",
    [(False, "auto"), (False, "matmul"), (False, "fft"), (True, "auto"), (True, "fft")],
)
@pytest.mark.parametrize("method", ["zoh", "euler"])
def test_equals_recurrent_reference(x, return_sequences, conv_mode, method):
    # Euler is unstable for this order at small theta; 60 steps is stable
    theta = THETA if method == "zoh" else 60.0
    assert np.abs(np.linalg.eigvals(_system(theta, method)[0])).max() < 1
    layer = LMUFeedforward(
        UNITS,
        ORDER,
        theta,
        discretizer=method,
        use_bias=True,
        bias_initializer="random_normal",
        return_sequences=return_sequences,
        conv_mode=conv_mode,
    )
    y = layer(x).numpy()
    h, _ = lmu_cell_numpy(x, _reference_weights(layer, theta=theta, method=method))
    ref = h if return_sequences else h[:, -1]
    assert y.shape == ref.shape
    np.testing.assert_allclose(y, ref, atol=2e-6, rtol=1e-5)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_memory_only_equals_simulate_memory(rng, return_sequences):
    u = rng.standard_normal((4, STEPS, 1)).astype(np.float32)
    layer = LMUFeedforward(
        None,
        ORDER,
        THETA,
        input_encoders_initializer="ones",
        return_sequences=return_sequences,
    )
    m = layer(u).numpy()
    ref = lmu.simulate_memory(u, ORDER, THETA)
    ref = ref if return_sequences else ref[:, -1]
    assert m.shape == ref.shape
    np.testing.assert_allclose(m, ref, atol=2e-6, rtol=1e-5)


def _analytic_gradients(x, layer, c, return_sequences):
    """Gradients of sum(c * y) by hand from the equations (float64 NumPy)."""
    w = _reference_weights(layer)
    x64 = x.astype(np.float64)
    h, m = lmu_cell_numpy(x64, w)
    if not return_sequences:
        full_c = np.zeros_like(h)
        full_c[:, -1] = c
        c = full_c
    dz = c * (1 - h**2)  # (B, T, units)
    grads = {
        "memory_kernel": np.einsum("btd,btu->du", m, dz),
        "input_kernel": np.einsum("bti,btu->iu", x64, dz),
        "bias": dz.sum(axis=(0, 1)),
    }
    Ad, Bd = _system()
    H = lmu.impulse_response(Ad, Bd, STEPS)  # m_t = sum_k H[t-k] u_k
    dm = dz @ w["memory_kernel"].T  # (B, T, d)
    du = np.zeros(x.shape[:2])
    for k in range(STEPS):
        du[:, k] = np.einsum("btd,td->b", dm[:, k:], H[: STEPS - k])
    grads["input_encoders"] = np.einsum("bti,bt->i", x64, du)[:, None]
    return grads


@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_match_equations(x, rng, return_sequences):
    layer = LMUFeedforward(
        UNITS, ORDER, THETA, use_bias=True, return_sequences=return_sequences
    )
    layer(x)
    shape = (3, STEPS, UNITS) if return_sequences else (3, UNITS)
    c = rng.standard_normal(shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.constant(c, tf.float32) * layer(x))
    names = ["input_encoders", "input_kernel", "memory_kernel", "bias"]
    got = tape.gradient(loss, [getattr(layer, n) for n in names])
    want = _analytic_gradients(x, layer, c, return_sequences)
    for name, g in zip(names, got):
        scale = np.abs(want[name]).max()
        np.testing.assert_allclose(g.numpy(), want[name], atol=2e-5 * scale, err_msg=name)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_trainable_theta(x, rng, return_sequences):
    layer = LMUFeedforward(
        UNITS, ORDER, THETA, trainable_theta=True, return_sequences=return_sequences
    )
    fixed = LMUFeedforward(UNITS, ORDER, THETA, return_sequences=return_sequences)
    y = layer(x)
    fixed(x)
    fixed.set_weights(layer.get_weights()[:3])
    np.testing.assert_allclose(y.numpy(), fixed(x).numpy(), atol=2e-6)
    assert any(v is layer.theta for v in layer.trainable_variables)
    # d loss / d theta against a central difference of the float64 reference
    c = rng.standard_normal(y.shape)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.constant(c, tf.float32) * layer(x))
    g = float(tape.gradient(loss, layer.theta))

    def ref_loss(theta):
        h, _ = lmu_cell_numpy(x, _reference_weights(layer, theta=theta))
        return np.sum(c * (h if return_sequences else h[:, -1]))

    eps = 1e-3
    fd = (ref_loss(THETA + eps) - ref_loss(THETA - eps)) / (2 * eps)
    assert abs(fd) > 1e-4  # theta matters, so the comparison means something
    np.testing.assert_allclose(g, fd, rtol=2e-3, atol=1e-5)


def test_trainable_theta_learns(x):
    """Gradient descent on theta alone recovers the window of a target memory."""
    kw = dict(input_encoders_initializer="ones", return_sequences=True)
    layer = LMUFeedforward(None, ORDER, THETA, trainable_theta=True, **kw)
    y_target = LMUFeedforward(None, ORDER, 25.0, **kw)(x)
    opt = keras.optimizers.Adam(0.5)
    losses = []
    for _ in range(60):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((layer(x) - y_target) ** 2)
        opt.apply_gradients([(tape.gradient(loss, layer.theta), layer.theta)])
        losses.append(float(loss))
    assert losses[-1] < 0.01 * losses[0]
    assert abs(float(layer.theta) - 25.0) < 1.0


def test_serialization_roundtrip(x, tmp_path):
    inp = keras.Input((STEPS, N_IN))
    out = LMUFeedforward(
        UNITS, ORDER, THETA, trainable_theta=True, use_bias=True, return_sequences=True
    )(inp)
    model = keras.Model(inp, keras.layers.Dense(1)(out))
    path = tmp_path / "ff.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
    config = model.layers[1].get_config()
    assert config["order"] == ORDER and config["trainable_theta"] is True
    assert LMUFeedforward.from_config(config).get_config() == config


def test_parameter_counts():
    layer = LMUFeedforward(212, 256, 784.0)
    layer.build((None, 784, 1))
    n_trainable = sum(int(np.prod(v.shape)) for v in layer.trainable_variables)
    assert n_trainable == 1 + 212 + 256 * 212
    assert not layer.non_trainable_variables


def test_bad_arguments():
    with pytest.raises(ValueError, match="conv_mode"):
        LMUFeedforward(4, 8, 10.0, conv_mode="raw")
    with pytest.raises(ValueError, match="conv_mode"):
        LMUFeedforward(4, 8, 10.0, conv_mode="matmul", return_sequences=True)
    with pytest.raises(ValueError, match="theta"):
        LMUFeedforward(4, 8, -1.0)
    with pytest.raises(TypeError, match="units"):
        LMUFeedforward(2.5, 8, 10.0)
    with pytest.raises(ValueError, match="discretizer"):
        LMUFeedforward(4, 8, 10.0, discretizer="bilinear")
    with pytest.raises(TypeError, match="return_sequences"):
        LMUFeedforward(4, 8, 10.0, return_sequences="yes")
    with pytest.raises(ValueError, match="batch, T, n_in"):
        LMUFeedforward(4, 8, 10.0)(np.zeros((2, 5), np.float32))
