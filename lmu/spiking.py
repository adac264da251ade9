"""Mapping the Legendre memory onto spiking networks (NumPy only).

A population of neurons in the Neural Engineering Framework does not
integrate: the only dynamics it has are its synapses. "Principle 3" of the
NEF rewrites a linear system so that a given synapse *is* its integrator.
For a discrete lowpass synapse (the zero-order-hold discretization of
``1 / (tau s + 1)``, as nengo and nengo-loihi simulate it),

.. math::

    x[n] = a\\, x[n-1] + (1 - a)\\, w[n], \\qquad a = e^{-dt/\\tau},

feeding the synapse with ``w[n] = A_H x[n-1] + B_H u[n]`` gives
``x[n] = (a I + (1-a) A_H) x[n-1] + (1-a) B_H u[n]``. Choosing

.. math::

    A_H = \\frac{\\bar A - a I}{1 - a}, \\qquad B_H = \\frac{\\bar B}{1 - a}

makes that exactly the discrete memory ``m[n] = Ā m[n-1] + B̄ u[n]``
(:func:`lmu.simulate_memory`). This module holds the mapping and a NumPy
simulation of the mapped loop; the nengo networks live in
:mod:`lmu.experiments.loihi` (nengo is imported only there).
"""

import numpy as np
import scipy.signal

from ._validation import check_dt, check_finite_array, check_theta
from .core import discretize, legendre_system

__all__ = [
    "lowpass_pole",
    "lowpass_mapping",
    "legendre_lowpass_mapping",
    "lowpass_filter",
    "simulate_mapped",
]


def lowpass_pole(tau, dt):
    """Pole ``a = exp(-dt / tau)`` of the discrete lowpass synapse.

    Parameters
    ----------
    tau : float
        Synaptic time constant, in seconds (> 0).
    dt : float
        Time step, in seconds (> 0).

    Returns
    -------
    float
    """
    tau = check_theta(tau, "tau")
    dt = check_dt(dt)
    return float(np.exp(-dt / tau))


def lowpass_mapping(Ad, Bd, tau, dt):
    """Discrete principle 3: realize ``(Ad, Bd)`` with a lowpass synapse.

    Parameters
    ----------
    Ad : array_like, shape (d, d)
        Discrete state matrix (e.g. from :func:`lmu.discretize` with the same ``dt``).
    Bd : array_like, shape (d, 1) or (d,)
        Discrete input matrix.
    tau : float
        Time constant of the lowpass synapse, in seconds (> 0).
    dt : float
        Time step of the simulation, in seconds (> 0); must be the step
        ``Ad`` and ``Bd`` were discretized with.

    Returns
    -------
    A_H : ndarray, shape (d, d)
        ``(Ad - a I) / (1 - a)``: transform of the recurrent connection.
    B_H : ndarray, shape (d, 1)
        ``Bd / (1 - a)``: transform of the input connection.

    Notes
    -----
    Both connections use the lowpass synapse ``tau``; the recurrent one sees
    the state of the previous step (see :func:`simulate_mapped`).
    """
    Ad = check_finite_array(Ad, "Ad", ndim=2)
    Bd = check_finite_array(Bd, "Bd", ndim=(1, 2))
    d = Ad.shape[0]
    if Ad.shape != (d, d):
        raise ValueError(f"Ad must be square, got shape {Ad.shape}")
    if Bd.size != d:
        raise ValueError(f"Bd must have shape ({d}, 1) to match Ad of shape {Ad.shape}")
    a = lowpass_pole(tau, dt)
    return (Ad - a * np.eye(d)) / (1 - a), Bd.reshape(d, 1) / (1 - a)


def legendre_lowpass_mapping(order, theta, tau, dt):
    """``lowpass_mapping`` of the zero-order-hold Legendre memory.

    Parameters
    ----------
    order : int
        Memory order ``d``.
    theta : float
        Window, in seconds.
    tau : float
        Synaptic time constant, in seconds.
    dt : float
        Time step, in seconds.

    Returns
    -------
    A_H : ndarray, shape (order, order)
    B_H : ndarray, shape (order, 1)
    """
    A, B = legendre_system(order, theta)
    Ad, Bd = discretize(A, B, dt=dt, method="zoh")
    return lowpass_mapping(Ad, Bd, tau, dt)


def lowpass_filter(x, tau, dt, axis=0):
    """Apply the discrete lowpass synapse ``y[n] = a y[n-1] + (1 - a) x[n]``.

    This is the form nengo uses for ``nengo.Lowpass(tau)`` (zero-order hold,
    no extra step of delay), starting from ``y[-1] = 0``.

    Parameters
    ----------
    x : array_like
        Signal; time runs along ``axis``.
    tau : float
        Time constant, in seconds (> 0).
    dt : float
        Time step, in seconds (> 0).
    axis : int, default 0
        Time axis.

    Returns
    -------
    ndarray, shape of ``x``
    """
    x = check_finite_array(x, "x")
    a = lowpass_pole(tau, dt)
    return scipy.signal.lfilter([1 - a], [1, -a], x, axis=axis)


def simulate_mapped(u, A_H, B_H, tau, dt):
    """Run the mapped system through the discrete lowpass synapse, step by step.

    ``x[n] = a x[n-1] + (1 - a) (A_H x[n-1] + B_H u[n])`` from ``x[-1] = 0``:
    what an ideal (noise-free) population with a lowpass recurrent synapse
    computes. With :func:`lowpass_mapping` it reproduces
    :func:`lmu.simulate_memory` up to round-off.

    Parameters
    ----------
    u : array_like, shape (T,)
        Input, one value per step.
    A_H : array_like, shape (d, d)
    B_H : array_like, shape (d, 1) or (d,)
    tau : float
        Synaptic time constant, in seconds.
    dt : float
        Time step, in seconds.

    Returns
    -------
    ndarray, shape (T, d)
        The synapse outputs ``x[n]`` (the represented state).
    """
    u = check_finite_array(u, "u", ndim=1)
    A_H = check_finite_array(A_H, "A_H", ndim=2)
    d = A_H.shape[0]
    B_H = check_finite_array(B_H, "B_H", ndim=(1, 2))
    if A_H.shape != (d, d) or B_H.size != d:
        raise ValueError(f"A_H must be (d, d) and B_H (d, 1); got {A_H.shape} and {B_H.shape}")
    B_H = B_H.reshape(d)
    a = lowpass_pole(tau, dt)
    x = np.zeros(d)
    out = np.empty((u.size, d))
    for n, un in enumerate(u):
        x = a * x + (1 - a) * (A_H @ x + B_H * un)
        out[n] = x
    return out
