"""The Legendre delay system in NumPy/SciPy.

Everything here is plain linear algebra; nothing imports TensorFlow. Time is
measured in the same unit as ``theta`` and ``dt`` (for the networks of the
paper both are in steps, ``dt = 1``).

The memory of the LMU (Voelker, Kajić & Eliasmith, 2019) is the linear system

.. math::

    \\theta \\dot m(t) = \\tilde A m(t) + \\tilde B u(t),

with :math:`A = \\tilde A / \\theta`, :math:`B = \\tilde B / \\theta` given by
:func:`legendre_system`. Its state :math:`m \\in \\mathbb{R}^d` holds the first
``d`` shifted-Legendre coefficients of the input's last ``theta`` time units;
:func:`legendre_decoders` reads a delayed input back out of it.
"""

import functools
import os
from math import factorial

import numpy as np
import scipy.linalg
import scipy.fft
import scipy.special

from ._validation import (
    check_delays,
    check_dt,
    check_finite_array,
    check_method,
    check_order,
    check_theta,
)

__all__ = [
    "legendre_system",
    "discretize",
    "legendre_decoders",
    "impulse_response",
    "simulate_memory",
    "delay_transfer",
    "pade_delay",
    "delay_error",
    "nrmse",
    "system_eigenvalues",
    "euler_max_stable_dt",
    "steady_state_nrmse",
]


def legendre_system(order, theta):
    """Continuous-time matrices of the Legendre delay system.

    Parameters
    ----------
    order : int
        Number of Legendre coefficients ``d`` kept in the memory (>= 1).
    theta : float
        Length of the sliding window, in the unit of time (> 0).

    Returns
    -------
    A : ndarray, shape (order, order)
        ``A[i, j] = (2i + 1) / theta * (-1 if i < j else (-1)**(i - j + 1))``.
    B : ndarray, shape (order, 1)
        ``B[i] = (2i + 1) * (-1)**i / theta``.

    Examples
    --------
    >>> A, B = legendre_system(2, theta=1.0)
    >>> A
    array([[-1., -1.],
           [ 3., -3.]])
    >>> B.ravel()
    array([ 1., -3.])
    """
    order = check_order(order)
    theta = check_theta(theta)
    i = np.arange(order)[:, None]
    j = np.arange(order)[None, :]
    scale = (2 * i + 1) / theta
    sign = np.where(i < j, -1.0, (-1.0) ** (i - j + 1))
    A = scale * sign
    B = (2 * np.arange(order) + 1) * (-1.0) ** np.arange(order) / theta
    return A, B[:, None]


def discretize(A, B, dt=1.0, method="zoh"):
    """Discretize the continuous system ``dm/dt = A m + B u`` with time step ``dt``.

    Parameters
    ----------
    A : array_like, shape (d, d)
        Continuous state matrix.
    B : array_like, shape (d, 1) or (d,)
        Continuous input matrix.
    dt : float, default 1.0
        Time step, in the unit of ``A``'s time (> 0).
    method : {"zoh", "euler"}
        ``"zoh"``: zero-order hold, ``Ad = expm(A dt)``,
        ``Bd = A^{-1} (Ad - I) B``, both from one block matrix exponential
        (so ``A`` need not be invertible). ``"euler"``: forward Euler,
        ``Ad = I + dt A``, ``Bd = dt B``.

    Returns
    -------
    Ad : ndarray, shape (d, d)
    Bd : ndarray, shape (d, 1)

    Notes
    -----
    The discrete memory is ``m[t] = Ad m[t-1] + Bd u[t]``.
    """
    A = check_finite_array(A, "A", ndim=2)
    B = check_finite_array(B, "B", ndim=(1, 2))
    dt = check_dt(dt)
    method = check_method(method)
    d = A.shape[0]
    if A.shape != (d, d):
        raise ValueError(f"A must be square, got shape {A.shape}")
    B = B.reshape(d, -1) if B.size == d else None
    if B is None or B.shape[1] != 1:
        raise ValueError(f"B must have shape ({d}, 1) to match A of shape {A.shape}")
    if method == "euler":
        return np.eye(d) + dt * A, dt * B
    block = np.zeros((d + 1, d + 1))
    block[:d, :d] = A * dt
    block[:d, d:] = B * dt
    expm = scipy.linalg.expm(block)
    return expm[:d, :d], expm[:d, d:]


