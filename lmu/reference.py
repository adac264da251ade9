"""A plain NumPy reference of the LMU cell, written step by step from the equations.

This module imports only NumPy. It is deliberately simple (a Python loop over
time, no fused matrices) so that it can serve as an independent check of the
Keras layers in :mod:`lmu.layers` and of any faster implementation.

The cell (Voelker, Kajić & Eliasmith, 2019, and ``paper-protocols.md`` §2),
with input ``x_t`` (``n_in``), hidden state ``h`` (``units``) and memory ``m``
(``order``):

.. math::

    u_t &= e_x^\\top x_t + e_h^\\top h_{t-1} + e_m^\\top m_{t-1} \\\\
    m_t &= \\bar A m_{t-1} + \\bar B u_t \\\\
    h_t &= f(W_x^\\top x_t + W_h^\\top h_{t-1} + W_m^\\top m_t + b)

The weights are given in the *stored* form of the original implementation,
``AT = (Ā − I)ᵀ`` and ``BT = B̄ᵀ``, so that in row-vector form the memory
update reads ``m_t = m_{t-1} + m_{t-1} AT + u_t BT``.
"""

import numpy as np

__all__ = ["lmu_cell_numpy", "ACTIVATIONS"]

ACTIVATIONS = {
    "tanh": np.tanh,
    "linear": lambda z: z,
    None: lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}

_REQUIRED = (
    "input_encoders",
    "hidden_encoders",
    "memory_encoders",
    "input_kernel",
    "hidden_kernel",
    "memory_kernel",
    "AT",
    "BT",
)


def _activation(activation):
    if callable(activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        raise ValueError(
            f"activation must be a callable or one of {sorted(k for k in ACTIVATIONS if k)} "
            f"(or None for linear), got {activation!r}"
        ) from None


def lmu_cell_numpy(x, weights, activation="tanh", initial_state=None):
    """Run the LMU cell over a batch of sequences, one step at a time.

    Parameters
    ----------
    x : array_like, shape (batch, T, n_in)
        Input sequences (``T`` time steps of ``n_in`` features).
    weights : dict of array_like
        ``input_encoders`` (n_in, 1), ``hidden_encoders`` (units, 1),
        ``memory_encoders`` (order, 1), ``input_kernel`` (n_in, units),
        ``hidden_kernel`` (units, units), ``memory_kernel`` (order, units),
        ``AT`` (order, order) ``= (Ā − I)ᵀ``, ``BT`` (1, order) ``= B̄ᵀ`` and
        optionally ``bias`` (units,). Extra keys are ignored.
    activation : str, None or callable, default "tanh"
        Hidden activation ``f``: ``"tanh"``, ``"linear"`` (or ``None``),
        ``"relu"``, ``"sigmoid"`` or a NumPy callable.
    initial_state : tuple (h0, m0), optional
        Initial hidden state (batch, units) and memory (batch, order);
        zeros by default.

    Returns
    -------
    h : ndarray, shape (batch, T, units)
        Hidden state after every step (the cell's output).
    m : ndarray, shape (batch, T, order)
        Memory state after every step.

    Notes
    -----
    Computed in float64 whatever the input dtype.
    """
    f = _activation(activation)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, T, n_in), got shape {x.shape}")
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be a dict of arrays, got {type(weights).__name__}")
    missing = [k for k in _REQUIRED if k not in weights]
    if missing:
        raise ValueError(f"weights is missing {missing}")
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items() if v is not None}
    batch, steps, n_in = x.shape
    units = w["hidden_kernel"].shape[0]
    order = w["AT"].shape[0]
    expected = {
        "input_encoders": (n_in, 1),
        "hidden_encoders": (units, 1),
        "memory_encoders": (order, 1),
        "input_kernel": (n_in, units),
        "hidden_kernel": (units, units),
        "memory_kernel": (order, units),
        "AT": (order, order),
        "BT": (1, order),
    }
    if "bias" in w:
        expected["bias"] = (units,)
    for key, shape in expected.items():
        if w[key].shape != shape:
            raise ValueError(
                f"weights[{key!r}] must have shape {shape} (n_in={n_in}, units={units}, "
                f"order={order}), got {w[key].shape}"
            )
    bias = w.get("bias", np.zeros(units))

    if initial_state is None:
        h = np.zeros((batch, units))
        m = np.zeros((batch, order))
    else:
        h = np.array(initial_state[0], dtype=np.float64).reshape(batch, units)
        m = np.array(initial_state[1], dtype=np.float64).reshape(batch, order)

    hs = np.empty((batch, steps, units))
    ms = np.empty((batch, steps, order))
    for t in range(steps):
        xt = x[:, t, :]
        u = xt @ w["input_encoders"] + h @ w["hidden_encoders"] + m @ w["memory_encoders"]
        m = m + m @ w["AT"] + u @ w["BT"]
        h = f(xt @ w["input_kernel"] + h @ w["hidden_kernel"] + m @ w["memory_kernel"] + bias)
        hs[:, t] = h
        ms[:, t] = m
    return hs, ms
