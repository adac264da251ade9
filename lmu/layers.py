"""Keras 3 layers for the Legendre Memory Unit (TensorFlow backend).

This module imports Keras (and with it TensorFlow); ``import lmu`` loads it
lazily, on first use of ``lmu.LMUCell``, ``lmu.LMU`` or ``lmu.Legendre``.
``lmu.LMU`` runs the cell with Keras' step loop or, by default when it can,
with a fast path of :mod:`lmu.fast` (its ``implementation`` argument).

The cell is the paper's exact parameterization (Voelker, Kajić & Eliasmith,
2019; ``paper-protocols.md`` §2). For an input ``x_t`` (``n_in`` features),
hidden state ``h`` (``units``) and memory ``m`` (``order``):

.. math::

    u_t &= e_x^\\top x_t + e_h^\\top h_{t-1} + e_m^\\top m_{t-1} \\\\
    m_t &= \\bar A m_{t-1} + \\bar B u_t \\\\
    h_t &= f(W_x^\\top x_t + W_h^\\top h_{t-1} + W_m^\\top m_t + b)

``(Ā, B̄)`` is the Legendre delay system of window ``theta`` (in steps),
discretized with ``dt = 1`` by zero-order hold or Euler. As in the original
implementation the memory matrices are stored as ``AT = (Ā − I)ᵀ`` and
``BT = B̄ᵀ``, so that the update reads ``m_t = m_{t-1} + m_{t-1} AT + u_t BT``
(row vectors). :func:`lmu.reference.lmu_cell_numpy` is an independent NumPy
implementation of the same equations.
"""

import math

import keras
import numpy as np
from keras import ops

from . import fast
from ._validation import check_method, check_order, check_theta
from .core import discretize, legendre_decoders, legendre_system

__all__ = ["LMUCell", "LMU", "Legendre", "discrete_memory_matrices", "load_model"]

# values of LMU's ``implementation``
IMPLEMENTATIONS = ("auto", "cell", *fast.IMPLEMENTATIONS)

#: ``implementation="auto"`` runs "chunked" for layers with ``units + order`` up to this
#: size and the step loop ("cell") above it. Measured with ``benchmarks/lmu_speed.py
#: --cases implementation_by_size`` (one training step, no XLA, 2-core CPU): chunked
#: was 1.6–2.2× faster at 49 units / order 4, within 15% of the step loop at 64 / 32
#: (either side, in two runs), and 6–19% slower at 128 / 128 and 212 / 256.
AUTO_CHUNKED_MAX_SIZE = 96

_PACKAGE = "lmu"


def discrete_memory_matrices(order, theta, discretizer="zoh", dtype="float32"):
    """Stored-form memory matrices ``(AT, BT)`` as tensors, differentiable in ``theta``.

    Parameters
    ----------
    order : int
        Memory order ``d`` (>= 1).
    theta : float or scalar tensor
        Window length in steps (> 0). May be a tensor (e.g. a trainable
        weight): the result is computed inside the graph, so gradients flow
        back to ``theta`` through the discretization.
    discretizer : {"zoh", "euler"}, default "zoh"
        ``"zoh"``: one block matrix exponential
        ``expm([[A, B], [0, 0]])`` (dt = 1 step); ``"euler"``:
        ``Ā = I + A``, ``B̄ = B``.
    dtype : str, default "float32"
        Dtype of the returned tensors. The discretization itself is computed
        in float64 (``Ā − I`` loses relative precision in float32 when
        ``theta`` is large) and cast at the end.

    Returns
    -------
    AT : tensor, shape (order, order)
        ``(Ā − I)ᵀ``.
    BT : tensor, shape (1, order)
        ``B̄ᵀ``.

    Notes
    -----
    The matrix exponential is :func:`_expm` (``keras.ops`` has none;
    ``tf.linalg.expm``'s gradient does not compile with XLA).
    """
    order = check_order(order)
    method = check_method(discretizer, "discretizer")
    if not hasattr(theta, "dtype"):  # a Python number: validate it
        theta = check_theta(theta)
    A1, B1 = legendre_system(order, 1.0)  # A = A1 / theta, B = B1 / theta
    inv_theta = 1.0 / ops.cast(theta, "float64")
    if method == "euler":
        AT = ops.transpose(ops.convert_to_tensor(A1, "float64")) * inv_theta
        BT = ops.convert_to_tensor(B1.T, "float64") * inv_theta
    else:
        block = np.zeros((order + 1, order + 1))
        block[:order, :order] = A1
        block[:order, order:] = B1
        expm = _expm(ops.convert_to_tensor(block, "float64") * inv_theta)
        AT = ops.transpose(expm[:order, :order] - ops.eye(order, dtype="float64"))
        BT = ops.transpose(expm[:order, order:])
    return ops.cast(AT, dtype), ops.cast(BT, dtype)


