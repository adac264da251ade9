"""Phased LSTM cell (Neil, Pfeiffer & Liu, NeurIPS 2016) for Keras 3.

Written from the paper's equations. A Phased LSTM is a standard LSTM whose
updates of the cell state ``c`` and hidden state ``h`` are gated by a *time
gate* ``k_t``: a per-unit periodic, piecewise-linear function of time with a
learnable period ``tau``, shift ``s`` and open ratio ``r_on``. For unit ``j``
at time ``t``:

.. math::

    \\phi_t = \\frac{(t - s) \\bmod \\tau}{\\tau}, \\qquad
    k_t = \\begin{cases}
        2\\phi_t / r_{on} & \\phi_t < r_{on}/2 \\quad\\text{(opening)}\\\\
        2 - 2\\phi_t / r_{on} & r_{on}/2 \\le \\phi_t < r_{on}
            \\quad\\text{(closing)}\\\\
        \\alpha\\,\\phi_t & \\text{otherwise (closed, leak } \\alpha
            \\text{ while training, 0 at inference)}
    \\end{cases}

.. math::

    \\tilde c_t = f_t \\odot c_{t-1} + i_t \\odot \\tanh(W_{xc} x_t + W_{hc} h_{t-1} + b_c),
    \\qquad c_t = k_t \\odot \\tilde c_t + (1 - k_t) \\odot c_{t-1},

    \\tilde h_t = o_t \\odot \\tanh(\\tilde c_t), \\qquad
    h_t = k_t \\odot \\tilde h_t + (1 - k_t) \\odot h_{t-1},

with the usual sigmoid gates ``i, f, o`` (no peepholes). The LSTM weights are
laid out as in :class:`keras.layers.LSTMCell` (gate order i, f, c, o), so
weights can be copied between the two.

Time
----
By default the cell counts steps itself: time is the step index
``t = 0, 1, 2, ...`` (the first input is at ``t = 0``), kept as a third state
(one float per sequence) that starts at zero. This is the protocol of the
LMU paper's psMNIST comparison ("time = step index"). With
``time_input=True`` the *last* input feature is read as the time instead (for
irregularly sampled sequences); it is not fed to the LSTM kernels, so the
parameter count does not change.

Initialization (our choices, following the 2016 paper's scheme)
-----------------------------------------------------------------
- period ``tau`` (in steps): ``exp(U(log(period_init_min), log(period_init_max)))``
  per unit (log-uniform, as in the 2016 paper), by default over ``[1, 1000]``
  steps, which spans psMNIST's 784 steps;
- shift ``s``: ``U(0, tau)`` per unit (each unit its own phase within its period);
- open ratio ``r_on``: the constant ``ratio_on`` (default 0.05, as in the 2016 paper);
- LSTM weights: Keras's LSTM defaults (glorot_uniform kernel, orthogonal
  recurrent kernel, zero bias with the forget-gate bias set to one).

Parameters: ``4 * (units * (n_in + units) + units)`` for the LSTM plus
``3 * units`` for the time gate; 200 units on one input give 162,200.
"""

import math
import numbers

import keras
from keras import ops

from ._validation import check_order

__all__ = ["PhasedLSTMCell"]


def _check_real(value, name, low, high, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lo}{low}, {high}{hi}, got {value}")
    return value