def legendre_decoders(order, delays):
    """Shifted-Legendre readout of delays from the memory.

    ``u(t - r theta) ≈ legendre_decoders(order, [r]) @ m(t)``.

    Parameters
    ----------
    order : int
        Memory order ``d`` (>= 1).
    delays : float or array_like, shape (k,)
        Delays as fractions ``theta' / theta`` of the window, in [0, 1].

    Returns
    -------
    ndarray, shape (k, order)
        ``C[j, i] = P_i(2 r_j - 1)``, the shifted Legendre polynomial
        ``P~_i(r_j)``.
    """
    order = check_order(order)
    r = check_delays(delays)
    i = np.arange(order)
    return scipy.special.eval_legendre(i[None, :], 2 * r[:, None] - 1)


@functools.lru_cache(maxsize=64)
def _discrete_system(order, theta, dt, method):
    A, B = legendre_system(order, theta)
    Ad, Bd = discretize(A, B, dt=dt, method=method)
    Ad.setflags(write=False)
    Bd.setflags(write=False)
    return Ad, Bd


def impulse_response(Ad, Bd, steps):
    """Impulse response ``H[k] = Ad^k Bd`` of a discrete system.

    Computed by repeated doubling (about ``log2(steps)`` matrix products), not
    by a step-by-step loop.

    Parameters
    ----------
    Ad : array_like, shape (d, d)
    Bd : array_like, shape (d, 1) or (d,)
    steps : int
        Number of samples ``T`` (>= 1).

    Returns
    -------
    ndarray, shape (steps, d)
    """
    Ad = check_finite_array(Ad, "Ad", ndim=2)
    Bd = check_finite_array(Bd, "Bd", ndim=(1, 2)).reshape(-1)
    steps = check_order(steps, "steps")
    d = Ad.shape[0]
    if Ad.shape != (d, d) or Bd.shape != (d,):
        raise ValueError(f"Ad must be (d, d) and Bd (d, 1); got {Ad.shape} and {Bd.shape}")
    H = np.empty((steps, d))
    H[0] = Bd
    power = Ad.copy()  # Ad ** filled
    filled = 1
    with np.errstate(over="ignore", invalid="ignore"):
        while filled < steps:
            n = min(filled, steps - filled)
            H[filled : filled + n] = H[:n] @ power.T
            filled += n
            if filled < steps:
                power = power @ power
    return H


def _as_batch(u):
    """Return u as (batch, T) float64 and a function restoring the leading shape."""
    u = check_finite_array(u, "u", ndim=(1, 2, 3))
    if u.ndim == 3:
        if u.shape[-1] != 1:
            raise ValueError(
                f"u of rank 3 must have shape (batch, T, 1), got {u.shape}"
            )
        u = u[..., 0]
    if u.shape[-1] < 1:
        raise ValueError(f"u must have at least one time step, got shape {u.shape}")
    lead = u.shape[:-1]
    return u.reshape(-1, u.shape[-1]), lead


def _block_length(steps):
    """Block length ``L`` of :func:`_simulate_blocked`: a power of two near ``sqrt(steps)``.

    The method runs two Python loops, over the ``L`` steps of a block and over
    the ``steps / L`` blocks, so ``L ~ sqrt(steps)`` keeps both short.
    """
    return 1 << max(0, int(round(np.log2(steps) / 2)))