_EXPM_TAYLOR_DEGREE = 14
_EXPM_MAX_SQUARINGS = 64


def _expm(M):
    """Matrix exponential by scaling and squaring, differentiable and XLA-compatible.

    ``M`` is scaled by ``2**-s`` so that its 1-norm is at most 1/2, the
    exponential of the scaled matrix is a degree-14 Taylor polynomial
    (truncation error below ``0.5**15 / 15! ≈ 2e-17``, relative) evaluated by
    Horner's rule, and the result is squared ``s`` times in a
    ``keras.ops.while_loop`` with a bounded trip count (so that XLA can
    compile its gradient). ``s`` depends on ``M`` but carries no gradient,
    which is exact: the result does not depend on ``s``.

    Parameters
    ----------
    M : tensor, shape (n, n), float64

    Returns
    -------
    tensor, shape (n, n)
    """
    n = M.shape[-1]
    norm = ops.max(ops.sum(ops.abs(M), axis=0))
    s = ops.maximum(ops.ceil(ops.log2(ops.maximum(norm, 1e-300) / 0.5)), 0.0)
    s = ops.stop_gradient(ops.minimum(s, float(_EXPM_MAX_SQUARINGS)))
    X = M / ops.power(ops.cast(2.0, M.dtype), ops.cast(s, M.dtype))
    eye = ops.eye(n, dtype=M.dtype)
    E = eye
    for k in range(_EXPM_TAYLOR_DEGREE, 0, -1):  # I + X/1 (I + X/2 (I + ... X/14))
        E = eye + ops.matmul(X, E) / k
    _, E = ops.while_loop(
        lambda i, E: i < ops.cast(s, "int32"),
        lambda i, E: (i + 1, ops.matmul(E, E)),
        (ops.convert_to_tensor(0, "int32"), E),
        maximum_iterations=_EXPM_MAX_SQUARINGS,
    )
    return E


def _fixed_memory_matrices(order, theta, discretizer):
    """``(AT, BT)`` in float64 NumPy, from :func:`lmu.discretize`."""
    Ad, Bd = discretize(*legendre_system(order, theta), dt=1.0, method=discretizer)
    return (Ad - np.eye(order)).T, Bd.T


def _constant_initializer(value):
    def initializer(shape, dtype=None):
        if tuple(shape) != value.shape:
            raise ValueError(f"expected shape {value.shape}, got {tuple(shape)}")
        return ops.convert_to_tensor(value, dtype=dtype)

    return initializer


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Legendre(keras.initializers.Initializer):
    """Initializer for a Legendre readout kernel of shape ``(order, n)``.

    Row ``i`` is the shifted Legendre polynomial ``P̃_i`` evaluated at
    ``linspace(0, 1, n)`` (equivalently ``P_i`` at ``linspace(-1, 1, n)``),
    so that ``m @ kernel`` reads the memory's input back at ``n`` delays
    spread evenly over ``[0, theta]``. Same values as
    ``lmu.legendre_decoders(order, np.linspace(0, 1, n)).T``.
    """

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Legendre initializer needs a 2-D shape (order, n), got {shape}")
        order, n = int(shape[0]), int(shape[1])
        values = legendre_decoders(order, np.linspace(0.0, 1.0, n)).T
        return ops.convert_to_tensor(values, dtype=dtype or keras.config.floatx())

    def get_config(self):
        return {}


