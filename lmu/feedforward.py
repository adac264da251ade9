"""The feedforward (parallel) LMU layer: a memory driven by the input only.

When the memory of the LMU has no recurrent input (``e_h = e_m = 0``, as in
Chilkuri & Eliasmith, ICML 2021), it is a linear time-invariant filter of the
encoded input ``u_t = e_xᵀ x_t``:

.. math::

    m_t = \\sum_{k=0}^{t} H[t - k]\\, u_k, \\qquad H[k] = \\bar A^k \\bar B,

so all states can be computed at once as a convolution instead of a loop over
time:

- the whole sequence with an FFT (``O(T log T)`` per memory dimension);
- only the last state as one matrix product ``m_T = U · H_rev``, with ``U``
  the encoded inputs (batch, T) and ``H_rev`` the impulse response in
  reverse time order (T, order).

The hidden part is the LMU cell's without its hidden-to-hidden kernel,
``h_t = f(W_xᵀ x_t + W_mᵀ m_t + b)``; with ``units=None`` the layer returns the
memory itself. With the same weights the layer equals the recurrent
``lmu.LMUCell`` whose ``hidden_encoders``, ``memory_encoders`` and
``hidden_kernel`` are zero (see ``tests/test_feedforward.py``).

This module imports TensorFlow/Keras; ``import lmu`` loads it lazily.
"""

import numbers

import keras
import numpy as np
import tensorflow as tf

from ._validation import check_method, check_order, check_theta
from .core import discretize, impulse_response, legendre_system

__all__ = ["LMUFeedforward", "CONV_MODES"]

CONV_MODES = ("auto", "fft", "matmul")


def _check_units(units):
    if units is None:
        return None
    return check_order(units, "units")


def _check_conv_mode(conv_mode, return_sequences):
    if not isinstance(conv_mode, str) or conv_mode.lower() not in CONV_MODES:
        raise ValueError(f"conv_mode must be one of {CONV_MODES}, got {conv_mode!r}")
    conv_mode = conv_mode.lower()
    if conv_mode == "matmul" and return_sequences:
        raise ValueError(
            "conv_mode='matmul' computes only the last memory state; use conv_mode='fft' "
            "(or 'auto') with return_sequences=True"
        )
    return conv_mode


def _continuous_system_tf(order, theta):
    """(A, B) of the Legendre system as float64 tensors, differentiable in ``theta``."""
    A1, B1 = legendre_system(order, 1.0)  # A(theta) = A1 / theta
    theta = tf.cast(theta, tf.float64)
    return tf.constant(A1) / theta, tf.constant(B1) / theta


def _discretize_tf(A, B, method):
    """ZOH or Euler discretization with dt = 1 in TensorFlow (float64, differentiable)."""
    d = A.shape[0]
    if method == "euler":
        return tf.eye(d, dtype=A.dtype) + A, B
    top = tf.concat([A, B], axis=1)
    block = tf.concat([top, tf.zeros((1, d + 1), dtype=A.dtype)], axis=0)
    expm = tf.linalg.expm(block)
    return expm[:d, :d], expm[:d, d:]


def _impulse_response_tf(Ad, Bd, steps):
    """``H[k] = Ad^k Bd`` for k < steps (tensor ``steps``), by repeated doubling."""
    H0 = tf.transpose(Bd)  # (1, d)

    def cond(H, power):
        return tf.shape(H)[0] < steps

    def body(H, power):
        H = tf.concat([H, tf.matmul(H, power, transpose_b=True)], axis=0)
        return H, tf.matmul(power, power)

    H, _ = tf.while_loop(
        cond,
        body,
        (H0, Ad),
        shape_invariants=(tf.TensorShape([None, Ad.shape[0]]), Ad.shape),
    )
    return H[:steps]


