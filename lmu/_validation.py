"""Argument checks shared by every public function of :mod:`lmu`.

Each helper raises a ``TypeError`` or ``ValueError`` whose message names the
argument, so that a user sees *which* input was wrong and why.
"""

import numbers

import numpy as np

__all__ = [
    "check_order",
    "check_theta",
    "check_dt",
    "check_method",
    "check_delays",
    "check_finite_array",
]

METHODS = ("zoh", "euler")


def check_order(order, name="order"):
    """Return ``order`` as an ``int`` >= 1, or raise."""
    if isinstance(order, bool) or not isinstance(order, numbers.Integral):
        if isinstance(order, numbers.Real) and float(order).is_integer():
            raise TypeError(
                f"{name} must be an integer, got {order!r} of type {type(order).__name__}"
            )
        raise TypeError(f"{name} must be an integer, got {order!r}")
    if order < 1:
        raise ValueError(f"{name} must be >= 1, got {order}")
    return int(order)


def _check_positive_finite(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_theta(theta, name="theta"):
    """Return ``theta`` as a finite ``float`` > 0, or raise."""
    return _check_positive_finite(theta, name)


def check_dt(dt, name="dt"):
    """Return ``dt`` as a finite ``float`` > 0, or raise."""
    return _check_positive_finite(dt, name)


def check_method(method, name="method"):
    """Return the lower-case discretization method, or raise."""
    if not isinstance(method, str):
        raise TypeError(f"{name} must be a string, one of {METHODS}, got {method!r}")
    m = method.lower()
    if m not in METHODS:
        raise ValueError(f"{name} must be one of {METHODS}, got {method!r}")
    return m


def check_finite_array(x, name, ndim=None):
    """Return ``x`` as a float64 array after checking rank and finiteness.

    Parameters
    ----------
    x : array_like
        The values.
    name : str
        The argument's name, used in error messages.
    ndim : int or tuple of int, optional
        The allowed ranks.
    """
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(
                f"{name} must have rank {' or '.join(map(str, allowed))}, "
                f"got shape {arr.shape}"
            )
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s)")
    return arr


def check_delays(delays, name="delays"):
    """Return delays (fractions of the window) as a 1-D array in [0, 1], or raise."""
    arr = check_finite_array(delays, name, ndim=(0, 1))
    arr = np.atleast_1d(arr)
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(
            f"{name} are fractions theta'/theta and must lie in [0, 1], "
            f"got values in [{arr.min():g}, {arr.max():g}]"
        )
    return arr