# (attribute / weight name, initializer argument, trainable argument)
_ENCODERS_AND_KERNELS = (
    ("input_encoders", "input_encoders_initializer", "trainable_input_encoders"),
    ("hidden_encoders", "hidden_encoders_initializer", "trainable_hidden_encoders"),
    ("memory_encoders", "memory_encoders_initializer", "trainable_memory_encoders"),
    ("input_kernel", "input_kernel_initializer", "trainable_input_kernel"),
    ("hidden_kernel", "hidden_kernel_initializer", "trainable_hidden_kernel"),
    ("memory_kernel", "memory_kernel_initializer", "trainable_memory_kernel"),
)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LMUCell(keras.layers.Layer):
    """The Legendre Memory Unit cell, for use in ``keras.layers.RNN``.

    Parameters
    ----------
    units : int
        Size of the hidden state ``h`` (>= 1); also the output size.
    order : int
        Size of the memory ``m``, the number of Legendre coefficients ``d`` (>= 1).
    theta : float
        Length of the memory's sliding window, in time steps (> 0). With
        ``trainable_theta`` this is the initial value; the current one is
        :meth:`theta_value`.
    hidden_activation : str or callable, default "tanh"
        Activation ``f`` of the hidden state (any ``keras.activations`` name).
    input_encoders_initializer, hidden_encoders_initializer, memory_encoders_initializer
        Initializers of ``e_x`` (n_in, 1), ``e_h`` (units, 1), ``e_m`` (order, 1).
        Defaults "lecun_uniform", "lecun_uniform", "zeros" (as the paper).
    input_kernel_initializer, hidden_kernel_initializer, memory_kernel_initializer
        Initializers of ``W_x`` (n_in, units), ``W_h`` (units, units),
        ``W_m`` (order, units). Default "glorot_normal". ``Legendre()`` makes
        ``W_m`` a delay readout.
    trainable_input_encoders, trainable_hidden_encoders, trainable_memory_encoders,
    trainable_input_kernel, trainable_hidden_kernel, trainable_memory_kernel : bool
        Whether each encoder / kernel is trained (default True).
    trainable_A, trainable_B : bool, default False
        Whether the stored memory matrices ``AT`` (order, order) and ``BT``
        (1, order) are trained. By default they are fixed to the discretized
        Legendre system.
    trainable_theta : bool, default False
        Learn the window ``theta`` by backpropagation through the
        discretization. ``AT`` and ``BT`` are then not stored but computed
        from ``theta`` in the graph (see :meth:`memory_matrices`); ``theta``
        is stored as the weight ``log_theta`` (shape ()) so that it stays
        positive and Adam's steps are relative changes of ``theta``.
        Incompatible with ``trainable_A`` / ``trainable_B``.
    discretizer : {"zoh", "euler"}, default "zoh"
        Zero-order hold or forward Euler, with ``dt = 1`` step.
    use_bias : bool, default False
        Add a bias ``b`` (units,) inside ``f``.
    bias_initializer : default "zeros"
    **kwargs
        Passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Notes
    -----
    State: ``[h (batch, units), m (batch, order)]``; output ``h``. Each step
    uses one product per weight, with the rank-one ``u_t BT`` as a broadcast
    product. (Fusing them into ``[x, h] @ [[e_x, W_x], [e_h, W_h]]`` and
    ``m @ [e_m, AT]`` was measured slower on CPU: the odd widths ``units + 1``
    and ``order + 1`` and the extra slicing cost more than the saved
    products.) With ``trainable_theta`` the discretization is computed once
    per sequence inside :class:`LMU`, but once per step in a plain
    ``keras.layers.RNN``: prefer :class:`LMU` then.
    """

    def __init__(
        self,
        units,
        order,
        theta,
        hidden_activation="tanh",
        input_encoders_initializer="lecun_uniform",
        hidden_encoders_initializer="lecun_uniform",
        memory_encoders_initializer="zeros",
        input_kernel_initializer="glorot_normal",
        hidden_kernel_initializer="glorot_normal",
        memory_kernel_initializer="glorot_normal",
        trainable_input_encoders=True,
        trainable_hidden_encoders=True,
        trainable_memory_encoders=True,
        trainable_input_kernel=True,
        trainable_hidden_kernel=True,
        trainable_memory_kernel=True,
        trainable_A=False,
        trainable_B=False,
        trainable_theta=False,
        discretizer="zoh",
        use_bias=False,
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_order(units, "units")
        self.order = check_order(order, "order")
        self.theta = check_theta(theta)
        self.discretizer = check_method(discretizer, "discretizer")
        try:
            self.hidden_activation = keras.activations.get(hidden_activation)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"hidden_activation must be a Keras activation, got {hidden_activation!r} ({exc})"
            ) from None
        flags = dict(
            trainable_input_encoders=trainable_input_encoders,
            trainable_hidden_encoders=trainable_hidden_encoders,
            trainable_memory_encoders=trainable_memory_encoders,
            trainable_input_kernel=trainable_input_kernel,
            trainable_hidden_kernel=trainable_hidden_kernel,
            trainable_memory_kernel=trainable_memory_kernel,
            trainable_A=trainable_A,
            trainable_B=trainable_B,
            trainable_theta=trainable_theta,
            use_bias=use_bias,
        )
        for key, value in flags.items():
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{key} must be a bool, got {value!r}")
            setattr(self, key, bool(value))
        if self.trainable_theta and (self.trainable_A or self.trainable_B):
            raise ValueError(
                "trainable_theta=True computes A and B from theta; it cannot be combined "
                "with trainable_A=True or trainable_B=True"
            )
        inits = dict(
            input_encoders_initializer=input_encoders_initializer,
            hidden_encoders_initializer=hidden_encoders_initializer,
            memory_encoders_initializer=memory_encoders_initializer,
            input_kernel_initializer=input_kernel_initializer,
            hidden_kernel_initializer=hidden_kernel_initializer,
            memory_kernel_initializer=memory_kernel_initializer,
            bias_initializer=bias_initializer,
        )
        for key, value in inits.items():
            try:
                setattr(self, key, keras.initializers.get(value))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{key}: unknown initializer {value!r} ({exc})") from None

        self.state_size = [self.units, self.order]
        self.output_size = self.units
        # (AT, BT) computed once per sequence by LMU.call (see memory_matrices).
        object.__setattr__(self, "_cached_memory_matrices", None)

    # ----------------------------------------------------------------- build
    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                "inputs of LMUCell must have shape (batch, n_in) with a known n_in, "
                f"got {tuple(input_shape)}"
            )
        n_in = int(input_shape[-1])
        shapes = {
            "input_encoders": (n_in, 1),
            "hidden_encoders": (self.units, 1),
            "memory_encoders": (self.order, 1),
            "input_kernel": (n_in, self.units),
            "hidden_kernel": (self.units, self.units),
            "memory_kernel": (self.order, self.units),
        }
        for name, init_arg, trainable_arg in _ENCODERS_AND_KERNELS:
            weight = self.add_weight(
                name=name,
                shape=shapes[name],
                initializer=getattr(self, init_arg),
                trainable=getattr(self, trainable_arg),
            )
            setattr(self, name, weight)

        if self.trainable_theta:
            self.AT = self.BT = None
            self.log_theta = self.add_weight(
                name="log_theta",
                shape=(),
                initializer=_constant_initializer(np.array(math.log(self.theta))),
                trainable=True,
            )
        else:
            self.log_theta = None
            AT, BT = _fixed_memory_matrices(self.order, self.theta, self.discretizer)
            self.AT = self.add_weight(
                name="AT",
                shape=AT.shape,
                initializer=_constant_initializer(AT),
                trainable=self.trainable_A,
            )
            self.BT = self.add_weight(
                name="BT",
                shape=BT.shape,
                initializer=_constant_initializer(BT),
                trainable=self.trainable_B,
            )
        self.bias = (
            self.add_weight(
                name="bias",
                shape=(self.units,),
                initializer=self.bias_initializer,
                trainable=True,
            )
            if self.use_bias
            else None
        )
        super().build(input_shape)

    # --------------------------------------------------------- the matrices
    def theta_value(self):
        """The current window ``theta`` in steps: a tensor with ``trainable_theta``, else a float."""
        if self.trainable_theta:
            return ops.exp(self.log_theta)
        return self.theta

    def memory_matrices(self, theta=None):
        """The memory matrices ``(AT, BT)`` in stored form, shapes (order, order), (1, order).

        Parameters
        ----------
        theta : float or scalar tensor, optional
            Compute them for this window (in steps), differentiably, with the
            cell's discretizer. By default: the stored weights ``AT``, ``BT``,
            or, with ``trainable_theta``, the matrices of the current
            learned ``theta``.
        """
        if theta is None and not self.trainable_theta:
            return self.AT, self.BT
        if theta is None:
            theta = self.theta_value()
        return discrete_memory_matrices(
            self.order, theta, self.discretizer, dtype=self.compute_dtype
        )

    # ------------------------------------------------------------------ call
    def call(self, inputs, states, training=None):
        h, m = states[0], states[1]
        AT, BT = self._cached_memory_matrices or self.memory_matrices()
        u = (
            ops.matmul(inputs, self.input_encoders)
            + ops.matmul(h, self.hidden_encoders)
            + ops.matmul(m, self.memory_encoders)
        )  # (batch, 1)
        m = m + ops.matmul(m, AT) + u * BT  # = Ā m + B̄ u, in row form
        pre = (
            ops.matmul(inputs, self.input_kernel)
            + ops.matmul(h, self.hidden_kernel)
            + ops.matmul(m, self.memory_kernel)
        )
        if self.bias is not None:
            pre = pre + self.bias
        h = self.hidden_activation(pre)
        return h, [h, m]

    # ---------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            order=self.order,
            theta=self.theta,
            hidden_activation=keras.activations.serialize(self.hidden_activation),
            discretizer=self.discretizer,
        )
        for _, init_arg, trainable_arg in _ENCODERS_AND_KERNELS:
            config[init_arg] = keras.initializers.serialize(getattr(self, init_arg))
            config[trainable_arg] = getattr(self, trainable_arg)
        config.update(
            trainable_A=self.trainable_A,
            trainable_B=self.trainable_B,
            trainable_theta=self.trainable_theta,
            use_bias=self.use_bias,
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


# Arguments of LMUCell that LMU forwards to its cell.
_CELL_ARGS = (
    "hidden_activation",
    *[arg for _, init_arg, trainable_arg in _ENCODERS_AND_KERNELS for arg in (init_arg, trainable_arg)],
    "trainable_A",
    "trainable_B",
    "trainable_theta",
    "discretizer",
    "use_bias",
    "bias_initializer",
)


def _check_sequence_rank(shape, name="inputs"):
    if len(shape) != 3:
        raise ValueError(
            f"{name} of LMU must have rank 3 (batch, timesteps, features), "
            f"got shape {tuple(shape)}"
        )


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LMU(keras.layers.RNN):
    """A recurrent layer of :class:`LMUCell`, with a step loop or a fast path.

    Parameters
    ----------
    units, order, theta
        As :class:`LMUCell` (``theta`` in time steps).
    return_sequences : bool, default False
        Return the hidden state of every step, (batch, T, units), instead of
        the last one, (batch, units).
    return_state : bool, default False
        Also return the final states ``h`` (batch, units) and ``m`` (batch, order).
    go_backwards : bool, default False
        Process the sequence in reverse (the returned sequence is reversed too,
        as in ``keras.layers.RNN``).
    stateful : bool, default False
        Carry the last states of a batch over as the initial states of the next.
    unroll : bool, default False
        Unroll the time loop (short sequences only; ``"cell"`` only).
    implementation : {"auto", "cell", "chunked", "fused"}, default "auto"
        How the sequence is computed; all give the same numbers (float32
        round-off aside) and have the same weights.

        - ``"cell"``: ``keras.layers.RNN``'s loop over :class:`LMUCell`, one
          step at a time; supports everything.
        - ``"chunked"``: the memory is advanced once per ``chunk`` steps and
          the backward pass is written by hand
          (:func:`lmu.fast.chunked_lmu_sequence`); the fewest products per
          step (the Performance chapter shows the measured times).
        - ``"fused"``: one fused matrix product per step with a hand-written
          backward pass (:func:`lmu.fast.fused_lmu_sequence`).
        - ``"auto"``: ``"chunked"`` for small layers (``units + order`` at most
          :data:`AUTO_CHUNKED_MAX_SIZE`, where the per-step overhead of a loop
          dominates; measured several times faster for the paper's
          Mackey-Glass network) when the call allows it, else ``"cell"``
          (faster on our CPU for larger layers such as the psMNIST network).

        The fast paths support ``return_sequences``, ``return_state``,
        ``go_backwards``, ``stateful``, ``keras.layers.Bidirectional``, an
        ``initial_state``, ``use_bias``, trainable ``A``, ``B`` and ``theta``,
        float32 and float64, XLA (``jit_compile``), and a time axis of unknown
        length. They do not support a ``hidden_activation`` other than
        "tanh", "linear", "sigmoid" and "relu" (by name or as Keras' own
        functions), ``unroll=True``, a mixed
        precision dtype policy, or a mask: ``"auto"`` then uses ``"cell"``,
        and an explicit ``"chunked"``/``"fused"`` raises a ``ValueError``
        naming the option (when the layer is made; for a mask, when it is
        called).
    chunk : int, default 8
        Steps per chunk of ``"chunked"`` (>= 1; need not divide the length).
    **kwargs
        Every other :class:`LMUCell` argument (initializers, trainable flags,
        ``discretizer``, ``use_bias``, ...) and the usual layer arguments
        (``name``, ``dtype``, ...).

    Notes
    -----
    Works inside ``keras.layers.Bidirectional``. With ``implementation="cell"``
    the results are identical to ``keras.layers.RNN(LMUCell(...))``'s; the fast
    paths agree with them to float32 round-off (which the recurrence can
    amplify when the hidden units saturate), and may differ from themselves by
    round-off between a graph built for a known batch size and one for any.
    With ``trainable_theta`` this layer computes the discretization of ``theta``
    once per sequence instead of once per step. With ``return_state`` or
    ``stateful``, ``"chunked"`` needs the last memory ``m_T``, which costs one
    extra pass over the memory (once per chunk).
    """

    def __init__(
        self,
        units,
        order,
        theta,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        implementation="auto",
        chunk=8,
        **kwargs,
    ):
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}"
            )
        chunk = check_order(chunk, "chunk")
        cell_kwargs = {key: kwargs.pop(key) for key in _CELL_ARGS if key in kwargs}
        cell = LMUCell(
            units,
            order,
            theta,
            dtype=kwargs.get("dtype"),
            name="lmu_cell",
            **cell_kwargs,
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.implementation = implementation
        self.chunk = chunk
        if implementation in fast.IMPLEMENTATIONS:
            self._check_fast_path(implementation)

    @property
    def units(self):
        return self.cell.units

    @property
    def order(self):
        return self.cell.order

    @property
    def theta(self):
        return self.cell.theta

    # ------------------------------------------------------------ fast paths
    def _fast_path_obstacle(self, mask=None):
        """The option that keeps this call off the fast paths (a phrase), or ``None``."""
        activation = self.cell.hidden_activation
        if fast.fast_activation_name(activation) is None:
            name = getattr(activation, "__name__", activation)
            return f"hidden_activation={name!r} (only 'tanh', 'linear', 'sigmoid', 'relu')"
        if self.unroll:
            return "unroll=True"
        policy = self.dtype_policy
        if policy.compute_dtype not in ("float32", "float64") or (
            policy.variable_dtype != policy.compute_dtype
        ):
            return f"dtype policy {policy.name!r} (only float32 or float64)"
        if mask is not None:
            return "a mask (masked time steps)"
        return None

    def _check_fast_path(self, implementation, mask=None):
        obstacle = self._fast_path_obstacle(mask)
        if obstacle is not None:
            raise ValueError(
                f"implementation={implementation!r} does not support {obstacle}; "
                "use implementation='auto' (falls back to 'cell') or 'cell'"
            )

    def _resolve_implementation(self, mask=None):
        """The implementation a call with this ``mask`` uses: "cell", "chunked" or "fused"."""
        if self.implementation == "cell":
            return "cell"
        if self.implementation == "auto":
            if self.cell.units + self.cell.order > AUTO_CHUNKED_MAX_SIZE:
                return "cell"
            return "cell" if self._fast_path_obstacle(mask) is not None else "chunked"
        self._check_fast_path(self.implementation, mask)
        return self.implementation

    # ------------------------------------------------------------------ call
    def build(self, sequences_shape, initial_state_shape=None):
        _check_sequence_rank(sequences_shape)
        super().build(sequences_shape, initial_state_shape)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        _check_sequence_rank(sequences.shape)
        object.__setattr__(self.cell, "_cached_memory_matrices", self.cell.memory_matrices())
        try:
            return super().call(
                sequences, initial_state=initial_state, mask=mask, training=training
            )
        finally:
            object.__setattr__(self.cell, "_cached_memory_matrices", None)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        """``keras.layers.RNN``'s time loop, or a fast path (see ``implementation``)."""
        implementation = self._resolve_implementation(mask)
        if implementation == "cell":
            return super().inner_loop(sequences, initial_state, mask, training=training)
        hs, h_last, m_last = fast._fast_call(
            self.cell,
            sequences,
            implementation,
            self.chunk,
            initial_state=initial_state,
            go_backwards=self.go_backwards,
            final_memory=self.return_state or self.stateful,
        )
        outputs = hs if self.return_sequences else h_last[:, None]
        return h_last, outputs, [h_last] if m_last is None else [h_last, m_last]

    # ---------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        cell_config = config.pop("cell")["config"]
        config.update(
            units=self.cell.units,
            order=self.cell.order,
            theta=self.cell.theta,
            implementation=self.implementation,
            chunk=self.chunk,
            **{key: cell_config[key] for key in _CELL_ARGS},
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def load_model(filepath, **kwargs):
    """``keras.models.load_model`` with every Keras object of :mod:`lmu` registered.

    Keras can only deserialize a registered class once the module that defines
    it has been imported; ``import lmu`` alone does not import the Keras
    modules (it must not load TensorFlow). This imports them all (the modules
    of ``lmu``'s lazily exported names) and then calls
    ``keras.models.load_model(filepath, **kwargs)``.

    Parameters
    ----------
    filepath : str or path-like
        A ``.keras`` file written by ``model.save``.
    **kwargs
        Passed to ``keras.models.load_model``.
    """
    import importlib

    import lmu

    for module in sorted(set(lmu._LAZY.values())):
        importlib.import_module(f"lmu.{module}")
    return keras.models.load_model(filepath, **kwargs)