@keras.saving.register_keras_serializable(package="lmu")
class LMUFeedforward(keras.layers.Layer):
    """LMU layer whose memory is driven by the input only, computed in parallel.

    Parameters
    ----------
    units : int or None
        Number of hidden units. ``None``: no hidden part, the layer returns
        the memory ``m`` (``order`` values per step).
    order : int
        Memory order ``d`` (number of Legendre coefficients).
    theta : float
        Window length, in time steps (``dt = 1``).
    hidden_activation : str or callable, default "tanh"
        Hidden activation ``f`` (any Keras activation).
    input_encoders_initializer, input_kernel_initializer, memory_kernel_initializer :
        Initializers of ``e_x`` (n_in, 1), ``W_x`` (n_in, units) and ``W_m``
        (order, units); the defaults are the LMU cell's.
    trainable_input_encoders, trainable_input_kernel, trainable_memory_kernel : bool
        Whether each weight is trained.
    trainable_theta : bool, default False
        Train ``theta`` (the memory matrices and impulse response are then
        recomputed, differentiably, at every call).
    discretizer : {"zoh", "euler"}
        Discretization of the continuous memory with ``dt = 1``.
    use_bias : bool, default False
        Add a bias (units,) inside ``f``.
    bias_initializer : initializer, default "zeros"
    return_sequences : bool, default False
        Return every step (batch, T, out) instead of the last (batch, out).
    conv_mode : {"auto", "fft", "matmul"}
        How the memory is computed: ``"fft"`` (whole sequence), ``"matmul"``
        (last step only, ``m_T = U · H_rev``). ``"auto"`` picks ``"matmul"``
        when ``return_sequences=False`` and ``"fft"`` otherwise.

    Notes
    -----
    Input shape (batch, T, n_in); output (batch, units) or (batch, T, units)
    (``order`` instead of ``units`` when ``units=None``). The memory starts
    at zero for every sequence. The FFT path works in float32 with an FFT of
    length ``2T`` (its round-off is ~1e-6 relative); the matrix-product path
    is a plain float32 matrix product.
    """

    def __init__(
        self,
        units,
        order,
        theta,
        hidden_activation="tanh",
        input_encoders_initializer="lecun_uniform",
        input_kernel_initializer="glorot_normal",
        memory_kernel_initializer="glorot_normal",
        trainable_input_encoders=True,
        trainable_input_kernel=True,
        trainable_memory_kernel=True,
        trainable_theta=False,
        discretizer="zoh",
        use_bias=False,
        bias_initializer="zeros",
        return_sequences=False,
        conv_mode="auto",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = _check_units(units)
        self.order = check_order(order)
        self.theta_init = check_theta(theta)
        self.hidden_activation = keras.activations.get(hidden_activation)
        self._activation_config = hidden_activation
        self.input_encoders_initializer = keras.initializers.get(input_encoders_initializer)
        self.input_kernel_initializer = keras.initializers.get(input_kernel_initializer)
        self.memory_kernel_initializer = keras.initializers.get(memory_kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        for name, flag in (
            ("trainable_input_encoders", trainable_input_encoders),
            ("trainable_input_kernel", trainable_input_kernel),
            ("trainable_memory_kernel", trainable_memory_kernel),
            ("trainable_theta", trainable_theta),
            ("use_bias", use_bias),
            ("return_sequences", return_sequences),
        ):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        self.trainable_input_encoders = bool(trainable_input_encoders)
        self.trainable_input_kernel = bool(trainable_input_kernel)
        self.trainable_memory_kernel = bool(trainable_memory_kernel)
        self.trainable_theta = bool(trainable_theta)
        self.discretizer = check_method(discretizer, "discretizer")
        self.use_bias = bool(use_bias)
        self.return_sequences = bool(return_sequences)
        self.conv_mode = _check_conv_mode(conv_mode, self.return_sequences)
        self._fixed_H = {}  # steps -> float32 reversed impulse response (fixed theta)

    # -- weights ---------------------------------------------------------------------
    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"LMUFeedforward expects inputs of shape (batch, T, n_in) with a known n_in, "
                f"got {input_shape}"
            )
        n_in = int(input_shape[-1])
        self.input_encoders = self.add_weight(
            name="input_encoders",
            shape=(n_in, 1),
            initializer=self.input_encoders_initializer,
            trainable=self.trainable_input_encoders,
        )
        if self.units is not None:
            self.input_kernel = self.add_weight(
                name="input_kernel",
                shape=(n_in, self.units),
                initializer=self.input_kernel_initializer,
                trainable=self.trainable_input_kernel,
            )
            self.memory_kernel = self.add_weight(
                name="memory_kernel",
                shape=(self.order, self.units),
                initializer=self.memory_kernel_initializer,
                trainable=self.trainable_memory_kernel,
            )
            if self.use_bias:
                self.bias = self.add_weight(
                    name="bias", shape=(self.units,), initializer=self.bias_initializer
                )
        if self.trainable_theta:
            self.theta = self.add_weight(
                name="theta",
                shape=(),
                initializer=keras.initializers.Constant(self.theta_init),
                constraint=keras.constraints.NonNeg(),
            )

    # -- memory ----------------------------------------------------------------------
    def _reversed_impulse_response(self, steps):
        """H[T-1-k] as a float32 tensor (steps, order)."""
        static = isinstance(steps, numbers.Integral)
        if static and not self.trainable_theta:
            if steps not in self._fixed_H:
                A, B = legendre_system(self.order, self.theta_init)
                Ad, Bd = discretize(A, B, dt=1.0, method=self.discretizer)
                self._fixed_H[steps] = impulse_response(Ad, Bd, steps)[::-1].astype(np.float32)
            return tf.constant(self._fixed_H[steps])
        theta = self.theta if self.trainable_theta else self.theta_init
        A, B = _continuous_system_tf(self.order, tf.convert_to_tensor(theta))
        Ad, Bd = _discretize_tf(A, B, self.discretizer)
        H = _impulse_response_tf(Ad, Bd, steps)
        return tf.cast(tf.reverse(H, axis=[0]), tf.float32)

    def memory(self, inputs):
        """The memory states for inputs (batch, T, n_in).

        Returns (batch, T, order) with ``return_sequences`` (or
        ``conv_mode="fft"``), else the last state (batch, order).
        """
        x = tf.convert_to_tensor(inputs)
        steps = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
        H_rev = tf.cast(self._reversed_impulse_response(steps), x.dtype)  # (T, d)
        mode = self.conv_mode
        if mode == "auto":
            mode = "fft" if self.return_sequences else "matmul"
        if mode == "matmul":
            # m_T = sum_k u_k H[T-1-k] with u = x e_x, computed as (x H_rev) e_x: the
            # gradient of e_x then needs only the forward product (no (B, T) backward
            # product through u), and x needs no gradient at all
            n_in = x.shape[-1]
            xt = tf.reshape(tf.transpose(x, (0, 2, 1)), (-1, steps))  # (B n_in, T)
            XH = tf.reshape(tf.matmul(xt, H_rev), (-1, n_in, self.order))  # (B, n_in, d)
            return tf.tensordot(XH, tf.cast(self.input_encoders[:, 0], XH.dtype), axes=[[1], [0]])
        u = tf.squeeze(tf.matmul(x, tf.cast(self.input_encoders, x.dtype)), axis=-1)  # (B, T)
        n = 2 * tf.shape(u)[1]
        Uf = tf.signal.rfft(tf.cast(u, tf.float32), fft_length=[n])  # (B, F)
        Hf = tf.signal.rfft(tf.transpose(tf.reverse(H_rev, axis=[0])), fft_length=[n])  # (d, F)
        m = tf.signal.irfft(Uf[:, None, :] * Hf[None], fft_length=[n])[:, :, : tf.shape(u)[1]]
        m = tf.cast(tf.transpose(m, (0, 2, 1)), u.dtype)  # (B, T, d)
        return m if self.return_sequences else m[:, -1]

    def call(self, inputs):
        x = tf.convert_to_tensor(inputs)
        m = self.memory(x)
        if self.units is None:
            return m
        x_used = x if self.return_sequences else x[:, -1]
        z = tf.matmul(x_used, self.input_kernel) + tf.matmul(m, self.memory_kernel)
        if self.use_bias:
            z = z + self.bias
        return self.hidden_activation(z)

    def compute_output_shape(self, input_shape):
        out = self.order if self.units is None else self.units
        if self.return_sequences:
            return (input_shape[0], input_shape[1], out)
        return (input_shape[0], out)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            order=self.order,
            theta=self.theta_init,
            hidden_activation=keras.activations.serialize(self.hidden_activation),
            input_encoders_initializer=keras.initializers.serialize(
                self.input_encoders_initializer
            ),
            input_kernel_initializer=keras.initializers.serialize(self.input_kernel_initializer),
            memory_kernel_initializer=keras.initializers.serialize(
                self.memory_kernel_initializer
            ),
            trainable_input_encoders=self.trainable_input_encoders,
            trainable_input_kernel=self.trainable_input_kernel,
            trainable_memory_kernel=self.trainable_memory_kernel,
            trainable_theta=self.trainable_theta,
            discretizer=self.discretizer,
            use_bias=self.use_bias,
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            return_sequences=self.return_sequences,
            conv_mode=self.conv_mode,
        )
        return config
