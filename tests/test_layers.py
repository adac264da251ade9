"""Tests of the Keras LMU layers (lmu/layers.py) against the NumPy reference."""

import json
import os
import subprocess
import sys

import numpy as np
import numpy.polynomial.legendre as npleg
import pytest

import lmu
from lmu.reference import lmu_cell_numpy

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from lmu.layers import LMU, Legendre, LMUCell, discrete_memory_matrices  # noqa: E402

N_IN, UNITS, ORDER, THETA, T, BATCH = 3, 5, 4, 6.0, 12, 2
# LMU's ways to run the sequence (tests/test_fast.py compares them in depth)
IMPLEMENTATIONS = ["cell", "chunked", "fused"]


def _randomize(cell, rng, skip=("AT", "BT", "log_theta")):
    """Give every encoder, kernel and bias random non-zero values; return the weights dict."""
    for v in cell.weights:
        if v.name in skip:
            continue
        fan = max(v.shape[0], 1)
        v.assign(rng.uniform(-1.0, 1.0, v.shape) / np.sqrt(fan))
    return {v.name: np.asarray(v) for v in cell.weights}


def _x(rng, batch=BATCH, steps=T, n_in=N_IN, dtype="float32"):
    return rng.standard_normal((batch, steps, n_in)).astype(dtype)


def _zoh_euler(order, theta, method):
    Ad, Bd = lmu.discretize(*lmu.legendre_system(order, theta), dt=1.0, method=method)
    return (Ad - np.eye(order)).T, Bd.T


# ------------------------------------------------------------------ reference
def test_reference_memory_equals_simulate_memory(rng):
    """With e_x = 1 and every other encoder 0, m is the Legendre memory of x."""
    order, theta = 6, 10.0
    AT, BT = _zoh_euler(order, theta, "zoh")
    w = dict(
        input_encoders=np.ones((1, 1)),
        hidden_encoders=np.zeros((3, 1)),
        memory_encoders=np.zeros((order, 1)),
        input_kernel=np.zeros((1, 3)),
        hidden_kernel=np.zeros((3, 3)),
        memory_kernel=np.zeros((order, 3)),
        AT=AT,
        BT=BT,
    )
    u = rng.standard_normal((2, 40))
    h, m = lmu_cell_numpy(u[..., None], w)
    np.testing.assert_allclose(m, lmu.simulate_memory(u, order, theta), atol=1e-12)
    np.testing.assert_array_equal(h, 0.0)


def test_reference_rejects_bad_input():
    w = {"AT": np.zeros((2, 2))}
    with pytest.raises(ValueError, match="x"):
        lmu_cell_numpy(np.zeros((3, 1)), w)
    with pytest.raises(ValueError, match="missing"):
        lmu_cell_numpy(np.zeros((1, 3, 1)), w)
    with pytest.raises(ValueError, match="activation"):
        lmu_cell_numpy(np.zeros((1, 3, 1)), w, activation="swish-ish")