def _simulate_blocked(u2, Ad, Bd):
    """Exact step recursion over blocks of ``L`` steps, all blocks at once.

    With ``L`` a power of two, the state ``s_j`` just before block ``j`` obeys
    ``s_j = Ad^L s_{j-1} + sum_i Ad^(L-1-i) Bd u[(j-1)L + i]`` (a loop over the
    ``steps / L`` blocks, with one matrix–vector product each); then the
    ordinary recursion ``m[t] = Ad m[t-1] + Bd u[t]`` runs its ``L`` steps in
    every block simultaneously, starting from the ``s_j`` (``L`` products of a
    ``(blocks, d)`` matrix with ``Ad^T``). Every state is a short chain of
    products like the step-by-step loop's, so the round-off is of the same
    size; the cost is about ``2 steps d^2`` flops per sequence.

    Parameters
    ----------
    u2 : ndarray, shape (batch, T)
    Ad : ndarray, shape (d, d)
    Bd : ndarray, shape (d, 1)

    Returns
    -------
    ndarray, shape (batch, T, d)
        The states: a view of a ``(batch, blocks L, d)`` array (the last
        block padded with zero input), contiguous when ``batch == 1``.
    """
    batch, steps = u2.shape
    d = Ad.shape[0]
    L = _block_length(steps)
    blocks = -(-steps // L)
    Bd = Bd.reshape(-1)
    AdT = np.ascontiguousarray(Ad.T)
    U = np.zeros((batch, blocks * L))  # zero padding after the end changes no state
    U[:, :steps] = u2
    U = U.reshape(batch * blocks, L)
    H = impulse_response(Ad, Bd, L)  # H[k] = Ad^k Bd for k < L; Ad^L by squaring below
    power = Ad
    for _ in range(L.bit_length() - 1):
        power = power @ power
    powerT = np.ascontiguousarray(power.T)
    drive = (U @ H[::-1]).reshape(batch, blocks, d)  # input of block j, at its last step
    start = np.empty((blocks, batch, d))  # state before each block
    start[0] = 0.0
    for j in range(1, blocks):
        np.matmul(start[j - 1], powerT, out=start[j])
        start[j] += drive[:, j - 1]
    # the L steps of every block at once, in small contiguous buffers (fast
    # products), each step copied once into its place in the output
    out = np.empty((batch, blocks, L, d))
    steps_of = out.reshape(batch * blocks, L, d)
    prev = np.ascontiguousarray(start.transpose(1, 0, 2)).reshape(batch * blocks, d)
    cur = np.empty_like(prev)
    UT = np.ascontiguousarray(U.T)
    for i in range(L):
        np.matmul(prev, AdT, out=cur)
        cur += UT[i][:, None] * Bd
        steps_of[:, i] = cur
        prev, cur = cur, prev
    return out.reshape(batch, blocks * L, d)[:, :steps]


def _use_blocked(batch, steps, order, k, nfft, readout):
    """Whether :func:`_simulate_blocked` beats the FFT convolution for this size.

    A rough cost model in flop-equivalents, calibrated on this project's
    2-core machine: the blocked recursion costs ``batch steps d (2 (d + k') +
    40)`` (``k' = k`` with a readout, else 0; the 40 stands for the small
    matrix products' overhead per state value), the FFT method ``2 steps d^2``
    for the impulse response plus ``(batch + k + batch k)`` real transforms of
    length ``nfft``, each about ``7 nfft log2(nfft)``. For one sequence the
    blocked recursion costs about as much as the FFT method's impulse response
    alone, so it wins; for many sequences read out through a few columns (the
    capacity experiment) the FFT wins by far.
    """
    blocked = float(batch) * steps * order * (2.0 * (order + (k if readout else 0)) + 40.0)
    fft = 2.0 * steps * order * order + (batch + k + batch * k) * nfft * np.log2(nfft) * 7.0
    return blocked <= fft


def simulate_memory(
    u, order, theta, dt=1.0, method="zoh", readout=None, max_batch_bytes=2**29
):
    """Run the discrete Legendre memory over whole input sequences.

    Starts from ``m = 0`` and computes ``m[t] = Ad m[t-1] + Bd u[t]`` for every
    step. The system is linear and time-invariant, so this need not be a
    Python loop over the steps: the states are either the convolution of the
    input with the impulse response :func:`impulse_response`, computed with an
    FFT, or (for short inputs and small batches, where it is faster) the
    recursion itself run over blocks of about ``sqrt(T)`` steps, all blocks at
    once. The faster method for the size is chosen automatically; both are
    exact up to float64 round-off.

    Parameters
    ----------
    u : array_like, shape (T,), (batch, T) or (batch, T, 1)
        Input sequences, one scalar per step.
    order : int
        Memory order ``d``.
    theta : float
        Window length, in the unit of ``dt``.
    dt : float, default 1.0
        Time step.
    method : {"zoh", "euler"}
        Discretization, see :func:`discretize`.
    readout : array_like, shape (order, k), optional
        If given, return ``m[t] @ readout`` instead of ``m[t]`` (for example
        ``legendre_decoders(order, delays).T`` to decode delays). This never
        builds the full state array of all sequences at once, so very long
        inputs fit in memory.
    max_batch_bytes : int, optional
        Memory budget for the work of one group of sequences; sequences are
        processed in groups that fit in it.

    Returns
    -------
    ndarray, shape (T, order) or (batch, T, order)
        The memory states (``(..., T, k)`` with ``readout``). The leading
        shape follows ``u`` (a rank-3 ``u`` gives ``(batch, T, order)``).

    Raises
    ------
    ValueError
        For bad arguments, or if the discretized system is unstable (Euler
        with a too-large ``dt``) so that the states overflow.
    """
    order = check_order(order)
    theta = check_theta(theta)
    dt = check_dt(dt)
    method = check_method(method)
    u2, lead = _as_batch(u)
    batch, steps = u2.shape
    if readout is not None:
        readout = check_finite_array(readout, "readout", ndim=(1, 2))
        readout = readout.reshape(order, -1) if readout.shape[0] == order else None
        if readout is None:
            raise ValueError(f"readout must have shape ({order}, k)")
    k = order if readout is None else readout.shape[1]
    unstable = ValueError(
        f"the discretized memory is unstable (method={method!r}, dt={dt:g}, "
        f"theta={theta:g}, order={order}): its states overflow; use method='zoh' "
        "or a smaller dt"
    )
    Ad, Bd = _discrete_system(order, theta, dt, method)
    nfft = scipy.fft.next_fast_len(2 * steps - 1, real=True)
    if _use_blocked(batch, steps, order, k, nfft, readout is not None):
        with np.errstate(over="ignore", invalid="ignore"):
            if readout is None:
                out = _simulate_blocked(u2, Ad, Bd)
                if batch > 1 and not out.flags.c_contiguous:
                    out = np.ascontiguousarray(out)
            else:
                out = np.empty((batch, steps, k))
                group = max(1, int(max_batch_bytes // (2 * steps * order * 8)))
                for start in range(0, batch, group):
                    stop = min(batch, start + group)
                    m = _simulate_blocked(u2[start:stop], Ad, Bd)
                    np.matmul(m, readout, out=out[start:stop])
        # an unstable recursion overflows to inf (and inf - inf = nan)
        if not np.all(np.isfinite(out)):
            raise unstable
        return out.reshape(*lead, steps, k)
    out = np.empty((batch, steps, k))
    H = impulse_response(Ad, Bd, steps)
    if readout is not None:
        H = H @ readout
    if not np.all(np.isfinite(H)):
        raise unstable
    workers = os.cpu_count() or 1
    # FFTs along the last (contiguous) axis: time last, channels in the middle
    Hf = scipy.fft.rfft(H.T, n=nfft, axis=-1, workers=workers)  # (k, F)
    per_seq = (nfft // 2 + 1) * k * 16 * 2 + nfft * k * 8
    group = max(1, int(max_batch_bytes // max(per_seq, 1)))
    for start in range(0, batch, group):
        stop = min(batch, start + group)
        Uf = scipy.fft.rfft(u2[start:stop], n=nfft, axis=-1, workers=workers)  # (g, F)
        y = scipy.fft.irfft(Uf[:, None, :] * Hf[None], n=nfft, axis=-1, workers=workers)
        out[start:stop] = y[:, :, :steps].transpose(0, 2, 1)
    return out.reshape(*lead, steps, k)


def delay_transfer(order, delays, freqs, theta=1.0):
    """Frequency response of the memory's delay readout.

    Parameters
    ----------
    order : int
        Memory order ``d``.
    delays : float or array_like, shape (k,)
        Delays as fractions of the window, in [0, 1].
    freqs : float or array_like, shape (n,)
        Frequencies, in cycles per unit of time (Hz when time is in seconds).
    theta : float, default 1.0
        Window length.

    Returns
    -------
    ndarray of complex, shape (n, k)
        ``C (i w I - A)^{-1} B`` with ``w = 2 pi f``: the continuous memory's
        gain from the input to the decoded delayed input. An ideal delay would
        be ``exp(-i w r theta)``.
    """
    A, B = legendre_system(order, theta)
    C = legendre_decoders(order, delays)
    f = check_finite_array(freqs, "freqs", ndim=(0, 1))
    f = np.atleast_1d(f)
    eye = np.eye(A.shape[0])
    out = np.empty((f.size, C.shape[0]), dtype=complex)
    for n, fn in enumerate(f):
        x = np.linalg.solve(2j * np.pi * fn * eye - A, B.astype(complex))
        out[n] = (C @ x).ravel()
    return out


def pade_delay(order, s):
    """The ``[order-1 / order]`` Padé approximant of ``exp(-s)``.

    Parameters
    ----------
    order : int
        Denominator degree ``d`` (the numerator has degree ``d - 1``).
    s : complex or array_like
        Points of the Laplace variable, in units of the delay (``s = i w theta``).

    Returns
    -------
    ndarray of complex, shape of ``s``
    """
    order = check_order(order)
    s = np.asarray(s, dtype=complex)
    m, n = order - 1, order
    total = factorial(m + n)
    num = sum(
        factorial(m + n - k) * factorial(m) / (total * factorial(k) * factorial(m - k)) * (-s) ** k
        for k in range(m + 1)
    )
    den = sum(
        factorial(m + n - k) * factorial(n) / (total * factorial(k) * factorial(n - k)) * s**k
        for k in range(n + 1)
    )
    return num / den


def delay_error(order, theta_freq, delay=1.0):
    """Error of the order-``d`` memory's delay readout for a sinusoid.

    Parameters
    ----------
    order : int
        Memory order ``d``.
    theta_freq : float or array_like
        Window length times frequency, ``theta * f`` (cycles per window).
    delay : float, default 1.0
        The decoded delay as a fraction ``theta' / theta`` in [0, 1].

    Returns
    -------
    ndarray, shape of ``theta_freq``
        ``|H(i w) - exp(-i w theta')|``: the amplitude of the error of the
        decoded delayed sinusoid, relative to the sinusoid's amplitude. For
        ``delay = 1`` this is the error of the Padé approximant,
        e.g. 0.0070 (0.70%) at ``d = 6``, ``theta f = 1``.
    """
    tf = check_finite_array(theta_freq, "theta_freq", ndim=(0, 1, 2))
    if np.any(tf < 0):
        raise ValueError("theta_freq must be >= 0")
    r = float(check_delays(delay)[0]) if np.ndim(delay) == 0 else None
    if r is None:
        raise ValueError("delay must be a single fraction in [0, 1]")
    order = check_order(order)
    return np.abs(_delay_readout_error([order], r, tf.ravel())[0]).reshape(tf.shape)


def nrmse(estimate, target, axis=None):
    """Normalized root-mean-square error, ``RMS(estimate - target) / RMS(target)``.

    Parameters
    ----------
    estimate, target : array_like, same shape
    axis : int or tuple of int, optional
        Axes to reduce over (all by default).

    Returns
    -------
    float or ndarray
    """
    est = check_finite_array(estimate, "estimate")
    tgt = check_finite_array(target, "target")
    if est.shape != tgt.shape:
        raise ValueError(f"estimate and target shapes differ: {est.shape} vs {tgt.shape}")
    denom = np.sqrt(np.mean(tgt**2, axis=axis))
    if np.any(denom == 0):
        raise ValueError("target is zero everywhere: the NRMSE is undefined")
    return np.sqrt(np.mean((est - tgt) ** 2, axis=axis)) / denom


def system_eigenvalues(order, theta, dt=None, method="zoh"):
    """Eigenvalues of the Legendre delay system, continuous or discretized.

    Parameters
    ----------
    order : int
        Memory order ``d``.
    theta : float
        Window length, in the unit of time.
    dt : float, optional
        Time step. ``None`` (default) gives the eigenvalues of the continuous
        ``A`` (poles in the s-plane, units 1/time); otherwise those of the
        discrete ``Ad`` from :func:`discretize` (poles in the z-plane,
        dimensionless; the discrete memory is stable when all have modulus
        below 1).
    method : {"zoh", "euler"}
        Discretization, used only with ``dt``.

    Returns
    -------
    ndarray of complex, shape (order,)
        Sorted by real part, then imaginary part.
    """
    order = check_order(order)
    theta = check_theta(theta)
    if dt is None:
        M, _ = legendre_system(order, theta)
    else:
        M, _ = _discrete_system(order, theta, check_dt(dt), check_method(method))
    return np.sort_complex(np.linalg.eigvals(M))


def euler_max_stable_dt(order, theta):
    """Largest time step for which the Euler-discretized memory is stable.

    Euler maps each continuous eigenvalue ``lam`` of ``A`` to ``1 + dt lam``;
    the discrete system is stable when every ``|1 + dt lam| < 1``, that is
    ``dt < -2 Re(lam) / |lam|**2`` for every ``lam`` (all have ``Re < 0``).

    Parameters
    ----------
    order : int
        Memory order ``d``.
    theta : float
        Window length, in the unit of time.

    Returns
    -------
    float
        The bound on ``dt``, in the unit of ``theta`` (it scales with
        ``theta``). Euler is stable for ``dt`` strictly below it.
    """
    lam = system_eigenvalues(order, theta)
    if np.any(lam.real >= 0):
        raise ValueError("the continuous system has an eigenvalue with Re >= 0")
    return float(np.min(-2 * lam.real / np.abs(lam) ** 2))


def _readout_transfer(orders, readout, theta_freq):
    """Transfer functions ``readout[:d] @ (i w theta I - A~)^{-1} B~`` of several memories.

    Parameters
    ----------
    orders : sequence of int
        Memory orders ``d``, in decreasing order.
    readout : ndarray, shape (orders[0],)
        Readout weights of the states; the order-``d`` memory uses the
        first ``d`` (for a delay, ``P~_i(r)``, which does not depend on ``d``).
    theta_freq : ndarray, shape (n,)
        Frequencies times the window, ``theta f >= 0``.

    Returns
    -------
    ndarray of complex, shape (len(orders), n)

    Notes
    -----
    With ``g_i = s theta / (2i + 1)``, the rows of ``(s I - A) x = B`` reduce to
    the three-term recurrence ``g_i x_i + 2 x_{i+1} - g_{i+2} x_{i+2} = 0``
    (``i <= d - 3``), the last condition ``g_{d-2} x_{d-2} + (g_{d-1} + 2)
    x_{d-1} = 0`` and the first row ``(g_0 + 1) x_0 + sum_{j>0} x_j = 1``. The
    recurrence runs downwards from ``x_{d-1} = 1`` (the stable direction: the
    states decay with ``i``), for every order and frequency at once, while
    the readout and the normalising sum accumulate; it agrees with solving
    the linear systems (:func:`delay_transfer`) to about 1e-14.
    """
    nu = np.asarray(theta_freq, dtype=float)
    top = orders[0]
    n_orders = len(orders)
    zero = nu == 0
    s = 2j * np.pi * np.where(zero, 1.0, nu)
    inv = 1.0 / (2 * np.arange(top) + 1)  # g_i = s * inv[i]
    two_over_s = 2.0 / s
    shape = (n_orders, nu.size)
    x1 = np.zeros(shape, dtype=complex)  # x_{i+1}
    x2 = np.zeros(shape, dtype=complex)  # x_{i+2}
    total = np.zeros(shape, dtype=complex)  # sum_{j >= i} x_j
    out = np.zeros(shape, dtype=complex)  # sum_{j >= i} readout_j x_j
    for i in range(top - 1, -1, -1):
        new = np.zeros(shape, dtype=complex)
        inner = sum(1 for d in orders if d - 3 >= i)  # a prefix (decreasing orders)
        if inner:
            step = x1[:inner] * ((2 * i + 1) * two_over_s)
            np.subtract((inv[i + 2] / inv[i]) * x2[:inner], step, out=new[:inner])
        for o, d in enumerate(orders):
            if d - 2 == i:
                new[o] = -(s * inv[i + 1] + 2.0) / (s * inv[i]) * x1[o]
            elif d - 1 == i:
                new[o] = 1.0
        total += new
        out += readout[i] * new
        if i % 8 == 0:  # keep the growing (unnormalised) states finite
            size = np.abs(new)
            big = size > 1e100
            if big.any():
                for a in (new, x1, total, out):
                    a[big] /= size[big]
        x2, x1 = x1, new
    out /= s * inv[0] * x1 + total
    out[:, zero] = readout[0]  # at s = 0 the memory holds the constant: m = e_0
    return out


def _delay_readout_error(orders, delay, theta_freq):
    """``H_d(theta f) - exp(-2 pi i theta f r)``: the delay readout's error for several orders.

    Parameters
    ----------
    orders : sequence of int
        Memory orders ``d``, in decreasing order.
    delay : float
        The decoded delay ``r = theta' / theta`` in [0, 1].
    theta_freq : ndarray, shape (n,)
        Frequencies times the window, ``theta f >= 0``.

    Returns
    -------
    ndarray of complex, shape (len(orders), n)
        ``H_d`` as :func:`delay_transfer` (with ``theta = 1``), by
        :func:`_readout_transfer`.
    """
    readout = legendre_decoders(orders[0], [delay])[0]  # P~_i(r) does not depend on d
    ideal = np.exp(-2j * np.pi * theta_freq * delay)
    return _readout_transfer(orders, readout, theta_freq) - ideal


def steady_state_nrmse(u, orders, theta, dt=1.0, delay=1.0):
    """Steady-state NRMSE of the delay readout, from the input's spectrum.

    Treats ``u`` as one period of a periodic (stationary) input and the
    memory as the continuous system of :func:`legendre_system`, so no start-up
    transient enters: with the discrete Fourier transform ``U_k`` of ``u`` at
    the frequencies ``f_k = k / (T dt)``,

    ``NRMSE**2 = sum_k |U_k|**2 |H_d(f_k) - exp(-2 pi i f_k theta')|**2 / sum_k |U_k|**2``

    where ``H_d`` is the readout's transfer function (:func:`delay_transfer`)
    and ``theta' = delay * theta``. For a long stationary input this is the
    NRMSE that :func:`simulate_memory` gives once the window has filled; it
    costs one FFT and a recurrence over the states for all orders at once.

    Parameters
    ----------
    u : array_like, shape (T,)
        One period of the input, sampled every ``dt``.
    orders : int or sequence of int
        Memory orders ``d`` (each >= 1).
    theta : float
        Window length, in the unit of ``dt``.
    dt : float, default 1.0
        Sampling step.
    delay : float, default 1.0
        Decoded delay as a fraction ``theta' / theta`` in [0, 1].

    Returns
    -------
    float or ndarray, shape (len(orders),)
        The steady-state NRMSE of each order (a float for a single order).

    Raises
    ------
    ValueError
        For bad arguments, or an input that is zero everywhere.
    """
    u = check_finite_array(u, "u", ndim=1)
    single = np.ndim(orders) == 0
    orders = [check_order(d, "orders") for d in np.atleast_1d(orders)]
    theta = check_theta(theta)
    dt = check_dt(dt)
    r = check_delays(delay, "delay")
    if r.size != 1:
        raise ValueError("delay must be a single fraction in [0, 1]")
    r = float(r[0])
    steps = u.size
    U = np.fft.rfft(u)
    weight = np.full(U.size, 2.0)  # the negative frequencies mirror the positive ones
    weight[0] = 1.0
    if steps % 2 == 0:
        weight[-1] = 1.0
    power = weight * np.abs(U) ** 2
    total = power.sum()
    if total == 0:
        raise ValueError("u is zero everywhere: the NRMSE is undefined")
    # frequencies without power cannot contribute (error amplitudes are < 3)
    keep = np.nonzero(power > 1e-30 * total)[0]
    power = power[keep]
    nu = theta * keep / (steps * dt)  # theta * f_k
    unique = sorted(set(orders), reverse=True)
    error = _delay_readout_error(unique, r, nu)  # (orders, F)
    errors = np.sqrt((np.abs(error) ** 2 * power).sum(axis=1) / total)
    by_order = dict(zip(unique, errors))
    out = np.array([by_order[d] for d in orders])
    return float(out[0]) if single else out
