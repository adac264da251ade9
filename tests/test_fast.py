"""The fast paths of lmu.LMU ("chunked", "fused") equal the step loop ("cell") and the equations.

Outputs and gradients are compared with the layer's own step loop
(``implementation="cell"``), with a step-by-step TensorFlow transcription of the
equations and with the NumPy reference :func:`lmu.reference.lmu_cell_numpy`.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import lmu  # noqa: E402
from lmu.reference import lmu_cell_numpy  # noqa: E402

UNITS, ORDER, THETA, STEPS, N_IN, BATCH = 5, 8, 12.0, 30, 2, 3

# every weight random and non-zero, so that each term of the equations matters
RANDOM = dict(
    input_encoders_initializer="glorot_uniform",
    hidden_encoders_initializer="glorot_uniform",
    memory_encoders_initializer="glorot_uniform",
    use_bias=True,
    bias_initializer="random_normal",
)
FAST = ("chunked", "fused")
# chunk sizes: 1, one that does not divide 30 steps, one that does, one longer than the sequence
IMPLS = [("chunked", 1), ("chunked", 7), ("chunked", 5), ("chunked", 64), ("fused", 8)]


def _weights(layer):
    return {v.name: v.numpy() for v in layer.weights}


def _pair(implementation, x, chunk=8, theta=THETA, **kwargs):
    """A layer with ``implementation`` and a "cell" layer with the same (random) weights."""
    kwargs = {**RANDOM, **kwargs}
    fast = lmu.LMU(UNITS, ORDER, theta, implementation=implementation, chunk=chunk, **kwargs)
    cell = lmu.LMU(UNITS, ORDER, theta, implementation="cell", **kwargs)
    fast(x)
    cell(x)
    cell.set_weights(fast.get_weights())
    return fast, cell


def _naive_tf(layer, x, activation=tf.tanh):
    """The cell's equations, one step at a time, differentiated by TensorFlow."""
    w = {v.name: tf.convert_to_tensor(v) for v in layer.weights}
    h = tf.zeros((x.shape[0], layer.units))
    m = tf.zeros((x.shape[0], layer.order))
    out = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        u = xt @ w["input_encoders"] + h @ w["hidden_encoders"] + m @ w["memory_encoders"]
        m = m + m @ w["AT"] + u @ w["BT"]
        z = xt @ w["input_kernel"] + h @ w["hidden_kernel"] + m @ w["memory_kernel"]
        h = activation(z + w.get("bias", 0.0))
        out.append(h)
    return tf.stack(out, axis=1)


def _gradients(layer, loss):
    with tf.GradientTape() as tape:
        value = loss()
    return tape.gradient(value, layer.trainable_variables)


def _assert_grads_close(variables, got, want, rel=5e-5):
    for v, g, g_ref in zip(variables, got, want):
        scale = float(tf.reduce_max(tf.abs(g_ref)))
        assert scale > 0, v.name
        np.testing.assert_allclose(g.numpy(), g_ref.numpy(), atol=rel * scale, err_msg=v.name)


@pytest.fixture(autouse=True)
def _seed():
    """Stable random initial weights."""
    keras.utils.set_random_seed(0)


@pytest.fixture
def x(rng):
    return tf.constant(rng.standard_normal((BATCH, STEPS, N_IN)), tf.float32)


# ------------------------------------------------------------------- outputs
@pytest.mark.parametrize("implementation, chunk", IMPLS)
@pytest.mark.parametrize("activation", ["tanh", "linear", "sigmoid", "relu"])
def test_outputs_equal_reference_and_cell(x, implementation, chunk, activation):
    fast, cell = _pair(implementation, x, chunk, hidden_activation=activation,
                       return_sequences=True)
    assert fast._resolve_implementation() == implementation
    y = fast(x).numpy()
    h, _ = lmu_cell_numpy(x.numpy(), _weights(fast), activation=activation)
    # float32 round-off accumulates over the 30 recurrent steps
    tol = 1e-5 * max(1.0, np.abs(h).max())
    np.testing.assert_allclose(y, h, atol=tol, rtol=1e-5)
    np.testing.assert_allclose(y, cell(x).numpy(), atol=tol, rtol=1e-5)
    last = lmu.LMU(UNITS, ORDER, THETA, hidden_activation=activation,
                   implementation=implementation, chunk=chunk, **RANDOM)
    last(x)
    last.set_weights(fast.get_weights())
    np.testing.assert_allclose(last(x).numpy(), y[:, -1], atol=1e-6)