@keras.saving.register_keras_serializable(package="lmu")
class PhasedLSTMCell(keras.layers.Layer):
    """One step of a Phased LSTM; wrap it in :class:`keras.layers.RNN`.

    Parameters
    ----------
    units : int
        Number of LSTM units (size of ``h`` and ``c``).
    leak : float, default 1e-4
        Leak ``alpha`` of the closed time gate during training, in ``[0, 1]``;
        the gate is exactly 0 when closed at inference.
    ratio_on : float, default 0.05
        Initial open ratio ``r_on`` (fraction of the period the gate is open), in ``(0, 1]``.
    trainable_ratio_on : bool, default True
        Whether ``r_on`` is learned.
    period_init_min, period_init_max : float, default 1.0 and 1000.0
        Range of the log-uniform initial period ``tau``, in steps (time units).
    trainable_period, trainable_shift : bool, default True
        Whether ``tau`` and ``s`` are learned.
    time_input : bool, default False
        If True, the last input feature is the time ``t`` of each step;
        otherwise the cell counts steps (``t = 0, 1, ...``).
    activation, recurrent_activation : str or callable
        Cell/output nonlinearity (default ``"tanh"``) and gate nonlinearity
        (default ``"sigmoid"``).
    kernel_initializer, recurrent_initializer, bias_initializer : initializer
        Initializers of the LSTM weights (Keras LSTM defaults).
    unit_forget_bias : bool, default True
        Add one to the forget-gate bias at initialization (as Keras's LSTM).
    **kwargs
        Passed to :class:`keras.layers.Layer`.

    Notes
    -----
    Inputs have shape ``(batch, n_in)`` (``(batch, n_in + 1)`` with
    ``time_input``). States are ``[h (batch, units), c (batch, units)]`` plus,
    when counting steps, ``t (batch, 1)``. The output is ``h``.
    Weights: ``kernel`` (n_in, 4 units), ``recurrent_kernel`` (units, 4 units),
    ``bias`` (4 units,), ``period``, ``shift``, ``ratio_on`` (units,) each.
    """

    def __init__(
        self,
        units,
        leak=1e-4,
        ratio_on=0.05,
        trainable_ratio_on=True,
        period_init_min=1.0,
        period_init_max=1000.0,
        trainable_period=True,
        trainable_shift=True,
        time_input=False,
        activation="tanh",
        recurrent_activation="sigmoid",
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_order(units, "units")
        self.leak = _check_real(leak, "leak", 0.0, 1.0)
        self.ratio_on_init = _check_real(ratio_on, "ratio_on", 0.0, 1.0, low_open=True)
        self.period_init_min = _check_real(
            period_init_min, "period_init_min", 0.0, math.inf, low_open=True, high_open=True
        )
        self.period_init_max = _check_real(
            period_init_max, "period_init_max", 0.0, math.inf, low_open=True, high_open=True
        )
        if self.period_init_max < self.period_init_min:
            raise ValueError(
                f"period_init_max ({self.period_init_max}) must be >= "
                f"period_init_min ({self.period_init_min})"
            )
        for name, flag in (
            ("trainable_ratio_on", trainable_ratio_on),
            ("trainable_period", trainable_period),
            ("trainable_shift", trainable_shift),
            ("time_input", time_input),
            ("unit_forget_bias", unit_forget_bias),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}")
        self.trainable_ratio_on = trainable_ratio_on
        self.trainable_period = trainable_period
        self.trainable_shift = trainable_shift
        self.time_input = time_input
        self.unit_forget_bias = unit_forget_bias
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        n_states = 2 if time_input else 3
        self.state_size = [self.units, self.units, 1][:n_states]
        self.output_size = self.units

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        n_features = input_shape[-1]
        if n_features is None:
            raise ValueError("PhasedLSTMCell needs a known number of input features")
        n_in = n_features - 1 if self.time_input else n_features
        if n_in < 1:
            raise ValueError(
                "with time_input=True the input needs at least 2 features "
                f"(data and time), got {n_features}"
            )
        u = self.units
        self.kernel = self.add_weight(
            shape=(n_in, 4 * u), initializer=self.kernel_initializer, name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u), initializer=self.recurrent_initializer, name="recurrent_kernel"
        )
        if self.unit_forget_bias:
            base = self.bias_initializer

            def bias_init(shape, dtype=None):
                return ops.concatenate(
                    [base((u,), dtype), ops.ones((u,), dtype), base((2 * u,), dtype)]
                )

        else:
            bias_init = self.bias_initializer
        self.bias = self.add_weight(shape=(4 * u,), initializer=bias_init, name="bias")

        log_lo, log_hi = math.log(self.period_init_min), math.log(self.period_init_max)

        def period_init(shape, dtype=None):
            return ops.exp(keras.random.uniform(shape, log_lo, log_hi, dtype=dtype))

        self.period = self.add_weight(
            shape=(u,), initializer=period_init, name="period", trainable=self.trainable_period
        )
        period_value = ops.convert_to_tensor(self.period)

        def shift_init(shape, dtype=None):
            return keras.random.uniform(shape, 0.0, 1.0, dtype=dtype) * ops.cast(
                period_value, dtype
            )

        self.shift = self.add_weight(
            shape=(u,), initializer=shift_init, name="shift", trainable=self.trainable_shift
        )
        self.ratio_on = self.add_weight(
            shape=(u,),
            initializer=keras.initializers.Constant(self.ratio_on_init),
            name="ratio_on",
            trainable=self.trainable_ratio_on,
        )

    # ------------------------------------------------------------- time gate
    def time_gate(self, t, training=False):
        """Openness ``k_t`` of the time gate of every unit.

        Parameters
        ----------
        t : array_like, shape (batch, 1) or (batch,) or scalar
            Time of the step, in the same unit as the period (steps by default).
        training : bool
            With True, the closed gate leaks ``leak * phi``; with False it is 0.

        Returns
        -------
        tensor, shape (batch, units) (or (units,) for a scalar ``t``)
            ``k_t`` in ``[0, 1]`` (``leak`` times the phase when closed).
        """
        t = ops.convert_to_tensor(t, dtype=self.period.dtype)
        if len(t.shape) == 1:
            t = ops.expand_dims(t, -1)
        period = ops.convert_to_tensor(self.period)
        ratio_on = ops.convert_to_tensor(self.ratio_on)
        shifted = t - ops.convert_to_tensor(self.shift)
        # floor-mod written out: phi in [0, 1) for any sign of t - s
        phase = (shifted - ops.floor(shifted / period) * period) / period
        rising = 2.0 * phase / ratio_on
        leak = self.leak if training else 0.0
        return ops.where(
            phase < 0.5 * ratio_on,
            rising,
            ops.where(phase < ratio_on, 2.0 - rising, leak * phase),
        )

    # ------------------------------------------------------------------ step
    def call(self, inputs, states, training=False):
        h_prev, c_prev = states[0], states[1]
        if self.time_input:
            x, t = inputs[:, :-1], inputs[:, -1:]
            extra = []
        else:
            x, t = inputs, states[2]
            extra = [t + 1.0]
        z = ops.matmul(x, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        o = self.recurrent_activation(z_o)
        c_tilde = f * c_prev + i * self.activation(z_c)
        h_tilde = o * self.activation(c_tilde)
        k = self.time_gate(t, training=bool(training))
        c = k * c_tilde + (1.0 - k) * c_prev
        h = k * h_tilde + (1.0 - k) * h_prev
        return h, [h, c, *extra]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "leak": self.leak,
                "ratio_on": self.ratio_on_init,
                "trainable_ratio_on": self.trainable_ratio_on,
                "period_init_min": self.period_init_min,
                "period_init_max": self.period_init_max,
                "trainable_period": self.trainable_period,
                "trainable_shift": self.trainable_shift,
                "time_input": self.time_input,
                "activation": keras.activations.serialize(self.activation),
                "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                "unit_forget_bias": self.unit_forget_bias,
            }
        )
        return config