# ------------------------------------------------------- cell vs reference
@pytest.mark.parametrize(
    "use_bias, activation", [(False, "tanh"), (True, "tanh"), (True, "relu"), (False, "linear")]
)
def test_cell_step_by_step_equals_reference(rng, use_bias, activation):
    cell = LMUCell(UNITS, ORDER, THETA, hidden_activation=activation, use_bias=use_bias)
    cell.build((None, N_IN))
    weights = _randomize(cell, rng)
    assert ("bias" in weights) == use_bias
    assert all(np.any(w != 0) for w in weights.values())
    x = _x(rng)
    h = np.zeros((BATCH, UNITS), "float32")
    m = np.zeros((BATCH, ORDER), "float32")
    hs, ms = [], []
    for t in range(T):
        out, (h, m) = cell(x[:, t], [h, m])
        np.testing.assert_array_equal(np.asarray(out), np.asarray(h))
        hs.append(np.asarray(h))
        ms.append(np.asarray(m))
    h_ref, m_ref = lmu_cell_numpy(x, weights, activation=activation)
    np.testing.assert_allclose(np.stack(hs, 1), h_ref, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np.stack(ms, 1), m_ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("discretizer", ["zoh", "euler"])
def test_lmu_layer_float64_equals_reference(rng, discretizer, implementation):
    layer = LMU(
        UNITS,
        ORDER,
        THETA,
        implementation=implementation,
        discretizer=discretizer,
        use_bias=True,
        return_sequences=True,
        return_state=True,
        dtype="float64",
    )
    x = _x(rng, dtype="float64")
    layer(x)
    weights = _randomize(layer.cell, rng)
    seq, h_last, m_last = (np.asarray(y) for y in layer(x))
    h_ref, m_ref = lmu_cell_numpy(x, weights)
    np.testing.assert_allclose(seq, h_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_last, h_ref[:, -1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m_last, m_ref[:, -1], rtol=1e-12, atol=1e-12)


def test_lmu_equals_rnn_of_cell(rng):
    x = _x(rng)
    layer = LMU(UNITS, ORDER, THETA, return_sequences=True)
    rnn = keras.layers.RNN(LMUCell(UNITS, ORDER, THETA), return_sequences=True)
    layer(x)
    rnn(x)
    _randomize(layer.cell, rng)
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(rnn(x)), atol=1e-6)


# ----------------------------------------------------------- memory matrices
@pytest.mark.parametrize("discretizer", ["zoh", "euler"])
@pytest.mark.parametrize("order, theta", [(1, 2.0), (7, 3.5), (20, 1000.0)])
def test_AT_BT_are_the_discretized_legendre_system(discretizer, order, theta):
    AT, BT = _zoh_euler(order, theta, discretizer)
    cell64 = LMUCell(2, order, theta, discretizer=discretizer, dtype="float64")
    cell64.build((None, 1))
    assert cell64.AT.shape == (order, order) and cell64.BT.shape == (1, order)
    np.testing.assert_allclose(np.asarray(cell64.AT), AT, rtol=1e-13, atol=0)
    np.testing.assert_allclose(np.asarray(cell64.BT), BT, rtol=1e-13, atol=0)
    cell32 = LMUCell(2, order, theta, discretizer=discretizer)
    cell32.build((None, 1))
    np.testing.assert_allclose(np.asarray(cell32.AT), AT, rtol=1e-6, atol=1e-12)
    # the in-graph discretization (used by trainable_theta) gives the same matrices
    ATg, BTg = discrete_memory_matrices(order, tf.constant(theta, "float64"), discretizer, "float64")
    np.testing.assert_allclose(np.asarray(ATg), AT, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(np.asarray(BTg), BT, rtol=1e-9, atol=1e-14)


def test_psmnist_cell_parameter_counts():
    def count(weights):
        return int(sum(np.prod(w.shape) for w in weights))

    cell = LMUCell(
        212,
        256,
        784.0,
        input_encoders_initializer="ones",
        hidden_encoders_initializer="zeros",
        input_kernel_initializer="zeros",
        hidden_kernel_initializer="zeros",
    )
    model = keras.Sequential(
        [keras.Input((784, 1)), keras.layers.RNN(cell), keras.layers.Dense(10, activation="softmax")]
    )
    assert count(cell.trainable_weights) == 99_897
    assert count(cell.non_trainable_weights) == 65_792
    assert count(model.trainable_weights) == 102_027
    assert count(model.non_trainable_weights) == 65_792


# ---------------------------------------------------------------- RNN options
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_return_sequences_and_state_shapes(rng, implementation):
    x = _x(rng)
    kw = dict(implementation=implementation)
    assert LMU(UNITS, ORDER, THETA, **kw)(x).shape == (BATCH, UNITS)
    assert LMU(UNITS, ORDER, THETA, return_sequences=True, **kw)(x).shape == (BATCH, T, UNITS)
    out, h, m = LMU(UNITS, ORDER, THETA, return_sequences=True, return_state=True, **kw)(x)
    assert out.shape == (BATCH, T, UNITS)
    assert h.shape == (BATCH, UNITS) and m.shape == (BATCH, ORDER)
    np.testing.assert_array_equal(np.asarray(out[:, -1]), np.asarray(h))
    # symbolic shapes in a functional model
    y = LMU(UNITS, ORDER, THETA, return_state=True, **kw)(keras.Input((None, N_IN)))
    assert [tuple(t.shape) for t in y] == [(None, UNITS), (None, UNITS), (None, ORDER)]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_stateful_carries_state(rng, implementation):
    x = _x(rng, steps=10)
    ref = LMU(UNITS, ORDER, THETA, return_state=True, implementation="cell")
    stateful = LMU(UNITS, ORDER, THETA, stateful=True, implementation=implementation)
    ref(x)
    stateful(x[:, :4])
    _randomize(ref.cell, rng)
    stateful.set_weights(ref.get_weights())
    stateful.reset_state()
    stateful(x[:, :4])
    second = np.asarray(stateful(x[:, 4:]))
    whole = np.asarray(ref(x)[0])
    np.testing.assert_allclose(second, whole, atol=1e-6)
    assert not np.allclose(second, np.asarray(ref(x[:, 4:])[0]), atol=1e-3)
    stateful.reset_state()
    np.testing.assert_allclose(
        np.asarray(stateful(x[:, :4])), np.asarray(ref(x[:, :4])[0]), atol=1e-6
    )


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_go_backwards_equals_reversed_input(rng, implementation):
    x = _x(rng)
    fwd = LMU(UNITS, ORDER, THETA, implementation="cell")
    bwd = LMU(UNITS, ORDER, THETA, go_backwards=True, implementation=implementation)
    fwd(x)
    bwd(x)
    _randomize(fwd.cell, rng)
    bwd.set_weights(fwd.get_weights())
    np.testing.assert_allclose(np.asarray(bwd(x)), np.asarray(fwd(x[:, ::-1])), atol=1e-6)
    assert not np.allclose(np.asarray(bwd(x)), np.asarray(fwd(x)), atol=1e-3)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_bidirectional(rng, implementation):
    x = _x(rng)
    bi = keras.layers.Bidirectional(
        LMU(UNITS, ORDER, THETA, return_sequences=True, implementation=implementation)
    )
    y = np.asarray(bi(x))
    assert y.shape == (BATCH, T, 2 * UNITS)
    assert isinstance(bi.backward_layer, LMU) and bi.backward_layer.go_backwards
    assert bi.backward_layer.implementation == implementation
    single = LMU(UNITS, ORDER, THETA, return_sequences=True, implementation="cell")
    single(x)
    single.set_weights(bi.forward_layer.get_weights())
    np.testing.assert_allclose(y[..., :UNITS], np.asarray(single(x)), atol=1e-6)
    single.set_weights(bi.backward_layer.get_weights())
    np.testing.assert_allclose(y[..., UNITS:], np.asarray(single(x[:, ::-1]))[:, ::-1], atol=1e-6)


# --------------------------------------------------------------- save / load
def _model_with_every_option():
    inp = keras.Input((T, N_IN))
    y = keras.layers.Bidirectional(
        LMU(UNITS, ORDER, THETA, return_sequences=True, memory_kernel_initializer=Legendre(),
            chunk=5)
    )(inp)
    y = keras.layers.RNN(
        LMUCell(
            3,
            2,
            4.5,
            hidden_activation="linear",
            discretizer="euler",
            use_bias=True,
            bias_initializer="ones",
            trainable_theta=True,
            trainable_hidden_kernel=False,
        ),
        return_sequences=True,
    )(y)
    y = LMU(2, 3, 5.0, trainable_A=True, trainable_B=True, go_backwards=True,
            implementation="fused")(y)
    return keras.Model(inp, keras.layers.Dense(1)(y))


def _json(config):
    return json.loads(json.dumps(config))  # tuples -> lists, as in the saved file


def test_save_load_round_trip(rng, tmp_path):
    keras.utils.set_random_seed(3)
    model = _model_with_every_option()
    x = _x(rng)
    path = tmp_path / "lmu_model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    for a, b in zip(model.layers, loaded.layers):
        assert type(a) is type(b)
        assert _json(a.get_config()) == _json(b.get_config())
    assert [v.name for v in loaded.trainable_weights] == [v.name for v in model.trainable_weights]

    # A fresh process that imports keras and lmu (no custom_objects, no lmu.layers).
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.asarray(model(x)))
    code = (
        "import sys, numpy as np, keras, lmu\n"
        f"m = keras.models.load_model({str(path)!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r}); y = np.load({str(tmp_path / 'y.npy')!r})\n"
        "print(float(np.abs(np.asarray(m(x)) - y).max()))\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) == 0.0


# ---------------------------------------------------------------- Legendre
@pytest.mark.parametrize("order, n", [(1, 1), (6, 5), (12, 30)])
def test_legendre_initializer(order, n):
    values = np.asarray(Legendre()((order, n), dtype="float64"))
    assert values.shape == (order, n)
    np.testing.assert_allclose(values, lmu.legendre_decoders(order, np.linspace(0, 1, n)).T)
    # independent: P_i at linspace(-1, 1, n)
    for i in range(order):
        coef = np.zeros(i + 1)
        coef[i] = 1
        np.testing.assert_allclose(values[i], npleg.legval(np.linspace(-1, 1, n), coef), atol=1e-12)
    cell = LMUCell(n, order, 10.0, memory_kernel_initializer=Legendre(), dtype="float64")
    cell.build((None, 1))
    np.testing.assert_allclose(np.asarray(cell.memory_kernel), values)
    with pytest.raises(ValueError, match="2-D"):
        Legendre()((3,))


# ----------------------------------------------------------- trainable flags
_PARTS = [
    "input_encoders",
    "hidden_encoders",
    "memory_encoders",
    "input_kernel",
    "hidden_kernel",
    "memory_kernel",
]


def _names(weights):
    return sorted(v.name for v in weights)


def test_default_trainable_weights():
    cell = LMUCell(UNITS, ORDER, THETA)
    cell.build((None, N_IN))
    assert _names(cell.trainable_weights) == sorted(_PARTS)
    assert _names(cell.non_trainable_weights) == ["AT", "BT"]


@pytest.mark.parametrize("part", _PARTS)
def test_each_part_can_be_frozen(part):
    cell = LMUCell(UNITS, ORDER, THETA, **{f"trainable_{part}": False})
    cell.build((None, N_IN))
    assert _names(cell.trainable_weights) == sorted(set(_PARTS) - {part})
    assert _names(cell.non_trainable_weights) == sorted([part, "AT", "BT"])


def test_trainable_A_B_theta_bias():
    cell = LMUCell(UNITS, ORDER, THETA, trainable_A=True, use_bias=True)
    cell.build((None, N_IN))
    assert _names(cell.trainable_weights) == sorted(_PARTS + ["AT", "bias"])
    cell = LMUCell(UNITS, ORDER, THETA, trainable_B=True)
    cell.build((None, N_IN))
    assert _names(cell.trainable_weights) == sorted(_PARTS + ["BT"])
    cell = LMUCell(UNITS, ORDER, THETA, trainable_theta=True)
    cell.build((None, N_IN))
    assert _names(cell.trainable_weights) == sorted(_PARTS + ["log_theta"])
    assert cell.non_trainable_weights == [] and cell.AT is None
    np.testing.assert_allclose(float(cell.theta_value()), THETA, rtol=1e-6)


def test_frozen_weights_do_not_change_in_training(rng):
    x, y = _x(rng, batch=8), rng.standard_normal((8, UNITS)).astype("float32")
    layer = LMU(UNITS, ORDER, THETA, trainable_hidden_kernel=False)
    model = keras.Sequential([keras.Input((T, N_IN)), layer])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    before = {v.name: np.asarray(v).copy() for v in layer.cell.weights}
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    after = {v.name: np.asarray(v) for v in layer.cell.weights}
    for name in ("hidden_kernel", "AT", "BT"):
        np.testing.assert_array_equal(after[name], before[name])
    for name in ("input_kernel", "memory_kernel", "input_encoders"):
        assert not np.array_equal(after[name], before[name]), name


# ------------------------------------------------------------ trainable theta
@pytest.mark.parametrize("discretizer", ["zoh", "euler"])
def test_trainable_theta_matches_fixed_theta(rng, discretizer):
    x = _x(rng, dtype="float64")
    learn = LMU(UNITS, ORDER, THETA, trainable_theta=True, discretizer=discretizer, dtype="float64")
    fixed = LMU(UNITS, ORDER, THETA, discretizer=discretizer, dtype="float64")
    learn(x)
    fixed(x)
    weights = _randomize(fixed.cell, rng)
    for v in learn.cell.weights:
        if v.name in weights:
            v.assign(weights[v.name])
    np.testing.assert_allclose(np.asarray(learn(x)), np.asarray(fixed(x)), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("discretizer", ["zoh", "euler"])
def test_theta_gradient_matches_finite_differences(rng, discretizer):
    """d(loss)/d(theta) through the discretization, against central differences."""
    x = _x(rng, steps=15, dtype="float64")
    theta = 7.0
    layer = LMU(
        UNITS,
        ORDER,
        theta,
        trainable_theta=True,
        discretizer=discretizer,
        return_sequences=True,
        dtype="float64",
    )
    layer(x)
    _randomize(layer.cell, rng)
    c = rng.standard_normal((BATCH, 15, UNITS))

    def loss():
        return tf.reduce_sum(c * layer(x))

    with tf.GradientTape() as tape:
        value = loss()
    grad_log = float(tape.gradient(value, layer.cell.log_theta))
    grad_theta = grad_log / theta  # d/dtheta = d/dlog(theta) / theta

    delta = 1e-5 * theta
    layer.cell.log_theta.assign(np.log(theta + delta))
    plus = float(loss())
    layer.cell.log_theta.assign(np.log(theta - delta))
    minus = float(loss())
    fd = (plus - minus) / (2 * delta)
    assert abs(grad_theta) > 1e-4  # the test means something
    np.testing.assert_allclose(grad_theta, fd, rtol=1e-5)


def test_expm_matches_scipy():
    import scipy.linalg

    from lmu.layers import _expm

    for order in (1, 6, 64):
        for theta in (1.0, 7.0, 784.0, 1e5):
            A, B = lmu.legendre_system(order, theta)
            M = np.block([[A, B], [np.zeros((1, order + 1))]])
            ref = scipy.linalg.expm(M)
            got = np.asarray(_expm(tf.constant(M)))
            assert np.abs(got - ref).max() <= 1e-12 * np.abs(ref).max(), (order, theta)


@pytest.mark.parametrize("discretizer", ["zoh", "euler"])
def test_discretization_gradient_against_scipy(rng, discretizer):
    """Gradient of the in-graph (AT, BT) w.r.t. theta vs finite differences of lmu.discretize."""
    order, theta = 6, 12.0
    W, v = rng.standard_normal((order, order)), rng.standard_normal((1, order))

    def f_numpy(th):
        AT, BT = _zoh_euler(order, th, discretizer)
        return np.sum(W * AT) + np.sum(v * BT)

    th = tf.Variable(theta, dtype="float64")
    with tf.GradientTape() as tape:
        AT, BT = discrete_memory_matrices(order, th, discretizer, dtype="float64")
        value = tf.reduce_sum(W * AT) + tf.reduce_sum(v * BT)
    grad = float(tape.gradient(value, th))
    h = 1e-4
    fd = (f_numpy(theta + h) - f_numpy(theta - h)) / (2 * h)
    np.testing.assert_allclose(float(value), f_numpy(theta), rtol=1e-10)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_theta_is_learned():
    """Training theta alone moves it towards the delay that the fixed readout needs.

    The readout is frozen to ``P~_i(1)``, which reads ``u(t - theta)`` from the
    memory; the target is ``u(t - 5)`` and theta starts at 10.
    """
    steps, delay, order = 40, 5, 6
    u = np.stack([lmu.band_limited_noise(steps, cutoff=0.04, seed=s) for s in range(16)])
    target = np.zeros_like(u)
    target[:, delay:] = u[:, :-delay]
    readout = lmu.legendre_decoders(order, [1.0]).T  # (order, 1)
    layer = LMU(
        1,
        order,
        10.0,
        trainable_theta=True,
        hidden_activation="linear",
        return_sequences=True,
        input_encoders_initializer="ones",
        hidden_encoders_initializer="zeros",
        input_kernel_initializer="zeros",
        hidden_kernel_initializer="zeros",
        memory_kernel_initializer=keras.initializers.Constant(readout),
        **{f"trainable_{part}": False for part in _PARTS},
    )
    model = keras.Sequential([keras.Input((steps, 1)), layer])
    assert _names(model.trainable_weights) == ["log_theta"]
    model.compile(keras.optimizers.Adam(0.1), "mse", jit_compile=True)  # XLA must compile it
    loss_before = model.evaluate(u[..., None], target[..., None], verbose=0)
    model.fit(u[..., None], target[..., None], epochs=10, batch_size=16, verbose=0)
    loss_after = model.evaluate(u[..., None], target[..., None], verbose=0)
    theta = float(layer.cell.theta_value())
    assert loss_after < 0.5 * loss_before
    print("theta", theta, loss_before, loss_after)
    assert abs(theta - delay) < 0.5 * abs(10.0 - delay), theta


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs, exc, name",
    [
        (dict(units=0), ValueError, "units"),
        (dict(units=2.5), TypeError, "units"),
        (dict(units="3"), TypeError, "units"),
        (dict(order=0), ValueError, "order"),
        (dict(order=1.5), TypeError, "order"),
        (dict(theta=0.0), ValueError, "theta"),
        (dict(theta=-1.0), ValueError, "theta"),
        (dict(theta=float("nan")), ValueError, "theta"),
        (dict(theta=float("inf")), ValueError, "theta"),
        (dict(theta="1"), TypeError, "theta"),
        (dict(discretizer="bilinear"), ValueError, "discretizer"),
        (dict(discretizer=3), TypeError, "discretizer"),
        (dict(hidden_activation="no-such"), ValueError, "hidden_activation"),
        (dict(memory_kernel_initializer="no-such"), ValueError, "memory_kernel_initializer"),
        (dict(trainable_A="yes"), TypeError, "trainable_A"),
        (dict(trainable_theta=True, trainable_A=True), ValueError, "trainable_theta"),
    ],
)
@pytest.mark.parametrize("cls", [LMUCell, LMU])
def test_bad_arguments(cls, kwargs, exc, name):
    args = dict(units=UNITS, order=ORDER, theta=THETA)
    args.update(kwargs)
    with pytest.raises(exc, match=name):
        cls(**args)


@pytest.mark.parametrize(
    "kwargs, exc, name",
    [
        (dict(implementation="scan"), ValueError, "implementation"),
        (dict(implementation=None), ValueError, "implementation"),
        (dict(chunk=0), ValueError, "chunk"),
        (dict(chunk=2.5), TypeError, "chunk"),
        (dict(implementation="chunked", unroll=True), ValueError, "unroll"),
        (dict(implementation="fused", hidden_activation="elu"), ValueError, "hidden_activation"),
    ],
)
def test_bad_implementation_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        LMU(UNITS, ORDER, THETA, **kwargs)


def test_wrong_input_rank(rng):
    with pytest.raises(ValueError, match="inputs"):
        LMU(UNITS, ORDER, THETA)(rng.standard_normal((BATCH, N_IN)).astype("float32"))
    with pytest.raises(ValueError, match="inputs"):
        LMUCell(UNITS, ORDER, THETA).build((None, T, N_IN))
    with pytest.raises(ValueError, match="theta"):
        discrete_memory_matrices(ORDER, -2.0)