@pytest.mark.parametrize("implementation", FAST)
def test_float64_equals_reference(rng, implementation):
    x = rng.standard_normal((BATCH, STEPS, N_IN))
    layer = lmu.LMU(UNITS, ORDER, THETA, return_sequences=True, implementation=implementation,
                    chunk=7, dtype="float64", **RANDOM)
    y = layer(x).numpy()
    h, _ = lmu_cell_numpy(x, _weights(layer))
    np.testing.assert_allclose(y, h, rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------- gradients
@pytest.mark.parametrize("implementation, chunk", IMPLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_gradients_equal_step_by_step_and_cell(x, rng, implementation, chunk, return_sequences):
    fast, cell = _pair(implementation, x, chunk, return_sequences=return_sequences,
                       trainable_A=True, trainable_B=True)
    shape = (BATCH, STEPS, UNITS) if return_sequences else (BATCH, UNITS)
    c = tf.constant(rng.standard_normal(shape), tf.float32)

    def loss_naive():
        h = _naive_tf(fast, x)
        return tf.reduce_sum(c * (h if return_sequences else h[:, -1]))

    g_fast = _gradients(fast, lambda: tf.reduce_sum(c * fast(x)))
    assert len(g_fast) == 9  # 6 encoders/kernels + bias + AT + BT
    _assert_grads_close(fast.trainable_variables, g_fast, _gradients(fast, loss_naive))
    _assert_grads_close(fast.trainable_variables, g_fast,
                        _gradients(cell, lambda: tf.reduce_sum(c * cell(x))))


@pytest.mark.parametrize("implementation", FAST)
@pytest.mark.parametrize("discretizer", ["zoh", "euler"])
def test_trainable_theta_gradient_equals_cell(x, rng, implementation, discretizer):
    """theta stays trainable through the fast path: its gradient is the cell path's."""
    # theta = 40 steps: Euler is stable for order 8 (at 12 steps it is not)
    fast, cell = _pair(implementation, x, chunk=7, theta=40.0, trainable_theta=True,
                       discretizer=discretizer, return_sequences=True)
    names = [v.name for v in fast.trainable_variables]
    assert "log_theta" in names and "AT" not in names
    c = tf.constant(rng.standard_normal((BATCH, STEPS, UNITS)), tf.float32)
    np.testing.assert_allclose(fast(x).numpy(), cell(x).numpy(), atol=1e-5)
    g_fast = _gradients(fast, lambda: tf.reduce_sum(c * fast(x)))
    g_cell = _gradients(cell, lambda: tf.reduce_sum(c * cell(x)))
    assert abs(float(g_fast[names.index("log_theta")])) > 0
    _assert_grads_close(fast.trainable_variables, g_fast, g_cell, rel=1e-4)


def test_gradient_matches_float64_finite_difference(x, rng):
    """Directional derivative of the loss against the NumPy reference in float64."""
    layer = lmu.LMU(UNITS, ORDER, THETA, implementation="chunked", **RANDOM)
    layer(x)
    c = rng.standard_normal((BATCH, UNITS))
    grads = _gradients(layer, lambda: tf.reduce_sum(tf.constant(c, tf.float32) * layer(x)))
    w0 = _weights(layer)
    direction = {v.name: rng.standard_normal(v.shape) for v in layer.trainable_variables}
    analytic = sum(float(np.sum(g.numpy() * direction[v.name]))
                   for v, g in zip(layer.trainable_variables, grads))

    def ref(eps):
        w = {k: w0[k] + eps * direction.get(k, 0.0) for k in w0}
        return np.sum(c * lmu_cell_numpy(x.numpy(), w)[0][:, -1])

    eps = 1e-4
    numeric = (ref(eps) - ref(-eps)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-3)


# ------------------------------------------------------------ layer options
@pytest.mark.parametrize("implementation", FAST)
def test_go_backwards_return_state_and_initial_state_equal_cell(x, rng, implementation):
    kwargs = dict(return_sequences=True, return_state=True, go_backwards=True)
    fast, cell = _pair(implementation, x, chunk=7, **kwargs)
    h0 = tf.constant(rng.standard_normal((BATCH, UNITS)), tf.float32)
    m0 = tf.constant(rng.standard_normal((BATCH, ORDER)), tf.float32)
    for initial_state in (None, [h0, m0]):
        got = fast(x, initial_state=initial_state)
        want = cell(x, initial_state=initial_state)
        assert len(got) == 3
        for a, b in zip(got, want):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5)
    # go_backwards is the reversed input, and the output comes in processing order
    forward = lmu.LMU(UNITS, ORDER, THETA, return_sequences=True, implementation=implementation,
                      **RANDOM)
    forward(x)
    forward.set_weights(fast.get_weights())
    np.testing.assert_allclose(fast(x)[0].numpy(), forward(x[:, ::-1]).numpy(), atol=1e-6)


@pytest.mark.parametrize("implementation", FAST)
def test_final_memory_gradient_equals_cell(x, rng, implementation):
    fast, cell = _pair(implementation, x, chunk=7, return_state=True)
    c = tf.constant(rng.standard_normal((BATCH, ORDER)), tf.float32)
    _assert_grads_close(fast.trainable_variables,
                        _gradients(fast, lambda: tf.reduce_sum(c * fast(x)[2])),
                        _gradients(cell, lambda: tf.reduce_sum(c * cell(x)[2])))


@pytest.mark.parametrize("implementation", FAST)
def test_stateful_equals_cell(rng, implementation):
    x = tf.constant(rng.standard_normal((BATCH, 12, N_IN)), tf.float32)
    fast, cell = _pair(implementation, x, chunk=5, stateful=True, return_sequences=True)
    for layer in (fast, cell):
        layer.reset_state()
    for _ in range(2):  # the second call starts from the first one's last states
        np.testing.assert_allclose(fast(x).numpy(), cell(x).numpy(), atol=2e-5)


@pytest.mark.parametrize("implementation", FAST)
def test_bidirectional_equals_cell(x, implementation):
    def model(impl):
        inp = keras.Input((STEPS, N_IN))
        layer = lmu.LMU(UNITS, ORDER, THETA, return_sequences=True, implementation=impl,
                        chunk=7, **RANDOM)
        return keras.Model(inp, keras.layers.Bidirectional(layer)(inp))

    fast, cell = model(implementation), model("cell")
    cell.set_weights(fast.get_weights())
    bidi = fast.layers[1]
    assert bidi.backward_layer.go_backwards
    assert bidi.backward_layer._resolve_implementation() == implementation
    np.testing.assert_allclose(fast(x).numpy(), cell(x).numpy(), atol=2e-5)


@pytest.mark.parametrize("implementation", FAST)
def test_unknown_sequence_length(x, implementation):
    fast, cell = _pair(implementation, x, chunk=7, return_sequences=True, return_state=True)
    fn = tf.function(fast, input_signature=[tf.TensorSpec((None, None, N_IN), tf.float32)])
    for got, want in zip(fn(x), cell(x)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=2e-5)


@pytest.mark.parametrize("implementation", FAST)
def test_xla_compiled_equals_eager(x, implementation):
    layer = lmu.LMU(UNITS, ORDER, THETA, implementation=implementation, **RANDOM)
    eager = layer(x).numpy()
    compiled = tf.function(layer, jit_compile=True)(x).numpy()
    np.testing.assert_allclose(compiled, eager, atol=1e-5)


# ----------------------------------------------------------------- fallback
def test_auto_is_chunked_when_possible(x):
    layer = lmu.LMU(UNITS, ORDER, THETA, return_state=True, go_backwards=True, stateful=True)
    assert layer.implementation == "auto"
    assert layer._resolve_implementation() == "chunked"


def test_auto_uses_the_step_loop_for_large_layers():
    from lmu.layers import AUTO_CHUNKED_MAX_SIZE

    small = lmu.LMU(49, 4, 4.0)  # the paper's Mackey-Glass layer
    assert small._resolve_implementation() == "chunked"
    edge = lmu.LMU(AUTO_CHUNKED_MAX_SIZE - 8, 8, 10.0)
    assert edge._resolve_implementation() == "chunked"
    large = lmu.LMU(212, 256, 784.0)  # the paper's psMNIST layer
    assert large._resolve_implementation() == "cell"
    assert lmu.LMU(212, 256, 784.0, implementation="chunked")._resolve_implementation() == "chunked"


@pytest.mark.parametrize("kwargs, option", [
    (dict(hidden_activation="softplus"), "hidden_activation"),
    (dict(hidden_activation=lambda z: 0.5 * z), "hidden_activation"),
    (dict(unroll=True), "unroll"),
    (dict(dtype="mixed_float16"), "dtype policy"),
])
def test_unsupported_options_fall_back_or_raise(x, kwargs, option):
    auto = lmu.LMU(UNITS, ORDER, THETA, return_sequences=True, **kwargs, **RANDOM)
    assert auto._resolve_implementation() == "cell"
    cell = lmu.LMU(UNITS, ORDER, THETA, return_sequences=True, implementation="cell",
                   **kwargs, **RANDOM)
    auto(x)
    cell(x)
    cell.set_weights(auto.get_weights())
    np.testing.assert_allclose(np.asarray(auto(x), "float32"), np.asarray(cell(x), "float32"),
                               atol=1e-6)
    for implementation in FAST:
        with pytest.raises(ValueError, match=option):
            lmu.LMU(UNITS, ORDER, THETA, implementation=implementation, **kwargs)


def test_mask_falls_back_or_raises(x):
    mask = np.ones((BATCH, STEPS), bool)
    mask[:, -4:] = False
    auto, cell = _pair("auto", x, return_sequences=True)
    assert auto._resolve_implementation(mask) == "cell"
    np.testing.assert_allclose(auto(x, mask=mask).numpy(), cell(x, mask=mask).numpy(), atol=1e-6)
    # the masked steps carry the state over: the last output is that of step T - 5
    np.testing.assert_allclose(auto(x, mask=mask).numpy()[:, -1], cell(x).numpy()[:, -5],
                               atol=1e-6)
    for implementation in FAST:
        layer = lmu.LMU(UNITS, ORDER, THETA, implementation=implementation)
        with pytest.raises(ValueError, match="mask"):
            layer(x, mask=mask)


# ------------------------------------------------------- config and saving
@pytest.mark.parametrize("implementation", ["auto", "cell", "chunked", "fused"])
def test_config_round_trip(implementation):
    layer = lmu.LMU(UNITS, ORDER, THETA, implementation=implementation, chunk=4)
    config = layer.get_config()
    assert config["implementation"] == implementation and config["chunk"] == 4
    again = lmu.LMU.from_config(config)
    assert (again.implementation, again.chunk) == (implementation, 4)
    assert again.get_config() == config


def test_save_and_load_in_a_fresh_process(x, tmp_path):
    inp = keras.Input((STEPS, N_IN))
    out = lmu.LMU(UNITS, ORDER, THETA, implementation="fused", chunk=4, **RANDOM)(inp)
    model = keras.Model(inp, keras.layers.Dense(1)(out))
    model.save(tmp_path / "fast.keras")
    np.save(tmp_path / "x.npy", x.numpy())
    script = (
        "import json, sys, numpy as np, lmu\n"
        f"model = lmu.load_model({str(tmp_path / 'fast.keras')!r})\n"
        "layer = model.layers[1]\n"
        f"y = model(np.load({str(tmp_path / 'x.npy')!r}))\n"
        "print(json.dumps({'implementation': layer.implementation, 'chunk': layer.chunk,\n"
        "                  'y': np.asarray(y).tolist()}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (got["implementation"], got["chunk"]) == ("fused", 4)
    np.testing.assert_allclose(np.array(got["y"]), model(x).numpy(), atol=1e-6)


# ------------------------------------------------------------ bad arguments
def test_bad_arguments():
    with pytest.raises(ValueError, match="implementation"):
        lmu.LMU(4, 8, 10.0, implementation="scan")
    with pytest.raises(TypeError, match="chunk"):
        lmu.LMU(4, 8, 10.0, chunk=2.5)
    with pytest.raises(ValueError, match="chunk"):
        lmu.LMU(4, 8, 10.0, chunk=0)
    with pytest.raises(ValueError, match="theta"):
        lmu.LMU(4, 8, 0.0, implementation="chunked")
    assert not hasattr(lmu, "FastLMU")
